// Redis connections. BullMQ workers need maxRetriesPerRequest: null (a blocking connection must
// wait out Redis restarts rather than fail); the API gives up after a few reconnection attempts
// so a request answers with an error instead of hanging while Redis is away.
import type { Logger } from 'pino';
import { Redis } from 'ioredis';

export type RedisRole = 'api' | 'worker';

export function createRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    connectTimeout: 5_000,
    lazyConnect: false,
  });
}

/** Resolves when `redis` answers PING within `timeoutMs`, else rejects. */
export async function pingRedis(redis: Redis, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an error means Redis could not be reached (as opposed to a bad command or a bug). */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string } | null;
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(e.code ?? '')) return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue options is false/.test(e.message ?? '');
}

/**
 * A BullMQ object emits its connection's errors; with no listener, that emit throws inside BullMQ's
 * own connection setup and ends as an unhandled rejection (seen when a process closes while the
 * setup's version check is still in flight), so every one gets a listener.
 */
/**
 * Options for a BullMQ Queue on a connection Lopper shares and closes itself (the API's, a
 * worker's). BullMQ's setup of such a connection checks the Redis version with an INFO command;
 * when the process closes the connection while that command is still in flight (a short-lived app,
 * a fast shutdown), its rejection escapes BullMQ unhandled, whatever listeners are attached. The
 * workers' own BullMQ Worker and QueueEvents connections still check the version.
 */
export const SHARED_QUEUE_OPTIONS = { skipVersionCheck: true } as const;

export function logErrors<T extends { on(event: 'error', listener: (err: Error) => void): unknown }>(
  emitter: T,
  log: Pick<Logger, 'warn'>,
  what: string,
): T {
  emitter.on('error', (err) => log.warn({ err: err.message }, `${what} error`));
  return emitter;
}
