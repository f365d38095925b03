// The sandboxed BullMQ processor: BullMQ forks a child process that imports this file, so the
// TensorFlow.js compute below never blocks the parent's event loop, which keeps renewing the job's
// lock. It runs the core pipeline for one job and keeps the job record in step with it:
// queued → active → completed | failed | cancelled (or back to queued when the worker shuts down).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UnrecoverableError, WaitingError, type SandboxedJob } from 'bullmq';
import { pino } from 'pino';
import { problem, type Problem } from '../src/problem.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_MODEL_LIMITS } from '../src/io/topology-check.js';
import { runPipeline } from '../src/pipeline.js';
import { OUTPUT_FILES } from '../src/request.js';
import { createRedis } from '../src/queue/connection.js';
import { ABORT_SHUTDOWN } from '../src/queue/names.js';
import { jobRequestSchema, type JobRequest } from '../src/queue/payload.js';
import { JobStore, type ArtifactRecord } from '../src/store/jobs.js';
import { redisKeys } from '../src/store/keys.js';
import { LocalDiskStorage } from '../src/store/local-disk.js';
import { jobAnnouncer } from '../src/webhooks/job-events.js';
import { WebhookEmitter } from '../src/webhooks/queue.js';
import { ProgressReporter } from './progress.js';

// A worker killed with SIGKILL cannot stop its child; the child notices the IPC channel closing
// (checked between batches) and exits, so it does not keep training a job another worker retries.
process.on('disconnect', () => process.exit(1));

const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'processor', base: { pid: process.pid, workerId: process.env.LOPPER_WORKER_ID } });
const redis = createRedis(config.redisUrl, 'worker');
const announce = jobAnnouncer(new WebhookEmitter(redis, config), log);
const jobs = new JobStore(redis, redisKeys(config.prefix), config.prefix, announce.finished);
const storage = new LocalDiskStorage(config.dataDir);

/** The core names its inputs data/evalData/model…; the API's client knows them by request field. */
function requestField(field: string | undefined): string | undefined {
  if (field === 'data') return 'datasetId';
  if (field === 'evalData') return 'evalDatasetId';
  if (field && (field.startsWith('model') || field.startsWith('weightsManifest'))) return 'modelId';
  return field;
}

function failure(err: unknown, id: string): Problem {
  const e = err as Error & { field?: string };
  const instance = `/v1/jobs/${id}`;
  if (e?.name === 'InputError') return problem('invalid-input', 422, e.message, { field: requestField(e.field), instance });
  return problem('job-failed', 500, e?.message ?? String(err), { instance });
}

const now = () => new Date().toISOString();

export default async function processJob(job: SandboxedJob<JobRequest>, token?: string, signal?: AbortSignal) {
  const id = job.id!;
  const request = jobRequestSchema.parse(job.data);
  const rec = await jobs.get(id);
  if (!rec) throw new UnrecoverableError(`job record ${id} does not exist`);
  if (rec.cancelRequested) {
    await jobs.transition(id, { from: ['queued', 'active'], to: 'cancelled', set: { finishedAt: now() } });
    throw new UnrecoverableError('cancelled');
  }
  // 'active' is allowed too: a job retried after its worker died is still active in the record.
  const started = await jobs.transition(id, {
    from: ['queued', 'active'],
    to: 'active',
    set: { startedAt: now(), attempts: rec.attempts + 1, stage: 'loading', progress: 0, epoch: null, step: null, loss: null, error: null },
  });
  if (!started.applied) throw new UnrecoverableError(`job is ${started.state ?? 'gone'}, not runnable`);
  log.info({ jobId: id, attempt: rec.attempts + 1 }, 'job started');

  // Scratch space of this attempt; an earlier attempt killed mid-job may have left its own here.
  const scratch = join(config.dataDir, 'tmp', `job-${id}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const outDir = join(scratch, 'out');
  const reporter = new ProgressReporter(job, jobs, id, log, undefined, undefined, async (epoch) => {
    const current = await jobs.get(id);
    if (current) await announce.epoch(current, epoch);
  });
  try {
    const report = await runPipeline(
      {
        model: await storage.localPath(`models/${request.modelId}/model.json`),
        data: await storage.localPath(`datasets/${request.datasetId}/data.npz`),
        evalData: request.evalDatasetId ? await storage.localPath(`datasets/${request.evalDatasetId}/data.npz`) : undefined,
        outDir,
        pruning: request.pruning,
        fineTune: request.fineTune,
        backend: config.backend,
        modelLimits: { ...DEFAULT_MODEL_LIMITS, maxParams: config.maxModelParams, maxLayers: config.maxModelLayers, maxDepth: config.maxConfigDepth },
      },
      { onProgress: reporter.onProgress, signal },
    );
    reporter.finish();
    await reporter.close();
    const artifacts: ArtifactRecord[] = [];
    for (const name of OUTPUT_FILES) {
      const obj = await storage.putFile(`jobs/${id}/${name}`, join(outDir, name));
      artifacts.push({ name, bytes: obj.bytes, sha256: obj.sha256 });
    }
    const done = await jobs.transition(id, {
      from: ['active'],
      to: 'completed',
      set: { report, artifacts, metrics: { epochs: report.fineTune.epochs }, stage: 'saving', progress: 1, finishedAt: now() },
    });
    if (!done.applied) {
      await storage.deleteFolder(`jobs/${id}`);
      throw new UnrecoverableError(`job became ${done.state} while finishing`);
    }
    log.info({ jobId: id }, 'job completed');
    return { artifacts: artifacts.map((a) => a.name) };
  } catch (err) {
    await reporter.close();
    if (err instanceof UnrecoverableError) throw err;
    await storage.deleteFolder(`jobs/${id}`);
    if (signal?.aborted) {
      if (signal.reason === ABORT_SHUTDOWN) {
        // The worker is shutting down: hand the job back to the queue for another worker.
        await jobs.transition(id, { from: ['active'], to: 'queued', set: { stage: null, progress: 0, epoch: null, step: null, loss: null } });
        await job.moveToWait(token);
        log.info({ jobId: id }, 'job released on shutdown');
        throw new WaitingError();
      }
      await jobs.transition(id, { from: ['active'], to: 'cancelled', set: { finishedAt: now() } });
      log.info({ jobId: id }, 'job cancelled');
      throw new UnrecoverableError('cancelled');
    }
    const error = failure(err, id);
    await jobs.transition(id, { from: ['active'], to: 'failed', set: { error, finishedAt: now() } });
    log.warn({ jobId: id, err }, 'job failed');
    // A bad model or dataset fails the same way every time: no retry.
    if (error.status < 500) throw new UnrecoverableError(error.detail);
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
