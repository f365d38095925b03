// Decorates the app with what route handlers need — Redis, the BullMQ queue (the API only
// enqueues), the artifact store and the record stores — and closes them with the app.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { createRedis, logErrors, SHARED_QUEUE_OPTIONS } from '../../queue/connection.js';
import { redisUnavailable } from '../../errors.js';
import { InspectorPool, type InspectLimits } from '../inspector.js';
import { bullPrefix, cancelChannel, QUEUE_NAME } from '../../queue/names.js';
import type { JobRequest } from '../../queue/payload.js';
import { ApiKeyStore } from '../../store/api-keys.js';
import { Catalog, type DatasetRecord, type ModelRecord } from '../../store/catalog.js';
import { IdempotencyStore } from '../../store/idempotency.js';
import { JobStore } from '../../store/jobs.js';
import { redisKeys } from '../../store/keys.js';
import { LocalDiskStorage } from '../../store/local-disk.js';
import type { Storage } from '../../store/storage.js';
import { TenantStore } from '../../store/tenants.js';
import { startSweeper, type Sweeper } from '../../store/tmp-sweeper.js';
import { WorkerRegistry } from '../../store/workers.js';
import { jobAnnouncer } from '../../webhooks/job-events.js';
import { WebhookEmitter } from '../../webhooks/queue.js';
import { WebhookStore } from '../../webhooks/store.js';
import { TargetPolicy } from '../../webhooks/targets.js';

export interface Services {
  config: Config;
  redis: Redis;
  queue: Queue<JobRequest>;
  storage: Storage;
  models: Catalog<ModelRecord>;
  datasets: Catalog<DatasetRecord>;
  jobs: JobStore;
  idempotency: IdempotencyStore;
  apiKeys: ApiKeyStore;
  tenants: TenantStore;
  workers: WorkerRegistry;
  webhooks: WebhookStore;
  /** Which webhook targets may be registered (the delivering worker checks again). */
  webhookPolicy: TargetPolicy;
  /** Sandboxed children that inspect uploads (the API itself never parses a model). */
  inspector: InspectorPool;
  inspectLimits: InspectLimits;
  /** Temp entries (DATA_DIR/tmp basenames) that live requests of this process are writing. */
  liveTmp: Set<string>;
  sweeper: Sweeper;
  /** Scratch space for uploads, on the same volume as the store so finished files are renamed in. */
  tmpDir: string;
  /** Asks whichever worker holds job `id` to abort it. */
  publishCancel(id: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    lopper: Services;
  }
}

const REDIS_STARTUP_WAIT_MS = 2000;

export default fp(
  async function services(app: FastifyInstance, opts: { config: Config }) {
    const { config } = opts;
    const redis = createRedis(config.redisUrl, 'api');
    // The first requests of a just-built app would otherwise meet a connection still being set up
    // and answer 503; an unreachable Redis delays the start by at most this, then routes answer 503.
    const ready = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, REDIS_STARTUP_WAIT_MS);
      if (redis.status === 'ready') done();
      else redis.once('ready', done);
    });
    const queue = logErrors(
      new Queue<JobRequest>(QUEUE_NAME, { connection: redis, prefix: bullPrefix(config.prefix), ...SHARED_QUEUE_OPTIONS }),
      app.log,
      'job queue',
    );
    const keys = redisKeys(config.prefix);
    const tmpDir = join(config.dataDir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const inspector = new InspectorPool({
      concurrency: config.inspectConcurrency,
      timeoutMs: config.inspectTimeoutMs,
      memoryMb: config.inspectMemoryMb,
      // The engine's own settings pass through; the API key has no business there.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'API_KEY')),
      log: app.log,
    });
    const emitter = new WebhookEmitter(redis, config, app.log);
    const jobs = new JobStore(redis, keys, jobAnnouncer(emitter, app.log).finished);
    const liveTmp = new Set<string>();
    const sweeper = startSweeper({
      tmpDir,
      graceMs: config.tmpGraceMs,
      intervalMs: config.tmpSweepIntervalMs,
      isOwned: (name) => liveTmp.has(name),
      isLiveJob: (id) => jobs.isLive(id),
      log: app.log,
    });
    app.decorate('lopper', {
      config,
      redis,
      queue,
      storage: new LocalDiskStorage(config.dataDir),
      models: new Catalog<ModelRecord>(redis, keys, 'model'),
      datasets: new Catalog<DatasetRecord>(redis, keys, 'dataset'),
      jobs,
      idempotency: new IdempotencyStore(redis, keys),
      apiKeys: new ApiKeyStore(redis, keys),
      tenants: new TenantStore(redis, keys, {
        storedBytes: config.quotaStoredBytes,
        models: config.quotaModels,
        datasets: config.quotaDatasets,
        jobs: config.quotaJobs,
      }),
      workers: new WorkerRegistry(redis, keys),
      webhooks: new WebhookStore(redis, keys),
      webhookPolicy: new TargetPolicy(config.webhookAllowCidrs),
      inspector,
      inspectLimits: {
        maxParams: config.maxModelParams,
        maxLayers: config.maxModelLayers,
        maxDepth: config.maxConfigDepth,
        maxUnzippedBytes: config.maxUploadBytes,
        maxCompressionRatio: config.maxCompressionRatio,
      },
      liveTmp,
      sweeper,
      tmpDir,
      publishCancel: async (id: string) => {
        await redis.publish(cancelChannel(config.prefix), id);
      },
    });
    // While Redis is away, routes that need it answer 503 at once instead of queueing commands.
    // The matched route decides, not the raw URL.
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'Redis connection error'));
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.url?.startsWith('/v1/') && redis.status !== 'ready') throw redisUnavailable();
    });
    await ready;
    app.addHook('onClose', async () => {
      await sweeper.stop();
      await inspector.close();
      await emitter.close();
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'lopper-services' },
);
