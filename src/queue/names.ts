// Names shared by the API (producer) and the workers (consumers). Every key lives under the
// configured prefix, so several Lopper installations (or test runs) can share one Redis.

/** The pruning queue: a job prunes one model. */
export const QUEUE_NAME = 'prune';

/** The webhook queue (src/webhooks/queue.ts): its jobs fan events out and deliver them. */
export const WEBHOOK_QUEUE = 'webhooks';

/** BullMQ's own keys sit under `<prefix>:bull:prune:*`, apart from Lopper's records. */
export const bullPrefix = (prefix: string) => `${prefix}:bull`;

/** Pub/sub channel on which the API asks whichever worker holds a job to abort it. */
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;

/** The abort reasons a processor tells apart: a user's cancel ends the job, a shutdown requeues it. */
export const ABORT_CANCELLED = 'cancelled';
export const ABORT_SHUTDOWN = 'shutdown';
