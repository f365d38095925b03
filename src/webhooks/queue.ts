// Webhook delivery through its own BullMQ queue, so a slow or failing receiver never holds up a
// pruning job, and retries with exponential backoff survive a worker restart. Two job kinds:
//   fanout  — one per event (deterministic id, so emitting an event twice delivers it once):
//             finds the targets subscribed to it and adds one deliver job per target;
//   deliver — one per event and target: POSTs the body fixed at fan-out, signed at send time with
//             the tenant's current secret, the target judged again; every attempt is logged on
//             the job, a failure is thrown so BullMQ retries, a refused target is not retried.
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { logErrors, SHARED_QUEUE_OPTIONS } from '../queue/connection.js';
import type { Config } from '../config.js';
import { createRedis } from '../queue/connection.js';
import { bullPrefix, WEBHOOK_QUEUE } from '../queue/names.js';
import { redisKeys } from '../store/keys.js';
import { postEvent, type DeliveryResult } from './deliver.js';
import { eventBody, TERMINAL_EVENTS, type WebhookEvent, type WebhookEventType } from './events.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './signature.js';
import { WebhookStore } from './store.js';
import { TargetError } from '../errors.js';
import { parseTarget, TargetPolicy } from './targets.js';

type WebhookConfig = Pick<Config, 'prefix' | 'webhookAttempts' | 'webhookBackoffMs'>;

interface FanoutData extends WebhookEvent {
  createdAt: string;
}

interface DeliverData {
  tenant: string;
  jobId: string;
  type: WebhookEventType;
  deliveryId: string;
  url: string;
  body: string;
}

type WebhookJobName = 'fanout' | 'deliver';
type WebhookQueue = Queue<FanoutData | DeliverData, void, WebhookJobName>;

const DAY_S = 24 * 3600;

function jobOptions(config: WebhookConfig, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: config.webhookAttempts,
    backoff: { type: 'exponential', delay: config.webhookBackoffMs },
    // Finished jobs are kept a while because their ids are what makes a repeated event a no-op.
    removeOnComplete: { age: DAY_S, count: 10_000 },
    removeOnFail: { age: 7 * DAY_S, count: 10_000 },
  };
}

/** The event's fan-out job id (BullMQ ids must not contain ':'; job ids and event types do not). */
const eventId = (e: WebhookEvent) => [e.jobId, e.type, ...(e.epoch !== undefined ? [e.epoch] : [])].join('.');

function webhookQueue(connection: Redis, config: WebhookConfig, log: Pick<Logger, 'warn'>): WebhookQueue {
  return logErrors(
    new Queue(WEBHOOK_QUEUE, { connection, prefix: bullPrefix(config.prefix), ...SHARED_QUEUE_OPTIONS }),
    log,
    'webhook queue',
  );
}

/** The producer side, for the API and the pruning workers. */
export class WebhookEmitter {
  private readonly queue: WebhookQueue;

  constructor(
    connection: Redis,
    private readonly config: WebhookConfig,
    log: Pick<Logger, 'warn'>,
  ) {
    this.queue = webhookQueue(connection, config, log);
  }

  /** Queues the event's delivery to every subscribed target; a repeat of the same event is dropped. */
  async emit(event: WebhookEvent): Promise<void> {
    const data: FanoutData = { ...event, createdAt: new Date().toISOString() };
    await this.queue.add('fanout', data, jobOptions(this.config, eventId(event)));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export function startWebhookWorker(opts: { config: Config; connection?: Redis; log: Logger }): { close(): Promise<void> } {
  const { config, log } = opts;
  const connection = opts.connection ?? createRedis(config.redisUrl, 'worker');
  const store = new WebhookStore(connection, redisKeys(config.prefix));
  const policy = new TargetPolicy(config.webhookAllowCidrs);
  const queue = webhookQueue(connection, config, log);

  async function fanout(job: Job<FanoutData>): Promise<void> {
    const e = job.data;
    const targets: { key: string; url: string }[] = [];
    if (e.callbackUrl && (e.callbackEvents ?? TERMINAL_EVENTS).includes(e.type)) targets.push({ key: 'callback', url: e.callbackUrl });
    for (const endpoint of await store.listEndpoints(e.tenant)) {
      if (endpoint.events.includes(e.type)) targets.push({ key: endpoint.id, url: endpoint.url });
    }
    // Ids derived from the event and the target: a fan-out retried halfway adds nothing twice.
    await queue.addBulk(
      targets.map(({ key, url }) => {
        const deliveryId = `${job.id}.${key}`;
        const data: DeliverData = {
          tenant: e.tenant,
          jobId: e.jobId,
          type: e.type,
          deliveryId,
          url,
          body: eventBody(deliveryId, e.type, e.createdAt, e.data),
        };
        return { name: 'deliver' as const, data, opts: jobOptions(config, deliveryId) };
      }),
    );
  }

  /** Deliveries are always signed: a tenant that never asked for a secret gets one now (it can rotate it to see it). */
  async function signingSecret(tenant: string): Promise<string> {
    const existing = await store.secret(tenant);
    if (existing) return existing;
    const { secret } = await store.ensureSecret(tenant);
    return secret ?? (await signingSecret(tenant));
  }

  async function deliver(job: Job<DeliverData>): Promise<void> {
    const d = job.data;
    const attempt = job.attemptsMade + 1;
    const at = new Date();
    const record = (r: DeliveryResult) =>
      store.logAttempt(d.jobId, { deliveryId: d.deliveryId, event: d.type, url: d.url, attempt, at: at.toISOString(), ...r });
    let result: DeliveryResult;
    try {
      const url = parseTarget(d.url);
      const secret = await signingSecret(d.tenant);
      const t = Math.floor(Date.now() / 1000);
      const headers = {
        [SIGNATURE_HEADER]: signPayload(secret, t, d.body),
        [TIMESTAMP_HEADER]: String(t),
        [EVENT_HEADER]: d.type,
        [DELIVERY_HEADER]: d.deliveryId,
      };
      result = await postEvent(url, d.body, headers, { timeoutMs: config.webhookTimeoutMs, policy });
    } catch (err) {
      // Anything else (Redis away) is retried without a log entry: nothing was sent.
      if (!(err instanceof TargetError)) throw err;
      await record({ ok: false, status: null, ms: Date.now() - at.getTime(), error: err.message });
      log.warn({ deliveryId: d.deliveryId, jobId: d.jobId, reason: err.message }, 'webhook target refused');
      throw new UnrecoverableError(err.message);
    }
    await record(result);
    if (result.ok) return;
    log.info({ deliveryId: d.deliveryId, jobId: d.jobId, attempt, status: result.status, reason: result.error }, 'webhook delivery failed');
    throw new Error(result.error);
  }

  const worker = new Worker<FanoutData | DeliverData, void, WebhookJobName>(
    WEBHOOK_QUEUE,
    (job) => (job.name === 'fanout' ? fanout(job as Job<FanoutData>) : deliver(job as Job<DeliverData>)),
    { connection, prefix: bullPrefix(config.prefix), concurrency: config.webhookConcurrency },
  );
  worker.on('error', (err) => log.error({ err }, 'webhook worker error'));

  return {
    close: async () => {
      await worker.close();
      await queue.close();
      if (!opts.connection) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
