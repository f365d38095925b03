// Idempotency-Key for POST /v1/jobs (draft-ietf-httpapi-idempotency-key-header), per tenant (two
// tenants may pick the same key without meeting): the first request with a key claims it atomically (SET NX) together with a hash of its body; a repeat with the same
// body gets the same job, a repeat with another body is refused. Keys expire after a day.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

const TTL_SECONDS = 24 * 3600;

export type Claim = { kind: 'new' } | { kind: 'repeat'; jobId: string } | { kind: 'mismatch' };

export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  private key(tenant: string, idempotencyKey: string): string {
    return this.keys.idempotency(createHash('sha256').update(`${tenant}\n${idempotencyKey}`).digest('hex'));
  }

  /** Claims `idempotencyKey` for a new job `jobId` with body hash `bodyHash`, or reports the earlier claim. */
  async claim(tenant: string, idempotencyKey: string, bodyHash: string, jobId: string): Promise<Claim> {
    const key = this.key(tenant, idempotencyKey);
    const value = JSON.stringify({ bodyHash, jobId });
    if ((await this.redis.set(key, value, 'EX', TTL_SECONDS, 'NX')) === 'OK') return { kind: 'new' };
    const earlier = await this.redis.get(key);
    if (!earlier) return this.claim(tenant, idempotencyKey, bodyHash, jobId); // expired in between
    const parsed = JSON.parse(earlier) as { bodyHash: string; jobId: string };
    return parsed.bodyHash === bodyHash ? { kind: 'repeat', jobId: parsed.jobId } : { kind: 'mismatch' };
  }

  /** Frees a claim whose job could not be created, so a retry with the same key can succeed. */
  async release(tenant: string, idempotencyKey: string): Promise<void> {
    await this.redis.del(this.key(tenant, idempotencyKey));
  }
}

/** Hash of a JSON value independent of key order, so {"a":1,"b":2} and {"b":2,"a":1} match. */
export function hashBody(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}
