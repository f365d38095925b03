// Redis connections. BullMQ workers need maxRetriesPerRequest: null (a blocking connection must
// wait out Redis restarts rather than fail); the API gives up after a few reconnection attempts
// so a request answers with an error instead of hanging while Redis is away.
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
