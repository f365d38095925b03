// The worker's processor: one attempt of one job, run in a child process this worker forks and
// watches itself (processor.ts). BullMQ's own sandbox can lose a child that dies while it starts
// and then renews the job's lock forever; here the child's exit is listened for from the moment
// it is forked, so however and whenever it dies, the attempt ends within moments and the worker
// takes the next job. The child writes the record as the pipeline goes; this side opens and
// closes each attempt's entry in the record, decides retries (up to the `attempts` the job was
// queued with; only our own failures are retried, never bad input), and enforces JOB_TIMEOUT_MS.
import { fork, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../src/config.js';
import { PARENT_PID_ENV } from '../src/orphan-watchdog.js';
import { problem } from '../src/errors.js';
import { ABORT_SHUTDOWN } from '../src/queue/names.js';
import type { JobRequest } from '../src/queue/payload.js';
import { endAttempt, FINISHED_STATES, type AttemptRecord, type JobStore } from '../src/store/jobs.js';
import type { Storage } from '../src/store/storage.js';
import { storageKeys } from '../src/store/keys.js';
import { checkpointDir, scratchDir, type FromChild, type Outcome, type ToChild } from './job-protocol.js';

export interface RunnerContext {
  config: Config;
  jobs: JobStore;
  storage: Storage;
  log: Logger;
  workerId: string;
  env: NodeJS.ProcessEnv;
  /** Called on every change of the job's progress (what /readyz judges a stuck job by). */
  onProgress(jobId: string): void;
}

const CHILD = fileURLToPath(new URL('./processor.js', import.meta.url));
/** How long a child gets to stop after an abort before it is killed. */
const ABORT_GRACE_MS = 10_000;

type Ended = { outcome: Outcome } | { died: string } | { timedOut: true };

const now = () => new Date().toISOString();
const BROKEN: AttemptRecord['outcome'][] = ['error', 'crashed', 'timed-out', 'lost'];
const reset = { stage: null, progress: 0, epoch: null, step: null, loss: null } as const;

/** Runs the child to its end: its last message, its death, or the deadline. */
function runChild(ctx: RunnerContext, job: Job<JobRequest>, signal: AbortSignal | undefined): Promise<Ended> {
  const child: ChildProcess = fork(CHILD, [], {
    env: { ...ctx.env, [PARENT_PID_ENV]: String(process.pid) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Ended>((resolve) => {
    let outcome: Outcome | null = null;
    let timedOut = false;
    let lastProgress = '';
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
    const deadline = setTimeout(() => {
      timedOut = true;
      kill();
    }, ctx.config.jobTimeoutMs);
    let grace: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.send({ cmd: 'abort', reason: String(signal!.reason) } satisfies ToChild, () => undefined);
      grace = setTimeout(kill, ABORT_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (msg: FromChild) => {
      if (msg.cmd === 'outcome') outcome = msg.outcome;
      else {
        job.updateProgress(msg.value).catch((err) => ctx.log.warn({ err, jobId: job.id }, 'progress update failed'));
        const text = JSON.stringify(msg.value);
        if (text !== lastProgress) ctx.onProgress(job.id!);
        lastProgress = text;
      }
    });
    // 'exit', not 'close': a grandchild holding the pipes must not delay the verdict.
    child.once('exit', (code, sig) => {
      clearTimeout(deadline);
      clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
      if (timedOut) resolve({ timedOut: true });
      else if (outcome) resolve({ outcome });
      else
        resolve({
          died: sig
            ? `its process was killed by ${sig}${sig === 'SIGKILL' ? ' (out of memory, or killed by hand)' : ''}`
            : `its process exited with code ${code}`,
        });
    });
    child.once('error', (err) => ctx.log.error({ err, jobId: job.id }, 'job process error'));
    child.send({ cmd: 'run', id: job.id!, data: job.data } satisfies ToChild, (err) => {
      if (err) kill();
    });
  });
}

export function createProcessor(ctx: RunnerContext) {
  const { jobs, config, log } = ctx;
  return async function processJob(job: Job<JobRequest>, token?: string, signal?: AbortSignal): Promise<void> {
    const id = job.id!;
    const maxAttempts = job.opts.attempts ?? 1;
    const rec = await jobs.get(id);
    if (!rec) throw new UnrecoverableError(`job record ${id} does not exist`);
    if (FINISHED_STATES.includes(rec.state)) throw new UnrecoverableError(`job is already ${rec.state}`);
    // An attempt still open here never ended: its worker vanished and the stall check requeued it.
    let attemptLog: AttemptRecord[] = endAttempt(
      rec.attemptLog ?? [],
      'lost',
      'its worker stopped (killed or crashed); recovered by the stall check',
    );
    const dropCheckpoint = () => rm(checkpointDir(config.dataDir, id), { recursive: true, force: true });
    if (rec.cancelRequested) {
      await dropCheckpoint();
      await jobs.transition(id, { from: ['queued', 'active'], to: 'cancelled', set: { finishedAt: now(), attemptLog } });
      throw new UnrecoverableError('cancelled');
    }
    // Attempts that broke count; one handed back by a shutting-down worker does not.
    const broken = attemptLog.filter((a) => a.outcome !== null && BROKEN.includes(a.outcome)).length;
    if (broken >= maxAttempts) {
      const error = problem('job-failed', 500, `gave up after ${broken} broken attempts (JOB_ATTEMPTS); see attemptLog`, {
        instance: `/v1/jobs/${id}`,
      });
      await dropCheckpoint();
      await jobs.transition(id, { from: ['queued', 'active'], to: 'failed', set: { error, finishedAt: now(), attemptLog } });
      throw new UnrecoverableError(error.detail);
    }
    const attempt = rec.attempts + 1;
    attemptLog = [...attemptLog, { attempt, workerId: ctx.workerId, startedAt: now(), endedAt: null, outcome: null }];
    // 'active' is allowed too: a job recovered after its worker died is still active in the record.
    const started = await jobs.transition(id, {
      from: ['queued', 'active'],
      to: 'active',
      set: { startedAt: now(), attempts: attempt, ...reset, stage: 'loading', error: null, attemptLog },
    });
    if (!started.applied) throw new UnrecoverableError(`job is ${started.state ?? 'gone'}, not runnable`);

    const ended = await runChild(ctx, job, signal);
    if ('outcome' in ended) {
      const o = ended.outcome;
      if (o.kind === 'completed') return;
      if (o.kind === 'failed') throw new UnrecoverableError(o.detail);
      if (o.kind === 'cancelled') throw new UnrecoverableError('cancelled');
      if (o.kind === 'gone') throw new UnrecoverableError(o.detail);
      if (o.kind === 'released') {
        await job.moveToWait(token);
        throw new WaitingError();
      }
    }
    // The attempt broke on our side: the child reported an error, died, or ran out of time. A dead
    // child cleaned up nothing: its scratch space and any artifacts it had begun to store go now.
    await rm(scratchDir(config.dataDir, id), { recursive: true, force: true });
    await ctx.storage.deleteFolder(storageKeys.folder('job', id));
    const [outcome, detail]: [AttemptRecord['outcome'] & string, string] =
      'timedOut' in ended
        ? ['timed-out', `ran longer than JOB_TIMEOUT_MS (${config.jobTimeoutMs} ms) and was killed`]
        : 'died' in ended
          ? ['crashed', ended.died]
          : ['error', (ended.outcome as Extract<Outcome, { kind: 'error' }>).error.detail];
    const closed = endAttempt(attemptLog, outcome, detail);
    // A shutdown abort that the child did not answer in time: hand the job back all the same.
    if (signal?.aborted && signal.reason === ABORT_SHUTDOWN) {
      await jobs.transition(id, {
        from: ['active'],
        to: 'queued',
        set: { ...reset, attemptLog: endAttempt(attemptLog, 'released', detail) },
      });
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const retry = outcome !== 'timed-out' && !signal?.aborted && broken + 1 < maxAttempts;
    if (retry) {
      await jobs.transition(id, { from: ['active'], to: 'queued', set: { ...reset, attemptLog: closed } });
      log.warn({ jobId: id, attempt, outcome, detail }, 'job attempt failed; retrying');
      throw new Error(detail);
    }
    await dropCheckpoint();
    if (signal?.aborted) {
      // A cancel the child did not answer in time.
      await jobs.transition(id, {
        from: ['active'],
        to: 'cancelled',
        set: { finishedAt: now(), attemptLog: endAttempt(attemptLog, 'cancelled', detail) },
      });
      throw new UnrecoverableError('cancelled');
    }
    const error = problem('job-failed', 500, broken > 0 ? `${detail} (broken attempt ${broken + 1} of ${maxAttempts})` : detail, {
      instance: `/v1/jobs/${id}`,
    });
    await jobs.transition(id, { from: ['active'], to: 'failed', set: { error, finishedAt: now(), attemptLog: closed } });
    log.warn({ jobId: id, attempt, outcome, detail }, 'job failed');
    throw new UnrecoverableError(detail);
  };
}
