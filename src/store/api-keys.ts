// API keys in Redis. A key is `lop_<id>_<secret>`: the id finds the record, the secret is never
// stored, only its SHA-256 (the secret is 256 random bits, so a fast hash is enough: there is
// nothing to brute-force). Revoking deletes the record, so the next request with it is refused.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisKeys } from './keys.js';

/** `write` includes `read`; `admin` includes both and manages keys and tenants. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const tenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "_" and "-", at most 63, starting with a letter or digit');

/** The tenant of the bootstrap API_KEY and of every request while the service runs open. */
export const DEFAULT_TENANT = 'default';

export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  const rank = (s: Scope) => SCOPES.indexOf(s);
  return scopes.some((s) => rank(s) >= rank(needed));
}

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  scopes: Scope[];
  name: string | null;
  createdAt: string;
}

const KEY = /^lop_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

export class ApiKeyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** A new key; the returned `key` is the only time the secret exists outside the caller. */
  async create(tenant: string, scopes: Scope[], name: string | null = null, now = new Date()): Promise<ApiKeyRecord & { key: string }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = { id, tenant, scopes: [...new Set(scopes)], name, createdAt: now.toISOString() };
    await this.redis
      .multi()
      .hset(this.keys.apiKey(id), { record: JSON.stringify(record), hash: digest(secret).toString('hex') })
      .zadd(this.keys.apiKeys, now.getTime(), id)
      .set(this.keys.authEnabled, '1')
      .exec();
    return { ...record, key: `lop_${id}_${secret}` };
  }

  /** The key's record when `key` is a live key, else null. */
  async verify(key: string): Promise<ApiKeyRecord | null> {
    const m = KEY.exec(key);
    if (!m) return null;
    const [record, hash] = await this.redis.hmget(this.keys.apiKey(m[1]), 'record', 'hash');
    if (!record || !hash) return null;
    const expected = Buffer.from(hash, 'hex');
    const given = digest(m[2]);
    return expected.length === given.length && timingSafeEqual(expected, given) ? (JSON.parse(record) as ApiKeyRecord) : null;
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    const raw = await this.redis.hget(this.keys.apiKey(id), 'record');
    return raw ? (JSON.parse(raw) as ApiKeyRecord) : null;
  }

  /** Every key (newest first), or one tenant's. */
  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.apiKeys, 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.apiKey(id), 'record');
    const raws = ((await pipe.exec()) ?? []).map(([, v]) => v as string | null);
    return raws
      .filter((r): r is string => r !== null)
      .map((r) => JSON.parse(r) as ApiKeyRecord)
      .filter((r) => tenant === undefined || r.tenant === tenant);
  }

  /** Deletes key `id`; false when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    const [[, deleted]] = (await this.redis.multi().del(this.keys.apiKey(id)).zrem(this.keys.apiKeys, id).exec()) as [[null, number]];
    return deleted === 1;
  }

  /** Whether keys were ever created here: from then on a request without one is refused. */
  async enabled(): Promise<boolean> {
    return (await this.redis.exists(this.keys.authEnabled)) === 1;
  }
}
