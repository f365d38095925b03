// Per-tenant quotas and usage. Defaults come from the configuration (QUOTA_*); an admin may
// override any of them per tenant. Usage counters move inside the same Lua scripts that create and
// delete records (catalog.ts, jobs.ts), so a quota check and the write it guards are one step.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export const QUOTA_NAMES = ['storedBytes', 'models', 'datasets', 'jobs'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
/** storedBytes: models + datasets; jobs: queued + active at once. */
export type Quota = Record<QuotaName, number>;

export class TenantStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly defaults: Quota,
  ) {}

  /** The tenant's overrides only. */
  async overrides(tenant: string): Promise<Partial<Quota>> {
    const raw = await this.redis.hgetall(this.keys.quota(tenant));
    return Object.fromEntries(QUOTA_NAMES.filter((n) => raw[n] !== undefined).map((n) => [n, Number(raw[n])]));
  }

  /** The quota in force: the tenant's overrides over the defaults. */
  async quota(tenant: string): Promise<Quota> {
    return { ...this.defaults, ...(await this.overrides(tenant)) };
  }

  /** Sets (a number) or clears (null: back to the default) each given override. */
  async setQuota(tenant: string, patch: Partial<Record<QuotaName, number | null>>): Promise<void> {
    const multi = this.redis.multi();
    for (const n of QUOTA_NAMES) {
      const v = patch[n];
      if (v === null) multi.hdel(this.keys.quota(tenant), n);
      else if (v !== undefined) multi.hset(this.keys.quota(tenant), n, String(v));
    }
    await multi.exec();
  }

  async usage(tenant: string): Promise<Quota> {
    const [[, counters], [, queued], [, active]] = (await this.redis
      .multi()
      .hgetall(this.keys.usage(tenant))
      .zcard(this.keys.jobsIn(tenant, 'queued'))
      .zcard(this.keys.jobsIn(tenant, 'active'))
      .exec()) as [[null, Record<string, string>], [null, number], [null, number]];
    return {
      storedBytes: Number(counters.bytes ?? 0),
      models: Number(counters.models ?? 0),
      datasets: Number(counters.datasets ?? 0),
      jobs: queued + active,
    };
  }
}
