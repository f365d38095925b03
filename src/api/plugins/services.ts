// Decorates the app with what route handlers need — Redis, the BullMQ queue (the API only
// enqueues), the artifact store and the record stores — and closes them with the app.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { createRedis } from '../../queue/connection.js';
import { bullPrefix, cancelChannel, QUEUE_NAME } from '../../queue/names.js';
import type { JobRequest } from '../../queue/payload.js';
import { Catalog, type DatasetRecord, type ModelRecord } from '../../store/catalog.js';
import { IdempotencyStore } from '../../store/idempotency.js';
import { JobStore } from '../../store/jobs.js';
import { redisKeys } from '../../store/keys.js';
import { LocalDiskStorage } from '../../store/local-disk.js';
import type { Storage } from '../../store/storage.js';
import { WorkerRegistry } from '../../store/workers.js';

export interface Services {
  config: Config;
  redis: Redis;
  queue: Queue<JobRequest>;
  storage: Storage;
  models: Catalog<ModelRecord>;
  datasets: Catalog<DatasetRecord>;
  jobs: JobStore;
  idempotency: IdempotencyStore;
  workers: WorkerRegistry;
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

export default fp(
  async function services(app: FastifyInstance, opts: { config: Config }) {
    const { config } = opts;
    const redis = createRedis(config.redisUrl, 'api');
    const queue = new Queue<JobRequest>(QUEUE_NAME, { connection: redis, prefix: bullPrefix(config.prefix) });
    const keys = redisKeys(config.prefix);
    const tmpDir = join(config.dataDir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    app.decorate('lopper', {
      config,
      redis,
      queue,
      storage: new LocalDiskStorage(config.dataDir),
      models: new Catalog<ModelRecord>(redis, keys, 'model'),
      datasets: new Catalog<DatasetRecord>(redis, keys, 'dataset'),
      jobs: new JobStore(redis, keys, config.prefix),
      idempotency: new IdempotencyStore(redis, keys),
      workers: new WorkerRegistry(redis, keys),
      tmpDir,
      publishCancel: async (id: string) => {
        await redis.publish(cancelChannel(config.prefix), id);
      },
    });
    app.addHook('onClose', async () => {
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'lopper-services' },
);
