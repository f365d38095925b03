// Jobs survive their own process dying. A real worker (in this process) forks one child per
// attempt (workers/processor.js); the tests kill that child at chosen moments — within
// milliseconds of its start, mid-training — and check the worker notices, retries on its own up
// to JOB_ATTEMPTS, records every attempt, never wedges, and takes the next job; a runaway past
// JOB_TIMEOUT_MS is killed; a child frozen by SIGSTOP shows as an unhealthy worker in /readyz.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { client } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { testEnv, waitFor, type TestEnv } from '../support/harness.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { checkpointDir } from '../../workers/job-protocol.js';

let env: TestEnv;
let app: FastifyInstance;
let worker: WorkerHandle;
let modelId: string;
let smallData: string;
let bigData: string;
let longData: string;
const api = client(() => app);
const { getJob, finished } = api;

before(async () => {
  env = await testEnv({ JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '10', WORKER_STALL_MS: '1500', JOB_TIMEOUT_MS: '60000' });
  app = await buildApp({ config: env.config, logger: false });
  worker = await startWorker(env.config);
  modelId = await api.uploadModel(await writeTinyModel(join(env.dataDir, 'fixture-model')));
  smallData = await api.uploadDataset(128);
  bigData = await api.uploadDataset(4000);
  longData = await api.uploadDataset(18_000);
});

after(async () => {
  await worker?.close();
  await app?.close();
  await env?.cleanup();
});

const createJob = async (datasetId: string, epochs: number): Promise<string> =>
  (
    await api.createJob({
      modelId,
      datasetId,
      pruning: { ratio: 0.5, calibrationSamples: 32 },
      fineTune: { epochs, batchSize: 8, learningRate: 1e-3 },
    })
  ).id;

/** Pids of this process's job children (workers/processor.js), by their command line. */
async function jobChildren(): Promise<number[]> {
  const text = await readFile(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').catch(() => '');
  const pids = text.split(/\s+/).filter(Boolean).map(Number);
  const out: number[] = [];
  for (const pid of pids) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('processor.js')) out.push(pid);
  }
  return out;
}

/** The next job child to appear that is not in `seen`. */
const nextChild = (seen: Set<number>) =>
  waitFor(async () => (await jobChildren()).find((p) => !seen.has(p)) ?? null, 60_000, 'a job child to start', 5);

const fineTuning = (id: string, attempt: number) =>
  waitFor(
    async () => {
      const j = await getJob(id);
      return j.state === 'active' && j.attempts === attempt && j.stage === 'fine-tuning' && j.step > 3 ? j : null;
    },
    60_000,
    `attempt ${attempt} to be fine-tuning`,
    25,
  );

