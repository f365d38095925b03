// Worker heartbeats: each worker refreshes its entry every few seconds; /readyz lists those seen
// within the last minute. A sorted set by last-seen time makes "seen recently" one range query.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export const HEARTBEAT_MS = 10_000;
export const SEEN_WINDOW_MS = 60_000;

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  backend: string;
  device: string;
  startedAt: string;
  seenAt: string;
  /** The job it is processing, if any, and when that job last made progress. */
  jobId: string | null;
  progressAt: string | null;
}

export class WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async beat(info: Omit<WorkerInfo, 'seenAt'>, now = Date.now()): Promise<void> {
    const entry: WorkerInfo = { ...info, seenAt: new Date(now).toISOString() };
    await this.redis
      .multi()
      .set(this.keys.worker(info.id), JSON.stringify(entry), 'PX', SEEN_WINDOW_MS * 2)
      .zadd(this.keys.workers, now, info.id)
      // Forget workers gone for a day, so the index does not grow with every restart.
      .zremrangebyscore(this.keys.workers, '-inf', now - 24 * 3600_000)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.multi().del(this.keys.worker(id)).zrem(this.keys.workers, id).exec();
  }

  async seen(now = Date.now()): Promise<WorkerInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.workers, now - SEEN_WINDOW_MS, '+inf');
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as WorkerInfo);
  }
}
