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
