// Quotas and rate limits hold across API processes: two real `service.js api` processes share one
// Redis and one DATA_DIR. The budget of a key is spent on both together; a tenant's quota is
// checked atomically, so two uploads racing on two processes for the last slot give one 201;
// a refused upload or job leaves nothing written.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { datasetNpz, modelParts, multipart, writeTinyModel, type Part } from '../support/fixtures.js';
import { freePort, testEnv, waitFor, type TestEnv } from '../support/harness.js';

const ADMIN = 'limits-admin-key';
const RATE = 8;
let env: TestEnv;
const apis: { child: ChildProcess; base: string }[] = [];
let files: { modelJson: Buffer; weights: Buffer };

async function startApi(): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/service.js', 'api'], {
    env: { ...process.env, ...env.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 20_000, 'the API to listen');
  return { child, base };
}

before(async () => {
  env = await testEnv({
    API_KEY: ADMIN,
    RATE_LIMIT_MAX: String(RATE),
    RATE_LIMIT_WINDOW_MS: '600000',
    QUOTA_MODELS: '1',
    QUOTA_JOBS: '1',
    QUOTA_STORED_BYTES: String(1024 * 1024),
  });
  files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
  apis.push(await startApi(), await startApi());
});

after(async () => {
  for (const { child } of apis) {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
  await env?.cleanup();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function call(api: number, path: string, init: { method?: string; key: string; json?: unknown; parts?: Part[] }) {
  const headers: Record<string, string> = bearer(init.key);
  let body: BodyInit | undefined;
  if (init.parts) {
    const m = multipart(init.parts);
    Object.assign(headers, m.headers);
    body = new Uint8Array(m.payload);
  } else if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${apis[api].base}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

async function newKey(tenant: string): Promise<string> {
  const res = await call(0, '/v1/keys', { key: ADMIN, json: { tenant, scopes: ['write'] } });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json.key;
}

/** Folder names under DATA_DIR/<kind> and DATA_DIR/tmp: what uploads left on disk. */
const onDisk = async (kind: string) => (await readdir(join(env.dataDir, kind)).catch(() => [])).sort();

describe('rate limits', () => {
  test("one key's budget is shared by both API processes; 429 with Retry-After and RateLimit-* headers", async () => {
    const key = await newKey('rl');
    const seen: number[] = [];
    for (let i = 0; i < RATE; i++) {
      const res = await call(i % 2, '/v1/me', { key });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.headers.get('ratelimit-limit'), String(RATE));
      seen.push(Number(res.headers.get('ratelimit-remaining')));
    }
    assert.deepEqual(
      seen,
      Array.from({ length: RATE }, (_, i) => RATE - 1 - i),
      'remaining counts down across processes',
    );
    for (const api of [0, 1]) {
      const res = await call(api, '/v1/models', { key });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(res.json.status, 429);
      assert.match(res.json.type, /too-many-requests$/);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      assert.equal(res.headers.get('ratelimit-remaining'), '0');
      assert.ok(Number(res.headers.get('ratelimit-reset')) > 0);
    }
    // Another key of the same tenant has its own budget.
    const other = await newKey('rl');
    assert.equal((await call(1, '/v1/me', { key: other })).status, 200);
  });
});

describe('failed authentication', () => {
  test('past the budget, failed attempts from one address answer 429 on either process', async () => {
    const bogus = `lop_0123456789abcdef_${'A'.repeat(43)}`;
    for (let i = 0; i < RATE; i++) assert.equal((await call(i % 2, '/v1/me', { key: bogus })).status, 401);
    for (const api of [0, 1]) {
      const res = await call(api, '/v1/me', { key: bogus });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    }
  });
});

describe('quotas', () => {
  test('the last model slot goes to one of two uploads racing on two processes; the loser leaves nothing', async () => {
    const key = await newKey('q-models');
    const [r0, r1] = await Promise.all([0, 1].map((api) => call(api, '/v1/models', { key, parts: modelParts(files) })));
    const statuses = [r0.status, r1.status].sort();
    assert.deepEqual(statuses, [201, 429], JSON.stringify([r0.json, r1.json]));
    const refused = r0.status === 429 ? r0 : r1;
    assert.equal(refused.json.field, 'quota.models');
    assert.match(refused.json.detail, /quota/);
    const kept = (r0.status === 201 ? r0 : r1).json.id;
    assert.deepEqual(await onDisk('models'), [kept]);
    await waitFor(async () => (await onDisk('tmp')).length === 0, 5000, 'temp files to go');
    // A third try is refused before its body is read.
    const third = await call(1, '/v1/models', { key, parts: modelParts(files) });
    assert.equal(third.status, 429);
    const me = await call(0, '/v1/me', { key });
    assert.equal(me.json.usage.models, 1);
    // Deleting frees the slot.
    assert.equal((await call(1, `/v1/models/${kept}`, { key, method: 'DELETE' })).status, 204);
    assert.equal((await call(0, '/v1/me', { key })).json.usage.storedBytes, 0);
    assert.equal((await call(0, '/v1/models', { key, parts: modelParts(files) })).status, 201);
  });

  test('an upload past the stored-bytes quota is 413 naming it, and nothing is written', async () => {
    const key = await newKey('q-bytes');
    const big = datasetNpz(9000, 8); // ~290 KB of float32 and labels
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(i % 2, '/v1/datasets', { key, parts: [{ field: 'file', filename: 'd.npz', content: big }] });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      ids.push(res.json.id);
    }
    const before = await onDisk('datasets');
    const res = await call(1, '/v1/datasets', { key, parts: [{ field: 'file', filename: 'd.npz', content: big }] });
    assert.equal(res.status, 413, JSON.stringify(res.json));
    assert.equal(res.json.field, 'quota.storedBytes');
    assert.deepEqual(await onDisk('datasets'), before);
    // The admin raises this tenant's quota; the same upload now fits.
    const patched = await call(0, '/v1/tenants/q-bytes/quota', { key: ADMIN, method: 'PATCH', json: { storedBytes: 10 * 1024 * 1024 } });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    assert.equal((await call(1, '/v1/datasets', { key, parts: [{ field: 'file', filename: 'd.npz', content: big }] })).status, 201);
  });

  test('queued + active jobs are capped per tenant; a cancelled job frees its slot', async () => {
    const key = await newKey('q-jobs');
    const model = await call(0, '/v1/models', { key, parts: modelParts(files) });
    const data = await call(1, '/v1/datasets', { key, parts: [{ field: 'file', filename: 'd.npz', content: datasetNpz(16) }] });
    const body = { modelId: model.json.id, datasetId: data.json.id, pruning: { ratio: 0.5 }, fineTune: { epochs: 1 } };
    const first = await call(0, '/v1/jobs', { key, json: body });
    assert.equal(first.status, 202, JSON.stringify(first.json));
    const second = await call(1, '/v1/jobs', { key, json: body });
    assert.equal(second.status, 429);
    assert.equal(second.json.field, 'quota.jobs');
    assert.equal((await call(0, '/v1/jobs', { key })).json.items.length, 1, 'the refused job left no record');
    assert.equal((await call(1, `/v1/jobs/${first.json.id}/cancel`, { key, method: 'POST' })).status, 200);
    assert.equal((await call(0, '/v1/jobs', { key, json: body })).status, 202);
  });
});
