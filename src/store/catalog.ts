// Records of uploaded models and datasets in Redis: immutable JSON documents plus a sorted index.
// Deletion is one Lua script so "in use by a queued/active job" is checked and acted on atomically
// against job creation (jobs.ts registers itself in the same `users` set inside its own script).
import type { Redis } from 'ioredis';
import type { DatasetSummary, ModelSummary } from '../inspect.js';
import type { CatalogKind, RedisKeys } from './keys.js';
import { pageNewestFirst, sortKey } from './paging.js';

export interface FileRecord {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ModelRecord extends ModelSummary {
  id: string;
  name: string;
  createdAt: string;
  files: FileRecord[];
}

export interface DatasetRecord extends DatasetSummary {
  id: string;
  name: string;
  createdAt: string;
  bytes: number;
  sha256: string;
}

// KEYS: record, users set, index. ARGV: index member. → 1 deleted, 0 in use, -1 missing.
const DELETE_UNUSED = `
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return -1 end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`;

export type DeleteOutcome = 'deleted' | 'in-use' | 'missing';

export class Catalog<T extends { id: string; createdAt: string }> {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly kind: CatalogKind,
  ) {}

  async create(record: T): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.record(this.kind, record.id), JSON.stringify(record))
      .zadd(this.keys.index(this.kind), 0, sortKey(Date.parse(record.createdAt), record.id))
      .exec();
  }

  async get(id: string): Promise<T | null> {
    const raw = await this.redis.get(this.keys.record(this.kind, id));
    return raw ? (JSON.parse(raw) as T) : null;
  }

  async list(limit: number, cursor?: string): Promise<{ items: T[]; nextCursor: string | null }> {
    const page = await pageNewestFirst(this.redis, this.keys.index(this.kind), limit, cursor);
    if (page.ids.length === 0) return { items: [], nextCursor: null };
    const raws = await this.redis.mget(page.ids.map((id) => this.keys.record(this.kind, id)));
    // A record deleted between the two reads is simply skipped.
    const items = raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as T);
    return { items, nextCursor: page.nextCursor };
  }

  /** Deletes the record unless a queued or active job uses it. The caller then deletes the files. */
  async remove(record: T): Promise<DeleteOutcome> {
    const k = this.keys;
    const member = sortKey(Date.parse(record.createdAt), record.id);
    const n = (await this.redis.eval(
      DELETE_UNUSED,
      3,
      k.record(this.kind, record.id),
      k.users(this.kind, record.id),
      k.index(this.kind),
      member,
    )) as number;
    return n === 1 ? 'deleted' : n === 0 ? 'in-use' : 'missing';
  }
}
