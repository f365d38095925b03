// Every 4xx path of the HTTP API, against a real Redis and the real inspection code. No worker runs
// here, so jobs stay queued: that is what the "in use" and "cancel queued" cases need.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { zipSync } from 'fflate';
import { buildApp } from '../../src/api/app.js';
import { client } from '../support/api.js';
import { datasetNpz, modelParts, multipart, writeTinyModel } from '../support/fixtures.js';
import { testEnv, type TestEnv } from '../support/harness.js';

let env: TestEnv;
let app: FastifyInstance;
let files: { modelJson: Buffer; weights: Buffer };
const api = client(() => app);
const upload = api.send;
const uploadModel = () => api.uploadModel(files);
const uploadDataset = (n = 64, dim = 8) => api.uploadDataset(n, dim, 'train.npz');

before(async () => {
  env = await testEnv();
  app = await buildApp({ config: env.config, logger: false });
  files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
});

after(async () => {
  await app.close();
  await env.cleanup();
});

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, field?: string) {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = res.json();
  for (const k of ['type', 'title', 'status', 'detail', 'instance']) assert.ok(k in p, `problem lacks ${k}`);
  assert.equal(p.status, status);
  if (field !== undefined) assert.equal(p.field, field, p.detail);
  return p;
}

const jobBody = (modelId: string, datasetId: string) => ({
  modelId,
  datasetId,
  pruning: { ratio: 0.5, calibrationSamples: 32 },
  fineTune: { epochs: 1 },
});

describe('uploads', () => {
  test('a model folder and a zip are accepted and inspected', async () => {
    const res = await upload('/v1/models', [...modelParts(files), { field: 'name', content: 'tiny' }]);
    assert.equal(res.statusCode, 201, res.body);
    const m = res.json();
    assert.equal(m.name, 'tiny');
    assert.equal(res.headers.location, `/v1/models/${m.id}`);
    assert.deepEqual(m.inputShape, [null, 8]);
    assert.equal(m.blocks.length, 1);
    assert.deepEqual(m.files.map((f: any) => f.name).sort(), ['model.json', 'weights.bin']);
    assert.match(m.files[0].sha256, /^[0-9a-f]{64}$/);

    const zip = zipSync({ 'tiny/model.json': files.modelJson, 'tiny/weights.bin': files.weights });
    const z = await upload('/v1/models', [{ field: 'model', filename: 'tiny.zip', content: zip }]);
    assert.equal(z.statusCode, 201, z.body);
    assert.equal(z.json().name, 'tiny');
    const got = await app.inject(`/v1/models/${z.json().id}`);
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().params, m.params);
  });

  test('a request that is not multipart is 415', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/models', payload: { a: 1 } });
    assertProblem(res, 415, 'Content-Type');
  });

  test('no files is 400 naming "files"; an unexpected form field is 400 naming it', async () => {
    assertProblem(await upload('/v1/models', [{ field: 'name', content: 'x' }]), 400, 'files');
    assertProblem(await upload('/v1/models', [...modelParts(files), { field: 'colour', content: 'red' }]), 400, 'colour');
  });

  test('a cut-off multipart body is 400', async () => {
    const body = multipart(modelParts(files));
    const res = await app.inject({ method: 'POST', url: '/v1/models', payload: body.payload.subarray(0, 300), headers: body.headers });
    assertProblem(res, 400);
  });

  test('weights without model.json is 422 naming model.json', async () => {
    assertProblem(await upload('/v1/models', [{ field: 'files', filename: 'weights.bin', content: files.weights }]), 422, 'model.json');
  });

  test('a manifest naming a shard that was not uploaded is 422 naming the manifest entry', async () => {
    const p = assertProblem(await upload('/v1/models', [modelParts(files)[0]]), 422, 'weightsManifest[0].paths[0]');
    assert.match(p.detail, /weights\.bin/);
  });

  test('a shard whose size does not match the manifest is 422', async () => {
    const short = [modelParts(files)[0], { field: 'files', filename: 'weights.bin', content: files.weights.subarray(0, 40) }];
    const p = assertProblem(await upload('/v1/models', short), 422, 'weightsManifest[0]');
    assert.match(p.detail, /bytes/);
  });

  test('a topology that does not load is 422', async () => {
    const json = JSON.parse(files.modelJson.toString());
    json.modelTopology.config.layers[0].class_name = 'NoSuchLayer';
    const parts = [{ field: 'files', filename: 'model.json', content: JSON.stringify(json) }, modelParts(files)[1]];
    assertProblem(await upload('/v1/models', parts), 422, 'model.json');
  });

  test('datasets: no file 400, not .npz 422, corrupt .npz 422, all naming the field', async () => {
    assertProblem(await upload('/v1/datasets', [{ field: 'name', content: 'x' }]), 400, 'file');
    assertProblem(await upload('/v1/datasets', [{ field: 'file', filename: 'train.csv', content: '1,2' }]), 422, 'file');
    const cut = datasetNpz(32).subarray(0, 200);
    assertProblem(await upload('/v1/datasets', [{ field: 'file', filename: 'train.npz', content: cut }]), 422, 'file');
    const ok = await upload('/v1/datasets', [{ field: 'file', filename: 'train.npz', content: datasetNpz(32) }]);
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual((({ samples, xShape, xDtype, hasLabels, classes }) => ({ samples, xShape, xDtype, hasLabels, classes }))(ok.json()), {
      samples: 32,
      xShape: [32, 8],
      xDtype: 'float32',
      hasLabels: true,
      classes: 3,
    });
    // Hashed by the inspector's thread, not as it streamed in: still the uploaded bytes' SHA-256.
    assert.equal(ok.json().sha256, createHash('sha256').update(datasetNpz(32)).digest('hex'));
    assert.equal(ok.json().bytes, datasetNpz(32).length);
  });

  test('failed uploads leave no temp file and no stored file', async () => {
    assert.deepEqual(await readdir(join(env.dataDir, 'tmp')), []);
  });
});