describe('a job whose process dies', () => {
  test('killed within milliseconds of its start, the attempt is retried on its own and the job completes', async () => {
    const seen = new Set(await jobChildren());
    const id = await createJob(smallData, 1);
    const first = await nextChild(seen);
    process.kill(first, 'SIGKILL');
    seen.add(first);
    const done = await finished(id);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    assert.deepEqual(
      done.attemptLog.map((a: { outcome: string }) => a.outcome),
      ['crashed', 'completed'],
    );
    assert.match(done.attemptLog[0].detail, /SIGKILL/);
    assert.equal(done.attemptLog[0].workerId, worker.id);
    assert.ok(done.attemptLog.every((a: { startedAt: string; endedAt: string }) => a.startedAt <= a.endedAt));
    assert.equal(done.artifacts.length, 5);
  });

  test('killed mid-training on every attempt, it fails after JOB_ATTEMPTS with the reason; the worker takes the next job', async () => {
    const id = await createJob(bigData, 50);
    for (const attempt of [1, 2]) {
      await fineTuning(id, attempt);
      const [child] = await jobChildren();
      process.kill(child, 'SIGKILL');
    }
    const failed = await finished(id);
    assert.equal(failed.state, 'failed');
    assert.match(failed.error.detail, /killed by SIGKILL.*attempt 2 of 2/);
    assert.deepEqual(
      failed.attemptLog.map((a: { outcome: string }) => a.outcome),
      ['crashed', 'crashed'],
    );
    // Not wedged: the next job runs.
    const next = await finished(await createJob(smallData, 1));
    assert.equal(next.state, 'completed', JSON.stringify(next.error));
    assert.deepEqual(await readdir(join(env.dataDir, 'tmp')).then((d) => d.filter((n) => n.startsWith('job-'))), []);
  });

  test('killed in its last epoch, the retry resumes from the checkpoint and ends as an uninterrupted run would', async () => {
    const plain = await finished(await createJob(longData, 4));
    assert.equal(plain.state, 'completed', JSON.stringify(plain.error));
    const id = await createJob(longData, 4);
    // The kill lands in epoch 4 by construction: the moment the checkpoint after epoch 3 exists
    // (polled every 5 ms), with epochs of ~2,000 steps (seconds here) still to run; the record's
    // progress, written at most every 500 ms, could miss a short last epoch.
    await waitFor(
      async () => (await loadCheckpoint(checkpointDir(env.dataDir, id)))?.epoch === 3,
      120_000,
      'the checkpoint after epoch 3',
      5,
    );
    const [child] = await jobChildren();
    process.kill(child, 'SIGKILL');
    const resumed = await finished(id);
    assert.equal(resumed.state, 'completed', JSON.stringify(resumed.error));
    assert.deepEqual(
      resumed.attemptLog.map((a: { outcome: string }) => a.outcome),
      ['crashed', 'completed'],
    );
    assert.equal(resumed.attemptLog[1].resumedFromEpoch, 3);
    // Epochs 1-3 come from the checkpoint, the same as the uninterrupted run's; so do the weights.
    assert.deepEqual(
      resumed.report.fineTune.epochs.map((e: { loss: number }) => e.loss),
      plain.report.fineTune.epochs.map((e: { loss: number }) => e.loss),
    );
    assert.deepEqual(resumed.report.prunedNeurons, plain.report.prunedNeurons);
    const weights = async (job: { artifacts: { name: string; href: string }[] }) => {
      const res = await app.inject(job.artifacts.find((a) => a.name === 'weights.bin')!.href);
      return new Float32Array(res.rawPayload.buffer.slice(res.rawPayload.byteOffset, res.rawPayload.byteOffset + res.rawPayload.length));
    };
    const [w1, w2] = [await weights(plain), await weights(resumed)];
    assert.equal(w1.length, w2.length);
    const maxDiff = w1.reduce((m, v, i) => Math.max(m, Math.abs(v - w2[i])), 0);
    assert.ok(maxDiff < 1e-5, `fine-tuned weights differ by up to ${maxDiff}`);
    const seconds = (a: { startedAt: string; endedAt: string }) => (Date.parse(a.endedAt) - Date.parse(a.startedAt)) / 1000;
    console.log(
      `# resume: uninterrupted run ${seconds(plain.attemptLog[0]).toFixed(2)} s, resumed attempt ${seconds(resumed.attemptLog[1]).toFixed(2)} s`,
    );
    assert.deepEqual(
      (await readdir(join(env.dataDir, 'tmp'))).filter((n) => n.startsWith('ckpt-') || n.startsWith('job-')),
      [],
    );
  });

  test('a frozen job shows as an unhealthy worker in /readyz; cancelling it still ends it', async () => {
    const id = await createJob(bigData, 50);
    await fineTuning(id, 1);
    const [child] = await jobChildren();
    process.kill(child, 'SIGSTOP');
    try {
      const ready = await waitFor(
        async () => {
          const r = (await app.inject('/readyz')).json();
          return r.unhealthyWorkers === 1 ? r : null;
        },
        30_000,
        'the worker to show unhealthy (at its next heartbeat)',
      );
      assert.equal(ready.workers[0].healthy, false);
      assert.equal(ready.workers[0].jobId, id);
    } finally {
      process.kill(child, 'SIGCONT');
    }
    assert.equal((await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).statusCode, 202);
    assert.equal((await finished(id)).state, 'cancelled');
    await waitFor(async () => (await app.inject('/readyz')).json().unhealthyWorkers === 0, 30_000, 'the worker to be healthy again');
  });
});

describe('a runaway job', () => {
  test('past JOB_TIMEOUT_MS it is killed and fails, not retried; the worker goes on', async () => {
    const slow = await testEnv({ JOB_TIMEOUT_MS: '4000', JOB_ATTEMPTS: '3' });
    const app2 = await buildApp({ config: slow.config, logger: false });
    const worker2 = await startWorker(slow.config);
    try {
      const api2 = client(() => app2);
      const model = await api2.uploadModel(await writeTinyModel(join(slow.dataDir, 'fixture-model')));
      const data = await api2.uploadDataset(4000);
      const { id } = await api2.createJob({
        modelId: model,
        datasetId: data,
        pruning: { ratio: 0.5 },
        fineTune: { epochs: 500, batchSize: 8 },
      });
      const done = await api2.finished(id, 60_000);
      assert.equal(done.state, 'failed');
      assert.match(done.error.detail, /JOB_TIMEOUT_MS/);
      assert.deepEqual(
        done.attemptLog.map((a: { outcome: string }) => a.outcome),
        ['timed-out'],
      );
    } finally {
      await worker2.close();
      await app2.close();
      await slow.cleanup();
    }
  });
});
