// Reliability with real worker processes (`node dist/src/service.js worker`), sharing one job:
//  1. worker A gets SIGTERM mid-training: past SHUTDOWN_TIMEOUT_MS (1 ms) it aborts at the next batch,
//     hands the job back to the queue and exits 0;
//  2. worker B picks it up and is SIGKILLed mid-training: its sandboxed child dies with it, and
//     after the lock expires (LOCK_DURATION_MS) the stalled check requeues the job;
//  3. worker C completes it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { client } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { testEnv, waitFor, type TestEnv } from '../support/harness.js';

const SERVICE = fileURLToPath(new URL('../../src/service.js', import.meta.url));

let env: TestEnv;
let app: FastifyInstance;
const spawned: ChildProcess[] = [];
const api = client(() => app);
const { getJob } = api;

before(async () => {
  // A 1 ms shutdown grace against a job of 4000 training steps: the release on SIGTERM cannot lose
  // a race with the job finishing (no tfjs step takes under a microsecond), however idle the machine.
  env = await testEnv({ LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', SHUTDOWN_TIMEOUT_MS: '1' });
  app = await buildApp({ config: env.config, logger: false });
});

after(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await app?.close();
  await env?.cleanup();
});

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [SERVICE, 'worker'], {
    env: { ...process.env, ...env.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  spawned.push(child);
  return child;
}

const exited = (p: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
    else p.once('exit', (code, signal) => resolve({ code, signal }));
  });

/** Alive and not a zombie (an orphan may wait to be reaped by an init that never reaps). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

const fineTuningOn = (id: string, attempt: number) =>
  waitFor(
    async () => {
      const j = await getJob(id);
      assert.ok(!['completed', 'failed', 'cancelled'].includes(j.state), `job ended early: ${j.state} ${JSON.stringify(j.error)}`);
      return j.state === 'active' && j.attempts === attempt && j.stage === 'fine-tuning' && j.step > 5 ? j : null;
    },
    60_000,
    `attempt ${attempt} of job ${id} to be fine-tuning`,
    50,
  );

test('SIGTERM releases the job, SIGKILL leaves it to the stall check, and another worker completes it', async () => {
  const modelId = await api.uploadModel(await writeTinyModel(join(env.dataDir, 'fixture-model')));
  const datasetId = await api.uploadDataset(4000);
  const { id } = await api.createJob({
    modelId,
    datasetId,
    pruning: { ratio: 0.5, calibrationSamples: 64 },
    fineTune: { epochs: 8, batchSize: 8, learningRate: 1e-3 },
  });

  // 1. Graceful shutdown: the job goes back to the queue, the worker exits cleanly.
  const a = startWorkerProcess();
  await fineTuningOn(id, 1);
  a.kill('SIGTERM');
  assert.deepEqual(await exited(a), { code: 0, signal: null });
  const released = await getJob(id);
  assert.equal(released.state, 'queued', 'handed back on shutdown');
  assert.equal(await app.lopper.queue.getJobState(id), 'waiting');

  // 2. A worker killed outright: its processor child must not live on.
  const b = startWorkerProcess();
  await fineTuningOn(id, 2);
  const sandboxes = await childrenOf(b.pid!);
  assert.ok(sandboxes.length > 0, 'the worker runs its processor in a child process');
  b.kill('SIGKILL');
  await exited(b);
  await waitFor(async () => !(await Promise.all(sandboxes.map(alive))).some(Boolean), 5_000, 'the orphaned processor to exit');

  // 3. After the lock expires, another worker's stalled check requeues it and it completes.
  const c = startWorkerProcess();
  const done = await api.finished(id, 90_000);
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  assert.equal(done.attempts, 3);
  assert.equal(done.artifacts.length, 5);

  c.kill('SIGTERM');
  assert.deepEqual(await exited(c), { code: 0, signal: null });
  // Workers that shut down cleanly take themselves off /readyz.
  const ready = (await app.inject('/readyz')).json();
  assert.ok(!ready.workers.some((w: { pid: number }) => w.pid === a.pid || w.pid === c.pid));
});