describe('unknown ids and routes are 404', () => {
  for (const [method, url] of [
    ['GET', '/v1/models/nope'],
    ['DELETE', '/v1/models/nope'],
    ['GET', '/v1/datasets/nope'],
    ['DELETE', '/v1/datasets/nope'],
    ['GET', '/v1/jobs/nope'],
    ['POST', '/v1/jobs/nope/cancel'],
    ['GET', '/v1/jobs/nope/artifacts/model.zip'],
    ['GET', '/v1/models/has%20space'],
  ] as const) {
    test(`${method} ${url}`, async () => {
      assertProblem(await app.inject({ method, url }), 404, 'id');
    });
  }
  test('an unknown route', async () => {
    assertProblem(await app.inject('/v2/nothing'), 404, 'path');
  });
});

describe('jobs', () => {
  let modelId: string;
  let datasetId: string;
  before(async () => {
    modelId = await uploadModel();
    datasetId = await uploadDataset();
  });

  test('bodies that break the schema are 422 naming the path', async () => {
    const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object });
    assertProblem(await post({ ...jobBody(modelId, datasetId), pruning: { ratio: 2 } }), 422, 'pruning.ratio');
    const both = assertProblem(
      await post({ ...jobBody(modelId, datasetId), pruning: { ratio: 0.5, target: { macsReduction: 0.4 } } }),
      422,
    );
    assert.deepEqual(
      both.errors.map((e: { field: string }) => e.field),
      ['pruning.ratio', 'pruning.target'],
    );
    assertProblem(await post({ datasetId, pruning: { ratio: 0.5 } }), 422, 'modelId');
    assertProblem(await post({ ...jobBody(modelId, datasetId), fineTune: { epochs: 1, colour: 'red' } }), 422, 'fineTune.colour');
    assertProblem(await post({ ...jobBody(modelId, datasetId), pruning: { ratio: 0.5, criterion: 'vibes' } }), 422, 'pruning.criterion');
  });

  test('a body that is not JSON is 400; another media type is 415', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: '{"modelId":',
      headers: { 'content-type': 'application/json' },
    });
    assertProblem(bad, 400);
    const text = await app.inject({ method: 'POST', url: '/v1/jobs', payload: 'hello', headers: { 'content-type': 'text/plain' } });
    assertProblem(text, 415);
  });

  test('unknown model or dataset ids are 404 naming the field', async () => {
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/jobs', payload });
    assertProblem(await post(jobBody('missing', datasetId)), 404, 'modelId');
    assertProblem(await post(jobBody(modelId, 'missing')), 404, 'datasetId');
    assertProblem(await post({ ...jobBody(modelId, datasetId), evalDatasetId: 'missing' }), 404, 'evalDatasetId');
  });

  test('a dataset whose samples do not fit the model input is 422 before enqueueing', async () => {
    const wide = await uploadDataset(16, 5);
    const p = assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', payload: jobBody(modelId, wide) }), 422, 'datasetId');
    assert.match(p.detail, /\[5\]/);
    assert.equal(await env.redis.client.zcard(`${env.config.prefix}:jobs`), 0);
  });

  test('create, read, list; delete in use is 409; cancel queued; cancel again is 409', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: jobBody(modelId, datasetId) });
    assert.equal(res.statusCode, 202, res.body);
    const job = res.json();
    assert.equal(res.headers.location, `/v1/jobs/${job.id}`);
    assert.equal(job.state, 'queued');
    assert.equal(job.request.pruning.criterion, 'variance', 'defaults are filled in');
    assert.equal(job.request.fineTune.learningRate, 'auto', 'the rate is searched for by default');

    const listed = await app.inject('/v1/jobs?state=queued&limit=5');
    assert.equal(listed.statusCode, 200);
    assert.ok(listed.json().items.some((j: any) => j.id === job.id));
    assertProblem(await app.inject('/v1/jobs?state=sleeping'), 400, 'state');
    assertProblem(await app.inject('/v1/jobs?limit=0'), 400, 'limit');
    assertProblem(await app.inject('/v1/jobs?cursor=bm9wZQ'), 400, 'cursor');

    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/models/${modelId}` }), 409, 'id');
    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/datasets/${datasetId}` }), 409, 'id');
    assertProblem(await app.inject(`/v1/jobs/${job.id}/artifacts/model.zip`), 404, 'name');
    assertProblem(await app.inject(`/v1/jobs/${job.id}/artifacts/secrets.txt`), 404, 'name');

    const cancelled = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.equal(cancelled.json().state, 'cancelled');
    assert.equal(await env.redis.client.exists(`${env.config.prefix}:bull:prune:${job.id}`), 0, 'removed from the queue');
    assertProblem(await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` }), 409, 'id');

    // Nothing uses them any more: deletes succeed, and remove the files.
    const del = await app.inject({ method: 'DELETE', url: `/v1/models/${modelId}` });
    assert.equal(del.statusCode, 204);
    assertProblem(await app.inject(`/v1/models/${modelId}`), 404);
    assert.ok(!(await readdir(join(env.dataDir, 'models'))).includes(modelId));
    modelId = await uploadModel();
  });

  test('Idempotency-Key: same key and body give the same job; another body is 422', async () => {
    const headers = { 'idempotency-key': 'abc-123' };
    const a = await app.inject({ method: 'POST', url: '/v1/jobs', payload: jobBody(modelId, datasetId), headers });
    const b = await app.inject({ method: 'POST', url: '/v1/jobs', payload: jobBody(modelId, datasetId), headers });
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.equal(a.json().id, b.json().id);
    const other = { ...jobBody(modelId, datasetId), pruning: { ratio: 0.25 } };
    assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', payload: other, headers }), 422, 'Idempotency-Key');
    const c = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: jobBody(modelId, datasetId),
      headers: { 'idempotency-key': 'other' },
    });
    assert.notEqual(c.json().id, a.json().id);
  });
});

describe('service routes', () => {
  test('healthz, readyz and the OpenAPI document', async () => {
    assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' });
    const ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().redis, 'ok');
    assert.deepEqual(ready.json().workers, []);
    const spec = await app.inject('/openapi.yaml');
    assert.equal(spec.statusCode, 200);
    assert.match(spec.body, /^openapi: 3\.1/);
    const docs = await app.inject('/docs');
    assert.ok([200, 302].includes(docs.statusCode));
  });

  test("request ids are returned, and a caller's is kept", async () => {
    const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'trace-42' } });
    assert.equal(res.headers['x-request-id'], 'trace-42');
  });
});

describe('limits and auth', () => {
  test('an upload over MAX_UPLOAD_BYTES is 413 and leaves nothing behind', async () => {
    const small = await testEnv({ MAX_UPLOAD_BYTES: '1000' });
    const app2 = await buildApp({ config: small.config, logger: false });
    try {
      const body = multipart(modelParts(files)); // weights.bin alone is over 1000 bytes
      const res = await app2.inject({ method: 'POST', url: '/v1/models', payload: body.payload, headers: body.headers });
      assertProblem(res, 413, 'body');
      const zip = zipSync({ 'model.json': files.modelJson, 'weights.bin': new Uint8Array(5000) });
      assert.ok(zip.length < 1000, 'the zip itself fits');
      const unzipped = multipart([{ field: 'files', filename: 'm.zip', content: zip }]);
      assertProblem(await app2.inject({ method: 'POST', url: '/v1/models', payload: unzipped.payload, headers: unzipped.headers }), 413);
      assert.deepEqual(await readdir(join(small.dataDir, 'tmp')), []);
      assert.deepEqual((await readdir(small.dataDir)).sort(), ['tmp']);
      const keys = await small.redis.client.keys('*');
      const records = keys.filter(
        (k) => !k.startsWith(`${small.config.prefix}:bull:`) && !k.startsWith(`${small.config.prefix}:ratelimit:`),
      );
      assert.deepEqual(records, [], 'no Lopper record');
    } finally {
      await app2.close();
      await small.cleanup();
    }
  });

  test('with API_KEY set, /v1 needs the bearer token; probes stay open', async () => {
    const locked = await testEnv({ API_KEY: 's3cret' });
    const app3 = await buildApp({ config: locked.config, logger: false });
    try {
      assertProblem(await app3.inject('/v1/models'), 401, 'Authorization');
      assertProblem(await app3.inject({ url: '/v1/models', headers: { authorization: 'Bearer wrong' } }), 401);
      assert.equal((await app3.inject({ url: '/v1/models', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
      assert.equal((await app3.inject('/healthz')).statusCode, 200);
    } finally {
      await app3.close();
      await locked.cleanup();
    }
  });
});
