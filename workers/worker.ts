// A Lopper worker: one BullMQ Worker (concurrency 1: one job per device) whose processor runs each
// attempt in a child it forks and watches (job-runner.ts), plus what BullMQ does not do for us — cancel requests from the API
// over pub/sub, failing records of jobs BullMQ failed on its own (a crashed child, too many stalls),
// and a heartbeat for /readyz. Each worker process also delivers webhooks (its own BullMQ queue).
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueEvents, Worker } from 'bullmq';
import { pino, type Logger } from 'pino';
import { problem } from '../src/errors.js';
import { configToEnv, type Config } from '../src/config.js';
import { createRedis, logErrors } from '../src/queue/connection.js';
import { ABORT_CANCELLED, ABORT_SHUTDOWN, bullPrefix, cancelChannel, QUEUE_NAME } from '../src/queue/names.js';
import type { JobRequest } from '../src/queue/payload.js';
import { JobStore } from '../src/store/jobs.js';
import { LocalDiskStorage } from '../src/store/local-disk.js';
import { redisKeys } from '../src/store/keys.js';
import { startSweeper } from '../src/store/tmp-sweeper.js';
import { HEARTBEAT_MS, WorkerRegistry, type WorkerInfo } from '../src/store/workers.js';
import { jobAnnouncer } from '../src/webhooks/job-events.js';
import { startWebhookWorker, WebhookEmitter } from '../src/webhooks/queue.js';
import { createProcessor } from './job-runner.js';

export interface WorkerHandle {
  id: string;
  worker: Worker<JobRequest>;
  info(): Omit<WorkerInfo, 'seenAt'>;
  /** Graceful stop: lets the current job finish for SHUTDOWN_TIMEOUT_MS, then aborts it at the next
   * batch and hands it back to the queue, then closes every connection. */
  close(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Runs probe.ts in a child: the backend this worker's jobs will use, or an error if unavailable. */
async function probeBackend(env: NodeJS.ProcessEnv): Promise<{ backend: string; device: string }> {
  const child = fork(here('./probe.js'), [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('backend probe timed out after 120 s'));
    }, 120_000);
    child.once('message', (m: { ok: boolean; backend: string; device: string; error?: string }) => {
      clearTimeout(timer);
      if (m.ok) resolve({ backend: m.backend, device: m.device });
      else reject(new Error(`backend unavailable: ${m.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`backend probe exited with code ${code}`));
    });
  });
}

export async function startWorker(config: Config, opts: { logger?: Logger } = {}): Promise<WorkerHandle> {
  const log = opts.logger ?? pino({ level: config.logLevel, name: 'worker' });
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // The child reads its configuration from the environment, exactly as this process was given it.
  const env = { ...process.env, ...configToEnv(config), LOPPER_WORKER_ID: id };
  const engine = await probeBackend(env);
  log.info({ workerId: id, ...engine }, 'backend ready');

  const connection = createRedis(config.redisUrl, 'worker');
  const prefix = bullPrefix(config.prefix);
  const keys = redisKeys(config.prefix);
  const emitter = new WebhookEmitter(connection, config, log);
  const jobs = new JobStore(connection, keys, jobAnnouncer(emitter, log).finished);
  // Webhook deliveries are I/O only; every worker process takes its share of them.
  const webhooks = startWebhookWorker({ config, log });
  const registry = new WorkerRegistry(connection, keys);
  const startedAt = new Date().toISOString();
  let currentJob: string | null = null;
  let progressAt: string | null = null;

  const processor = createProcessor({
    config,
    jobs,
    log,
    workerId: id,
    env,
    storage: new LocalDiskStorage(config.dataDir),
    onProgress: () => {
      progressAt = new Date().toISOString();
    },
  });
  const worker = new Worker<JobRequest>(QUEUE_NAME, processor, {
    connection,
    prefix,
    concurrency: 1,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    // Stall recoveries are attempts too; the processor stops at the job's `attempts` in all.
    maxStalledCount: config.jobAttempts,
  });
  worker.on('active', (job) => {
    currentJob = job.id ?? null;
    progressAt = new Date().toISOString();
  });
  worker.on('completed', () => {
    currentJob = null;
  });
  worker.on('failed', (job, err) => {
    currentJob = null;
    log.info({ jobId: job?.id, reason: err.message }, 'job ended without completing');
  });
  worker.on('error', (err) => log.error({ err }, 'worker error'));

  // Cancel requests reach every worker; only the one holding the job has it to abort. The abort
  // travels into the sandboxed child as its AbortSignal (BullMQ forwards Worker.cancelJob there).
  const subscriber = connection.duplicate();
  await subscriber.subscribe(cancelChannel(config.prefix));
  subscriber.on('message', (_channel, jobId: string) => {
    if (worker.cancelJob(jobId, ABORT_CANCELLED)) log.info({ jobId }, 'cancelling active job');
  });

  // BullMQ fails some jobs without the processor's say (its child crashed, it stalled too often);
  // the record must not stay "active" forever. The guarded transition makes this a no-op otherwise.
  // QueueEvents reads with blocking XREAD: it duplicates the connection and closes that copy itself.
  const events = logErrors(new QueueEvents(QUEUE_NAME, { connection, prefix }), log, 'queue events');
  events.on('failed', ({ jobId, failedReason }) => {
    jobs
      .transition(jobId, {
        from: ['queued', 'active'],
        to: 'failed',
        set: { error: problem('job-failed', 500, failedReason, { instance: `/v1/jobs/${jobId}` }), finishedAt: new Date().toISOString() },
      })
      .catch((err) => log.warn({ err, jobId }, 'could not record a failed job'));
  });

  // Scratch folders of jobs killed with their worker, and uploads of a killed API, are swept here too.
  const sweeper = startSweeper({
    tmpDir: join(config.dataDir, 'tmp'),
    graceMs: config.tmpGraceMs,
    intervalMs: config.tmpSweepIntervalMs,
    isOwned: (name) => name === `job-${currentJob}` || name === `ckpt-${currentJob}`,
    isLiveJob: (jobId) => jobs.isLive(jobId),
    log,
  });

  const info = () => ({
    id,
    host: hostname(),
    pid: process.pid,
    ...engine,
    startedAt,
    jobId: currentJob,
    progressAt: currentJob ? progressAt : null,
  });
  const beat = () => registry.beat(info()).catch((err) => log.warn({ err }, 'heartbeat failed'));
  await beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(heartbeat);
      const deadline = setTimeout(() => {
        log.warn({ jobId: currentJob }, 'shutdown timeout: releasing the current job');
        worker.cancelAllJobs(ABORT_SHUTDOWN);
      }, config.shutdownTimeoutMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(deadline);
      }
      await sweeper.stop();
      await webhooks.close();
      await emitter.close();
      await events.close();
      await registry.remove(id).catch(() => undefined);
      await subscriber.quit().catch(() => subscriber.disconnect());
      await connection.quit().catch(() => connection.disconnect());
    })());

  log.info({ workerId: id, queue: QUEUE_NAME }, 'worker started');
  return { id, worker, info, close };
}
