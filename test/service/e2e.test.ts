// The whole service with a real worker (sandboxed processor, real pipeline, wasm backend):
// upload → job → poll → completed → download model.zip → it loads with plain tfjs and predicts;
// cancelling queued and active jobs; a bad dataset discovered late fails once, without retries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { FastifyInstance } from 'fastify';
import { unzipSync } from 'fflate';
import { buildApp } from '../../src/api/app.js';
import { verifySignature } from '../../src/webhooks/signature.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { client, FINISHED } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { testEnv, waitFor, type TestEnv } from '../support/harness.js';

let env: TestEnv;
let app: FastifyInstance;
let worker: WorkerHandle;
let modelId: string;
let receiver: Receiver;
const api = client(() => app);
const { createJob, getJob, waitState } = api;
const dataset = (n: number) => api.uploadDataset(n);

before(async () => {
  receiver = await startReceiver();
  env = await testEnv({ WEBHOOK_ALLOW_CIDRS: '127.0.0.1' });
  app = await buildApp({ config: env.config, logger: false });
  worker = await startWorker(env.config);
  const files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
  modelId = await api.uploadModel(files);
});

after(async () => {
  await worker?.close();
  await app?.close();
  await env?.cleanup();
  await receiver?.close();
});

const waitFineTuning = (id: string) =>
  waitFor(
    async () => {
      const j = await getJob(id);
      assert.ok(!FINISHED.includes(j.state), `job ended early: ${j.state}`);
      return j.stage === 'fine-tuning' ? j : null;
    },
    60_000,
    `job ${id} to be fine-tuning`,
    50,
  );

// A job slow enough to be caught mid-training: 4000 samples at batch 8 is ~450 steps per epoch.
const longJob = (datasetId: string) => ({
  modelId,
  datasetId,
  pruning: { ratio: 0.5, calibrationSamples: 64 },
  fineTune: { epochs: 50, batchSize: 8, learningRate: 1e-3 },
});

describe('a job runs to completion', () => {
  test('upload → job → poll → completed → download model.zip → it loads and predicts', async () => {
    const datasetId = await dataset(512);
    const evalDatasetId = await dataset(128);
    const job = await createJob({
      modelId,
      datasetId,
      evalDatasetId,
      pruning: { ratio: 0.5, calibrationSamples: 64 },
      fineTune: { epochs: 2, learningRate: 1e-3 },
      callbackUrl: `${receiver.base}/hook`,
      callbackEvents: ['job.epoch', 'job.completed'],
    });
    assert.equal(job.state, 'queued');
    const secret = job.webhookSecret;
    const seenStates = new Set<string>();
    const done = await waitFor(
      async () => {
        const j = await getJob(job.id);
        seenStates.add(j.state);
        return FINISHED.includes(j.state) ? j : null;
      },
      90_000,
      'the job to finish',
      25,
    );
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.equal(done.progress, 1);
    assert.equal(done.attempts, 1);
    assert.ok(done.startedAt && done.finishedAt);
    assert.equal(done.report.ratio, 0.5);
    assert.equal(done.report.backend, env.config.backend);
    assert.equal(done.metrics.epochs.length, 2);
    assert.deepEqual(
      done.artifacts.map((a: any) => a.name),
      ['model.json', 'weights.bin', 'model.zip', 'report.json', 'statistics.json'],
    );

    // model.zip: streamed with Content-Length and the sha256 ETag the record shows.
    const zipInfo = done.artifacts.find((a: any) => a.name === 'model.zip');
    const res = await app.inject(zipInfo.href);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/zip');
    assert.equal(Number(res.headers['content-length']), zipInfo.bytes);
    assert.equal(res.headers.etag, `"${zipInfo.sha256}"`);
    assert.equal(createHash('sha256').update(res.rawPayload).digest('hex'), zipInfo.sha256);
    const head = await app.inject({ method: 'HEAD', url: zipInfo.href });
    assert.equal(head.statusCode, 200);
    assert.equal(Number(head.headers['content-length']), zipInfo.bytes);
    assert.equal(head.rawPayload.length, 0);
    const notModified = await app.inject({ url: zipInfo.href, headers: { 'if-none-match': res.headers.etag as string } });
    assert.equal(notModified.statusCode, 304);

    // It is an ordinary TF.js Layers model: plain tfjs loads it (no Lopper code) and predicts.
    const members = unzipSync(new Uint8Array(res.rawPayload));
    const modelJson = JSON.parse(new TextDecoder().decode(members['model.json']));
    const weights = modelJson.weightsManifest[0];
    const pruned = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: weights.weights,
        weightData: members[weights.paths[0]].slice().buffer,
      }),
    );
    assert.equal((pruned.getLayer('fc1') as tf.layers.Layer & { units: number }).units, 8, 'half of 16 hidden units pruned');
    const y = pruned.predict(tf.ones([2, 8])) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 3]);
    assert.ok([...(await y.data())].every(Number.isFinite));

    // The downloaded zip (weights stored, not deflated) is itself a valid upload.
    const reup = await api.send('/v1/models', [{ field: 'files', filename: 'pruned.zip', content: res.rawPayload }]);
    assert.equal(reup.statusCode, 201, reup.body);
    assert.equal(reup.json().blocks[0].hidden, 8);
    assert.equal(reup.json().name, 'pruned');

    // Byte ranges of another artifact.
    const bin = done.artifacts.find((a: any) => a.name === 'weights.bin');
    const part = await app.inject({ url: bin.href, headers: { range: 'bytes=4-11' } });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 4-11/${bin.bytes}`);
    assert.equal(part.rawPayload.length, 8);
    assert.deepEqual(part.rawPayload, Buffer.from(members[weights.paths[0]].subarray(4, 12)), 'the zip holds the same weights.bin');
    assert.equal((await app.inject({ url: bin.href, headers: { range: `bytes=${bin.bytes}-` } })).statusCode, 416);
    const report = await app.inject(`${done.artifacts[3].href}`);
    assert.deepEqual(report.json(), done.report);

    // The callback got each epoch's end and the completion, signed, the last with the final record.
    const hooks = await waitFor(async () => (receiver.got('/hook').length >= 3 ? receiver.got('/hook') : null), 10_000, 'the webhooks');
    for (const h of hooks) assert.ok(verifySignature(secret, String(h.headers['lopper-signature']), h.body));
    const events = hooks.map((h) => JSON.parse(h.body));
    assert.deepEqual(events.map((e) => e.type).sort(), ['job.completed', 'job.epoch', 'job.epoch']);
    assert.deepEqual(
      events
        .filter((e) => e.type === 'job.epoch')
        .map((e) => e.data.metrics.epochs.length)
        .sort(),
      [1, 2],
    );
    assert.deepEqual(events.find((e) => e.type === 'job.completed').data, done);

    assert.ok(seenStates.has('active') || seenStates.has('queued'));
    assertProblemStatus(await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` }), 409);

    // The worker shows in /readyz with its backend.
    const ready = (await app.inject('/readyz')).json();
    assert.equal(ready.backend, env.config.backend);
    assert.equal(ready.workers.length, 1);
    assert.equal(ready.workers[0].id, worker.id);
  });
});

