// The job's own child process, forked by the worker (job-runner.ts) for one attempt of one job, so
// TensorFlow.js compute never blocks the worker's event loop (which keeps renewing the job's lock)
// and a crash, OOM kill or runaway here is seen by the worker, whatever moment it happens. It runs
// the core pipeline and keeps the job record in step with it: active → completed | failed |
// cancelled (or back to queued when the worker shuts down); how it ended is its last message.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { jobFailure } from '../src/errors.js';
import { loadConfig } from '../src/config.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { DEFAULT_MODEL_LIMITS } from '../src/io/topology-check.js';
import { runPipeline } from '../src/pipeline.js';
import { OUTPUT_FILES } from '../src/request.js';
import { createRedis } from '../src/queue/connection.js';
import { ABORT_SHUTDOWN } from '../src/queue/names.js';
import { jobRequestSchema } from '../src/queue/payload.js';
import { endAttempt, JobStore, type ArtifactRecord } from '../src/store/jobs.js';
import { redisKeys, storageKeys } from '../src/store/keys.js';
import { LocalDiskStorage } from '../src/store/local-disk.js';
import { jobAnnouncer } from '../src/webhooks/job-events.js';
import { WebhookEmitter } from '../src/webhooks/queue.js';
import { exitWhenOrphaned } from '../src/orphan-watchdog.js';
import { checkpointDir, scratchDir, type FromChild, type Outcome, type ToChild } from './job-protocol.js';
import { ProgressReporter } from './progress.js';

// A worker killed with SIGKILL cannot stop this process: the watchdog thread ends it even in the
// middle of a batch, and a closed IPC channel ends it between batches.
exitWhenOrphaned();
process.on('disconnect', () => process.exit(1));

const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'processor', base: { pid: process.pid, workerId: process.env.LOPPER_WORKER_ID } });
const redis = createRedis(config.redisUrl, 'worker');
const announce = jobAnnouncer(new WebhookEmitter(redis, config, log), log);
const jobs = new JobStore(redis, redisKeys(config.prefix), announce.finished);
const storage = new LocalDiskStorage(config.dataDir);
const abort = new AbortController();

const send = (msg: FromChild) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));

/** The core names its inputs data/evalData/model…; the API's client knows them by request field. */
function requestField(field: string): string {
  if (field === 'data') return 'datasetId';
  if (field === 'evalData') return 'evalDatasetId';
  if (field.startsWith('model') || field.startsWith('weightsManifest')) return 'modelId';
  return field;
}

const now = () => new Date().toISOString();
const clean = (...dirs: string[]) => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));

