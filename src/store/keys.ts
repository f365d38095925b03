// Every Redis key Lopper's records use, in one place. They sit beside BullMQ's keys under the same
// prefix but apart from them, so BullMQ's removeOnComplete never takes a record with it.
export type CatalogKind = 'model' | 'dataset';

export function redisKeys(prefix: string) {
  return {
    /** JSON record of one uploaded model or dataset. */
    record: (kind: CatalogKind, id: string) => `${prefix}:${kind}:${id}`,
    /** Sorted index of all models / datasets (members are sort keys, see paging.ts). */
    index: (kind: CatalogKind) => `${prefix}:${kind}s`,
    /** Ids of the queued/active jobs that use a model or dataset: deleting it is refused while non-empty. */
    users: (kind: CatalogKind, id: string) => `${prefix}:${kind}:${id}:jobs`,
    /** Hash holding one job record. */
    job: (id: string) => `${prefix}:job:${id}`,
    /** Sorted index of all jobs, and one per state. */
    jobs: `${prefix}:jobs`,
    jobsIn: (state: string) => `${prefix}:jobs:${state}`,
    /** Idempotency-Key → {request hash, job id}. */
    idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
    /** Workers by last heartbeat, and each worker's self-description. */
    workers: `${prefix}:workers`,
    worker: (id: string) => `${prefix}:worker:${id}`,
    // Webhooks (src/webhooks/store.ts).
    /** A tenant's webhook signing secret. */
    webhookSecret: (tenant: string) => `${prefix}:tenant:${tenant}:webhook-secret`,
    /** Hash of a tenant's registered webhook endpoints: endpoint id → JSON record. */
    webhookEndpoints: (tenant: string) => `${prefix}:tenant:${tenant}:webhooks`,
    /** List of a job's webhook delivery attempts, oldest first. */
    deliveries: (jobId: string) => `${prefix}:job:${jobId}:deliveries`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