function assertProblemStatus(res: { statusCode: number; headers: Record<string, unknown> }, status: number) {
  assert.equal(res.statusCode, status);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
}

describe('cancellation', () => {
  test('a queued job behind an active one is removed; the active one stops within a batch and cleans up', async () => {
    const datasetId = await dataset(4000);
    const active = await createJob(longJob(datasetId));
    const queued = await createJob(longJob(datasetId));
    const running = await waitFineTuning(active.id);
    assert.equal(running.state, 'active');
    assert.equal((await getJob(queued.id)).state, 'queued', 'concurrency 1: the second waits');

    const q = await app.inject({ method: 'POST', url: `/v1/jobs/${queued.id}/cancel` });
    assert.equal(q.statusCode, 200);
    assert.equal(q.json().state, 'cancelled');

    const a = await app.inject({ method: 'POST', url: `/v1/jobs/${active.id}/cancel` });
    assert.equal(a.statusCode, 202, a.body);
    assert.equal(a.json().cancelRequested, true);
    const t0 = Date.now();
    const cancelled = await waitState(active.id, ['cancelled', 'completed', 'failed'], 20_000);
    assert.equal(cancelled.state, 'cancelled');
    assert.ok(Date.now() - t0 < 5_000, `stopped after ${Date.now() - t0} ms`);
    assert.deepEqual(cancelled.artifacts, []);
    assert.ok(!existsSync(join(env.dataDir, 'jobs', active.id)), 'no artifacts stored');
    assert.ok(!existsSync(join(env.dataDir, 'tmp', `job-${active.id}`)), 'partial files deleted');
    assertProblemStatus(await app.inject({ method: 'POST', url: `/v1/jobs/${active.id}/cancel` }), 409);

    // Neither job holds the dataset any more.
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/datasets/${datasetId}` })).statusCode, 204);
  });
});

describe('failure', () => {
  test('a dataset the pipeline rejects late fails the job with a problem, once, without retry', async () => {
    const tiny = await dataset(1); // fits the model, but one sample has no variance
    // Without evalDatasetId the API already knows nothing could be held out: 422 before enqueueing.
    const early = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { modelId, datasetId: tiny, pruning: { ratio: 0.5 } } });
    assertProblemStatus(early, 422);
    assert.equal(early.json().field, 'datasetId');
    // With separate evaluation data it is enqueued, and the pipeline rejects it at the statistics.
    const evaluation = await dataset(8);
    const job = await createJob({ modelId, datasetId: tiny, evalDatasetId: evaluation, pruning: { ratio: 0.5 }, fineTune: { epochs: 1 } });
    const failed = await waitState(job.id, ['failed', 'completed', 'cancelled'], 30_000);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error.status, 422);
    assert.equal(failed.error.field, 'datasetId');
    assert.match(failed.error.type, /invalid-input$/);
    assert.equal(failed.attempts, 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await getJob(job.id)).attempts, 1, 'not retried');
  });
});