/** One attempt; the worker has already moved the record to active and opened its attempt entry. */
async function run(id: string, data: unknown): Promise<Outcome> {
  const request = jobRequestSchema.parse(data);
  const rec = await jobs.get(id);
  if (!rec || rec.state !== 'active') return { kind: 'gone', detail: `job is ${rec?.state ?? 'gone'}, not runnable` };
  let attempts = rec.attemptLog ?? [];
  const signal = abort.signal;
  log.info({ jobId: id, attempt: rec.attempts }, 'job started');

  // Scratch space of this attempt; an earlier attempt killed mid-job may have left its own here.
  const scratch = scratchDir(config.dataDir, id);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const outDir = join(scratch, 'out');
  const sink = { updateProgress: (value: object) => send({ cmd: 'progress', value }) };
  // Kept beside the scratch space (which each attempt starts afresh) until the job ends, so a
  // retry on any worker continues after the last finished epoch.
  const ckptDir = checkpointDir(config.dataDir, id);
  const checkpoint = {
    load: async () => {
      const c = await loadCheckpoint(ckptDir);
      if (c) {
        const last = attempts[attempts.length - 1];
        attempts = [...attempts.slice(0, -1), { ...last, resumedFromEpoch: c.epoch }];
        await jobs.transition(id, { from: ['active'], set: { attemptLog: attempts } });
        log.info({ jobId: id, epoch: c.epoch }, 'resuming from checkpoint');
      }
      return c;
    },
    save: (c: Parameters<typeof saveCheckpoint>[1]) => saveCheckpoint(ckptDir, c),
  };
  const reporter = new ProgressReporter(sink, jobs, id, log, undefined, undefined, async (epoch) => {
    const current = await jobs.get(id);
    if (current) await announce.epoch(current, epoch);
  });
  try {
    const report = await runPipeline(
      {
        model: await storage.localPath(storageKeys.file('model', request.modelId, 'model.json')),
        data: await storage.localPath(storageKeys.dataset(request.datasetId)),
        evalData: request.evalDatasetId ? await storage.localPath(storageKeys.dataset(request.evalDatasetId)) : undefined,
        outDir,
        pruning: request.pruning,
        fineTune: request.fineTune,
        backend: config.backend,
        modelLimits: {
          ...DEFAULT_MODEL_LIMITS,
          maxParams: config.maxModelParams,
          maxLayers: config.maxModelLayers,
          maxDepth: config.maxConfigDepth,
        },
      },
      { onProgress: reporter.onProgress, signal, checkpoint },
    );
    reporter.finish();
    await reporter.close();
    const artifacts: ArtifactRecord[] = [];
    for (const name of OUTPUT_FILES) {
      const obj = await storage.putFile(storageKeys.file('job', id, name), join(outDir, name));
      artifacts.push({ name, bytes: obj.bytes, sha256: obj.sha256 });
    }
    // Whoever sees the job finished sees nothing of it left in DATA_DIR/tmp.
    await clean(scratch, ckptDir);
    const done = await jobs.transition(id, {
      from: ['active'],
      to: 'completed',
      set: {
        report,
        artifacts,
        metrics: { epochs: report.fineTune.epochs },
        stage: 'saving',
        progress: 1,
        finishedAt: now(),
        attemptLog: endAttempt(attempts, 'completed'),
      },
    });
    if (!done.applied) {
      await storage.deleteFolder(storageKeys.folder('job', id));
      return { kind: 'gone', detail: `job became ${done.state} while finishing` };
    }
    log.info({ jobId: id }, 'job completed');
    return { kind: 'completed' };
  } catch (err) {
    await reporter.close();
    await storage.deleteFolder(storageKeys.folder('job', id));
    await clean(scratch);
    if (signal.aborted) {
      if (signal.reason === ABORT_SHUTDOWN) {
        // The worker is shutting down: the job goes back to the queue for another worker.
        await jobs.transition(id, {
          from: ['active'],
          to: 'queued',
          set: {
            stage: null,
            progress: 0,
            epoch: null,
            step: null,
            loss: null,
            attemptLog: endAttempt(attempts, 'released', 'the worker shut down'),
          },
        });
        log.info({ jobId: id }, 'job released on shutdown');
        return { kind: 'released' };
      }
      await clean(ckptDir);
      await jobs.transition(id, {
        from: ['active'],
        to: 'cancelled',
        set: { finishedAt: now(), attemptLog: endAttempt(attempts, 'cancelled') },
      });
      log.info({ jobId: id }, 'job cancelled');
      return { kind: 'cancelled' };
    }
    const error = jobFailure(err, id, requestField);
    if (error.status >= 500) {
      log.warn({ jobId: id, err }, 'job attempt failed');
      return { kind: 'error', error };
    }
    // A bad model or dataset fails the same way every time: no retry.
    await clean(ckptDir);
    await jobs.transition(id, {
      from: ['active'],
      to: 'failed',
      set: { error, finishedAt: now(), attemptLog: endAttempt(attempts, 'failed', error.detail) },
    });
    log.warn({ jobId: id, detail: error.detail }, 'job failed');
    return { kind: 'failed', detail: error.detail };
  } finally {
    await clean(scratch);
  }
}

process.on('message', (msg: ToChild) => {
  if (msg.cmd === 'abort') {
    abort.abort(msg.reason);
    return;
  }
  run(msg.id, msg.data)
    .catch((err): Outcome => {
      log.error({ jobId: msg.id, err }, 'job attempt failed outside the pipeline');
      return { kind: 'error', error: jobFailure(err, msg.id) };
    })
    .then((outcome) => send({ cmd: 'outcome', outcome }))
    .finally(() => process.exit(0));
});
