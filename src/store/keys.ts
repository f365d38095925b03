// Every Redis key Lopper's records use, and every object-store key of their files, in one place.
// The Lua scripts get the key names they derive (from a job's tenant and references) as templates
// made by these same functions, so a name is never spelled twice. They sit beside BullMQ's keys under the same
// prefix but apart from them, so BullMQ's removeOnComplete never takes a record with it.
// Records are global by id (ids are unguessable UUIDs) but every index and counter is per tenant,
// so a list or a quota never reads another tenant's entries.
export type CatalogKind = 'model' | 'dataset';

export function redisKeys(prefix: string) {
  const tenant = (t: string) => `${prefix}:t:${t}`;
  return {
    /** JSON record of one uploaded model or dataset. */
    record: (kind: CatalogKind, id: string) => `${prefix}:${kind}:${id}`,
    /** Sorted index of one tenant's models / datasets (members are sort keys, see paging.ts). */
    index: (t: string, kind: CatalogKind) => `${tenant(t)}:${kind}s`,
    /** Ids of the queued/active jobs that use a model or dataset: deleting it is refused while non-empty. */
    users: (kind: CatalogKind, id: string) => `${prefix}:${kind}:${id}:jobs`,
    /** Hash holding one job record. */
    job: (id: string) => `${prefix}:job:${id}`,
    /** Sorted index of one tenant's jobs, and one per state. */
    jobs: (t: string) => `${tenant(t)}:jobs`,
    jobsIn: (t: string, state: string) => `${tenant(t)}:jobs:${state}`,
    /** Idempotency-Key → {request hash, job id}; the hash covers the tenant too. */
    idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
    /** A tenant's stored bytes and record counts, and its quota overrides. */
    usage: (t: string) => `${tenant(t)}:usage`,
    quota: (t: string) => `${tenant(t)}:quota`,
    /** API keys: one hash each (the secret only as a hash), an index by creation time, and the
     * flag that says keys were ever created (from then on the service never runs open). */
    apiKey: (id: string) => `${prefix}:apikey:${id}`,
    apiKeys: `${prefix}:apikeys`,
    authEnabled: `${prefix}:auth:enabled`,
    /** Rate-limit counters (@fastify/rate-limit's Redis store appends the key id). */
    rateLimit: `${prefix}:ratelimit:`,
    /** Workers by last heartbeat, and each worker's self-description. */
    workers: `${prefix}:workers`,
    worker: (id: string) => `${prefix}:worker:${id}`,
    // Webhooks (src/webhooks/store.ts).
    /** A tenant's webhook signing secret. */
    webhookSecret: (t: string) => `${tenant(t)}:webhook-secret`,
    /** Hash of a tenant's registered webhook endpoints: endpoint id → JSON record. */
    webhookEndpoints: (t: string) => `${tenant(t)}:webhooks`,
    /** List of a job's webhook delivery attempts, oldest first. */
    deliveries: (jobId: string) => `${prefix}:job:${jobId}:deliveries`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** A Redis key with `{name}` placeholders that a Lua script fills in (string.gsub, see jobs.ts). */
export const template = <A extends string[]>(key: (...args: A) => string, ...placeholders: A) => key(...placeholders);

export type StoredKind = CatalogKind | 'job';

/** Object-store keys (Storage): each record's files under one folder, deleted with it. */
export const storageKeys = {
  folder: (kind: StoredKind, id: string) => `${kind}s/${id}`,
  file: (kind: StoredKind, id: string, name: string) => `${kind}s/${id}/${name}`,
  /** The one file of a dataset. */
  dataset: (id: string) => `datasets/${id}/data.npz`,
};
