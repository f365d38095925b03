// Webhook state in Redis: each tenant's signing secret and registered endpoints, and each job's
// delivery log (what was sent where, when, and how the receiver answered), which the API shows on
// the job. The log is bounded per job and, like the job record itself, does not expire.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { EndpointLimitError } from '../errors.js';
import type { RedisKeys } from '../store/keys.js';
import { TERMINAL_EVENTS, type WebhookEventType } from './events.js';

export const MAX_ENDPOINTS = 20;
/** Attempts kept per job: enough for every retry of several targets, not a record of a loop gone wrong. */
export const MAX_LOG_ENTRIES = 500;

export interface EndpointRecord {
  id: string;
  url: string;
  events: WebhookEventType[];
  createdAt: string;
}

export interface DeliveryAttempt {
  /** The same for every attempt of one delivery (the Lopper-Delivery header). */
  deliveryId: string;
  event: WebhookEventType;
  url: string;
  /** 1 for the first try. */
  attempt: number;
  at: string;
  ok: boolean;
  status: number | null;
  ms: number;
  error?: string;
}

// KEYS: endpoints hash. ARGV: id, record, limit. → 1 added, 0 at the limit.
const ADD_BOUNDED = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export class WebhookStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  // The secret is stored in the clear: HMAC signing needs the secret itself, a hash would not do.
  // It is returned to the caller only when made, so the API can show it once.

  /** Replaces the tenant's secret with a new one and returns it; deliveries sign with it from now on. */
  async rotateSecret(tenant: string): Promise<string> {
    const secret = newSecret();
    await this.redis.set(this.keys.webhookSecret(tenant), secret);
    return secret;
  }

  /** Creates a secret if the tenant has none; `secret` is the new one, or null if one existed. */
  async ensureSecret(tenant: string): Promise<{ secret: string | null; created: boolean }> {
    const secret = newSecret();
    const created = (await this.redis.set(this.keys.webhookSecret(tenant), secret, 'NX')) === 'OK';
    return { secret: created ? secret : null, created };
  }

  async secret(tenant: string): Promise<string | null> {
    return this.redis.get(this.keys.webhookSecret(tenant));
  }

  /** Registers an endpoint; `url` must already have passed parseTarget and TargetPolicy.check. */
  async addEndpoint(tenant: string, input: { url: string; events?: readonly WebhookEventType[] }): Promise<EndpointRecord> {
    const events = [...new Set(input.events?.length ? input.events : TERMINAL_EVENTS)];
    const record: EndpointRecord = { id: randomUUID(), url: input.url, events, createdAt: new Date().toISOString() };
    const added = await this.redis.eval(
      ADD_BOUNDED,
      1,
      this.keys.webhookEndpoints(tenant),
      record.id,
      JSON.stringify(record),
      MAX_ENDPOINTS,
    );
    if (added !== 1) throw new EndpointLimitError(MAX_ENDPOINTS);
    return record;
  }

  /** The tenant's endpoints, oldest first. */
  async listEndpoints(tenant: string): Promise<EndpointRecord[]> {
    const all = Object.values(await this.redis.hgetall(this.keys.webhookEndpoints(tenant))).map((r) => JSON.parse(r) as EndpointRecord);
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async removeEndpoint(tenant: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.webhookEndpoints(tenant), id)) === 1;
  }

  async logAttempt(jobId: string, entry: DeliveryAttempt): Promise<void> {
    const key = this.keys.deliveries(jobId);
    await this.redis.multi().rpush(key, JSON.stringify(entry)).ltrim(key, -MAX_LOG_ENTRIES, -1).exec();
  }

  /** The job's delivery attempts, oldest first. */
  async deliveries(jobId: string): Promise<DeliveryAttempt[]> {
    return (await this.redis.lrange(this.keys.deliveries(jobId), 0, -1)).map((e) => JSON.parse(e) as DeliveryAttempt);
  }
}
