// Records of uploaded models and datasets in Redis: immutable JSON documents plus a per-tenant
// sorted index. Creation and deletion are Lua scripts: creation checks the tenant's quota and
// moves its usage counters in the same step; deletion checks "in use by a queued/active job"
// atomically against job creation (jobs.ts registers itself in the same `users` set).
import type { Redis } from 'ioredis';
import type { DatasetSummary, ModelSummary } from '../inspect.js';
import type { CatalogKind, RedisKeys } from './keys.js';
import { pageNewestFirst, sortKey } from './paging.js';
import type { Quota } from './tenants.js';

export interface FileRecord {
  name: string;
  bytes: number;
  sha256: string;
}

interface Owned {
  id: string;
  tenant: string;
  name: string;
  createdAt: string;
}

export interface ModelRecord extends ModelSummary, Owned {
  files: FileRecord[];
}

export interface DatasetRecord extends DatasetSummary, Owned {
  bytes: number;
  sha256: string;
}

// KEYS: record, index, usage. ARGV: JSON, index member, bytes, count field, max count, max bytes.
// → 'ok', or the quota that would be exceeded ('count' or 'bytes'); nothing is written then.
const CREATE = `
local n = tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0')
if n + 1 > tonumber(ARGV[5]) then return 'count' end
local b = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
if b + tonumber(ARGV[3]) > tonumber(ARGV[6]) then return 'bytes' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
redis.call('HINCRBY', KEYS[3], 'bytes', ARGV[3])
return 'ok'`;

// KEYS: record, users set, index, usage. ARGV: index member, bytes, count field.
// → 1 deleted, 0 in use, -1 missing.
const DELETE_UNUSED = `
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return -1 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[3], -1)
redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(ARGV[2]))
return 1`;

export type CreateOutcome = 'ok' | 'count' | 'bytes';
export type DeleteOutcome = 'deleted' | 'in-use' | 'missing';

/** Bytes a record holds in the store (what the storedBytes quota counts). */
export function storedBytes(record: ModelRecord | DatasetRecord): number {
  return 'files' in record ? record.files.reduce((s, f) => s + f.bytes, 0) : record.bytes;
}

export class Catalog<T extends ModelRecord | DatasetRecord> {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly kind: CatalogKind,
  ) {}

  private get countField(): 'models' | 'datasets' {
    return this.kind === 'model' ? 'models' : 'datasets';
  }

  /** Stores `record` unless it would take its tenant past `quota`. */
  async create(record: T, quota: Quota): Promise<CreateOutcome> {
    const k = this.keys;
    return (await this.redis.eval(
      CREATE,
      3,
      k.record(this.kind, record.id),
      k.index(record.tenant, this.kind),
      k.usage(record.tenant),
      JSON.stringify(record),
      sortKey(Date.parse(record.createdAt), record.id),
      storedBytes(record),
      this.countField,
      quota[this.countField],
      quota.storedBytes,
    )) as CreateOutcome;
  }

  /** Record `id` if it belongs to `tenant`; another tenant's record is as absent as a missing one. */
  async get(id: string, tenant: string): Promise<T | null> {
    const raw = await this.redis.get(this.keys.record(this.kind, id));
    const record = raw ? (JSON.parse(raw) as T) : null;
    return record && record.tenant === tenant ? record : null;
  }

  async list(tenant: string, limit: number, cursor?: string): Promise<{ items: T[]; nextCursor: string | null }> {
    const page = await pageNewestFirst(this.redis, this.keys.index(tenant, this.kind), limit, cursor);
    if (page.ids.length === 0) return { items: [], nextCursor: null };
    const raws = await this.redis.mget(page.ids.map((id) => this.keys.record(this.kind, id)));
    // A record deleted between the two reads is simply skipped.
    const items = raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as T);
    return { items, nextCursor: page.nextCursor };
  }

  /** Deletes the record unless a queued or active job uses it. The caller then deletes the files. */
  async remove(record: T): Promise<DeleteOutcome> {
    const k = this.keys;
    const n = (await this.redis.eval(
      DELETE_UNUSED,
      4,
      k.record(this.kind, record.id),
      k.users(this.kind, record.id),
      k.index(record.tenant, this.kind),
      k.usage(record.tenant),
      sortKey(Date.parse(record.createdAt), record.id),
      storedBytes(record),
      this.countField,
    )) as number;
    return n === 1 ? 'deleted' : n === 0 ? 'in-use' : 'missing';
  }
}
