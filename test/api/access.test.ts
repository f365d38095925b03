// Access control against a real Redis: two tenants with their own keys, every route tried with the
// other tenant's ids (404, never 403 or 200), lists that show only the caller's records, scopes,
// revocation, the bootstrap key, open mode, /readyz and /docs, the `lopper keys` CLI, and the raw
// path spellings that once skipped authentication, sent over real HTTP.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { OUTPUT_FILES as ARTIFACT_NAMES } from '../../src/request.js';
import { client } from '../support/api.js';
import { datasetNpz, modelParts, writeTinyModel, type Part } from '../support/fixtures.js';
import { testEnv, type TestEnv } from '../support/harness.js';

const ADMIN = 'bootstrap-admin-key';
let env: TestEnv;
let app: FastifyInstance;
let files: { modelJson: Buffer; weights: Buffer };

interface Tenant {
  key: string;
  keyId: string;
  modelId: string;
  datasetId: string;
  jobId: string;
  doneJobId: string;
}
let a: Tenant;
let b: Tenant;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, field?: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = JSON.parse(res.body);
  if (field !== undefined) assert.equal(p.field, field, p.detail);
  return p;
}

async function createKey(tenant: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(ADMIN), payload: { tenant, scopes } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

const api = client(() => app);
const upload = (url: string, parts: Part[], key: string) => api.send(url, parts, bearer(key));

const jobBody = (modelId: string, datasetId: string) => ({
  modelId,
  datasetId,
  pruning: { ratio: 0.5, calibrationSamples: 32 },
  fineTune: { epochs: 1 },
});

async function setUpTenant(name: string): Promise<Tenant> {
  const { id: keyId, key } = await createKey(name, ['write']);
  const model = await upload('/v1/models', modelParts(files), key);
  assert.equal(model.statusCode, 201, model.body);
  const dataset = await upload('/v1/datasets', [{ field: 'file', filename: 'd.npz', content: datasetNpz(16) }], key);
  assert.equal(dataset.statusCode, 201, dataset.body);
  const ids = { modelId: model.json().id, datasetId: dataset.json().id };
  const job = async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(key), payload: jobBody(ids.modelId, ids.datasetId) });
    assert.equal(res.statusCode, 202, res.body);
    return res.json().id as string;
  };
  const jobId = await job();
  // A finished job with artifacts, recorded the way a worker records one (no worker runs here).
  const doneJobId = await job();
  const { lopper } = app;
  const artifacts = [];
  for (const n of ARTIFACT_NAMES) {
    const path = join(env.dataDir, `${name}-${n}`);
    await writeFile(path, `${name} ${n}`);
    const obj = await lopper.storage.putFile(`jobs/${doneJobId}/${n}`, path);
    artifacts.push({ name: n, bytes: obj.bytes, sha256: obj.sha256 });
  }
  await lopper.queue.remove(doneJobId);
  const t = await lopper.jobs.transition(doneJobId, {
    from: ['queued'],
    to: 'completed',
    set: { artifacts, finishedAt: new Date().toISOString() },
  });
  assert.ok(t.applied);
  return { key, keyId, ...ids, jobId, doneJobId };
}

before(async () => {
  env = await testEnv({ API_KEY: ADMIN });
  app = await buildApp({ config: env.config, logger: false });
  files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
  a = await setUpTenant('team-a');
  b = await setUpTenant('team-b');
});

after(async () => {
  await app?.close();
  await env?.cleanup();
});

/** Every route that takes an id, with the ids of tenant `t`. */
function routesWithIds(t: Tenant) {
  return [
    { method: 'GET' as const, url: `/v1/models/${t.modelId}` },
    { method: 'DELETE' as const, url: `/v1/models/${t.modelId}` },
    { method: 'GET' as const, url: `/v1/datasets/${t.datasetId}` },
    { method: 'DELETE' as const, url: `/v1/datasets/${t.datasetId}` },
    { method: 'GET' as const, url: `/v1/jobs/${t.jobId}` },
    { method: 'GET' as const, url: `/v1/jobs/${t.doneJobId}` },
    { method: 'POST' as const, url: `/v1/jobs/${t.jobId}/cancel` },
    { method: 'POST' as const, url: `/v1/jobs/${t.doneJobId}/cancel` },
    ...ARTIFACT_NAMES.map((n) => ({ method: 'GET' as const, url: `/v1/jobs/${t.doneJobId}/artifacts/${n}` })),
  ];
}

describe('tenants', () => {
  test("every route answers 404 for the other tenant's ids, and works for the owner's", async () => {
    for (const [caller, other] of [
      [a, b],
      [b, a],
    ]) {
      for (const route of routesWithIds(other)) {
        const res = await app.inject({ ...route, headers: bearer(caller.key) });
        const p = assertProblem(res, 404);
        assert.match(p.detail, /does not exist/, `${route.method} ${route.url}`);
      }
      // Another tenant's model or dataset in a job request is as unknown as a missing one.
      for (const [body, field] of [
        [jobBody(other.modelId, caller.datasetId), 'modelId'],
        [jobBody(caller.modelId, other.datasetId), 'datasetId'],
        [{ ...jobBody(caller.modelId, caller.datasetId), evalDatasetId: other.datasetId }, 'evalDatasetId'],
      ] as const) {
        assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(caller.key), payload: body }), 404, field);
      }
    }
    // Nothing of B's changed: its records are all there, its queued job still queued.
    for (const route of routesWithIds(b).filter((r) => r.method === 'GET')) {
      const res = await app.inject({ ...route, headers: bearer(b.key) });
      assert.equal(res.statusCode, 200, `${route.url}: ${res.body}`);
    }
    assert.equal((await app.inject({ url: `/v1/jobs/${b.jobId}`, headers: bearer(b.key) })).json().state, 'queued');
    const artifact = await app.inject({ url: `/v1/jobs/${b.doneJobId}/artifacts/report.json`, headers: bearer(b.key) });
    assert.equal(artifact.body, 'team-b report.json');
  });

  test("lists show only the caller's records", async () => {
    for (const t of [a, b]) {
      const list = async (url: string) =>
        (await app.inject({ url, headers: bearer(t.key) })).json().items.map((r: { id: string; tenant: string }) => r.id);
      assert.deepEqual(await list('/v1/models'), [t.modelId]);
      assert.deepEqual(await list('/v1/datasets'), [t.datasetId]);
      assert.deepEqual((await list('/v1/jobs')).sort(), [t.jobId, t.doneJobId].sort());
      assert.deepEqual(await list('/v1/jobs?state=queued'), [t.jobId]);
    }
    // The bootstrap admin belongs to tenant "default", which has nothing.
    assert.deepEqual((await app.inject({ url: '/v1/models', headers: bearer(ADMIN) })).json().items, []);
    const me = (await app.inject({ url: '/v1/me', headers: bearer(a.key) })).json();
    assert.equal(me.tenant, 'team-a');
    assert.deepEqual(me.usage, { storedBytes: me.usage.storedBytes, models: 1, datasets: 1, jobs: 1 });
    assert.ok(me.usage.storedBytes > 0);
  });

  test('Idempotency-Key is per tenant: the same key in two tenants makes two jobs', async () => {
    const post = (t: Tenant) =>
      app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { ...bearer(t.key), 'idempotency-key': 'nightly-1' },
        payload: jobBody(t.modelId, t.datasetId),
      });
    const [ra, rb, ra2] = [await post(a), await post(b), await post(a)];
    assert.equal(ra.statusCode, 202, ra.body);
    assert.equal(rb.statusCode, 202, rb.body);
    assert.notEqual(ra.json().id, rb.json().id);
    assert.equal(ra2.json().id, ra.json().id);
    assert.equal(rb.json().tenant, 'team-b');
  });
});

describe('keys and scopes', () => {
  test('a read key reads but cannot write; a write key cannot administer', async () => {
    const reader = await createKey('team-a', ['read']);
    const h = bearer(reader.key);
    assert.equal((await app.inject({ url: `/v1/models/${a.modelId}`, headers: h })).statusCode, 200);
    const writes = [
      () => upload('/v1/models', modelParts(files), reader.key),
      () => upload('/v1/datasets', [{ field: 'file', filename: 'd.npz', content: datasetNpz(4) }], reader.key),
      () => app.inject({ method: 'POST', url: '/v1/jobs', headers: h, payload: jobBody(a.modelId, a.datasetId) }),
      () => app.inject({ method: 'POST', url: `/v1/jobs/${a.jobId}/cancel`, headers: h }),
      () => app.inject({ method: 'DELETE', url: `/v1/models/${a.modelId}`, headers: h }),
      () => app.inject({ method: 'DELETE', url: `/v1/datasets/${a.datasetId}`, headers: h }),
    ];
    for (const w of writes) assertProblem(await w(), 403, 'Authorization');
    for (const key of [reader.key, a.key]) {
      for (const route of [
        { method: 'GET' as const, url: '/v1/keys' },
        { method: 'POST' as const, url: '/v1/keys', payload: { tenant: 'team-a', scopes: ['admin'] } },
        { method: 'DELETE' as const, url: `/v1/keys/${a.keyId}` },
        { method: 'GET' as const, url: '/v1/tenants/team-b' },
        { method: 'PATCH' as const, url: '/v1/tenants/team-a/quota', payload: { models: 1e6 } },
      ]) {
        assertProblem(await app.inject({ ...route, headers: bearer(key) }), 403, 'Authorization');
      }
    }
    assert.equal((await app.inject({ url: `/v1/jobs/${a.jobId}`, headers: bearer(a.key) })).json().cancelRequested, false);
  });

  test("a tenant's admin key administers its own tenant only; the operator's administers all", async () => {
    const own = await createKey('team-a', ['admin']);
    const h = bearer(own.key);
    const mine = await app.inject({ method: 'POST', url: '/v1/keys', headers: h, payload: { tenant: 'team-a', scopes: ['read'] } });
    assert.equal(mine.statusCode, 201, mine.body);
    assertProblem(
      await app.inject({ method: 'POST', url: '/v1/keys', headers: h, payload: { tenant: 'team-b', scopes: ['admin'] } }),
      403,
      'tenant',
    );
    const listed = (await app.inject({ url: '/v1/keys', headers: h })).json().items;
    assert.ok(listed.length >= 3 && listed.every((k: { tenant: string }) => k.tenant === 'team-a'));
    assert.deepEqual((await app.inject({ url: '/v1/keys?tenant=team-b', headers: h })).json().items, []);
    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/keys/${b.keyId}`, headers: h }), 404, 'keyId');
    assert.equal((await app.inject({ url: '/v1/me', headers: bearer(b.key) })).statusCode, 200, "team-b's key still works");
    assert.equal((await app.inject({ url: '/v1/tenants/team-a', headers: h })).statusCode, 200);
    assertProblem(await app.inject({ url: '/v1/tenants/team-b', headers: h }), 404, 'tenant');
    assertProblem(await app.inject({ method: 'PATCH', url: '/v1/tenants/team-a/quota', headers: h, payload: { models: 1e6 } }), 403);
    assert.deepEqual((await app.inject({ url: '/readyz', headers: h })).json(), { status: 'ready' });
    // Its data routes are its tenant's, as for any key.
    assert.deepEqual(
      (await app.inject({ url: '/v1/models', headers: h })).json().items.map((m: { id: string }) => m.id),
      [a.modelId],
    );
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/keys/${mine.json().id}`, headers: h })).statusCode, 204);
    // The operator (admin of "default") sees every tenant's keys.
    const all = (await app.inject({ url: '/v1/keys', headers: bearer(ADMIN) })).json().items.map((k: { tenant: string }) => k.tenant);
    assert.ok(all.includes('team-a') && all.includes('team-b'));
  });

  test('keys are listed without secrets, stored hashed, and a revoked key is refused at once', async () => {
    const k = await createKey('team-c', ['read']);
    assert.match(k.key, /^lop_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const listed = (await app.inject({ url: '/v1/keys?tenant=team-c', headers: bearer(ADMIN) })).json().items;
    assert.deepEqual(
      listed.map((x: { id: string }) => x.id),
      [k.id],
    );
    assert.ok(!JSON.stringify(listed).includes(k.key.split('_').pop()!));
    // Nowhere in Redis is the secret in clear.
    const secret = k.key.split('_').slice(2).join('_');
    for (const name of await env.redis.client.keys(`${env.config.prefix}:apikey:*`)) {
      const values = await env.redis.client.hvals(name);
      assert.ok(!values.some((v) => v.includes(secret)), name);
    }
    assert.equal((await app.inject({ url: '/v1/me', headers: bearer(k.key) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/keys/${k.id}`, headers: bearer(ADMIN) })).statusCode, 204);
    const started = Date.now();
    assertProblem(await app.inject({ url: '/v1/me', headers: bearer(k.key) }), 401, 'Authorization');
    assert.ok(Date.now() - started < 1000);
    assertProblem(await app.inject({ method: 'DELETE', url: `/v1/keys/${k.id}`, headers: bearer(ADMIN) }), 404, 'keyId');
  });

  test('missing, malformed and unknown keys are 401 with WWW-Authenticate', async () => {
    for (const headers of [
      {},
      { authorization: 'Basic Zm9vOmJhcg==' },
      { authorization: 'Bearer' },
      bearer('lop_0123456789abcdef_' + 'x'.repeat(43)),
      bearer(`${ADMIN}x`),
    ]) {
      const res = await app.inject({ url: '/v1/models', headers });
      assertProblem(res, 401, 'Authorization');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  });

  test("admin routes: a tenant's quota and usage, overrides and resets", async () => {
    const res = await app.inject({
      method: 'PATCH',
      url: '/v1/tenants/team-a/quota',
      headers: bearer(ADMIN),
      payload: { models: 5, jobs: null },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().quota.models, 5);
    assert.deepEqual(res.json().overridden, ['models']);
    assert.equal(res.json().quota.jobs, env.config.quotaJobs);
    assertProblem(
      await app.inject({ method: 'PATCH', url: '/v1/tenants/team-a/quota', headers: bearer(ADMIN), payload: { models: -1 } }),
      422,
      'models',
    );
    assertProblem(
      await app.inject({ method: 'PATCH', url: '/v1/tenants/team-a/quota', headers: bearer(ADMIN), payload: { bogus: 1 } }),
      422,
    );
    assertProblem(await app.inject({ url: '/v1/tenants/Team%20A', headers: bearer(ADMIN) }), 404, 'tenant');
    const reset = await app.inject({ method: 'PATCH', url: '/v1/tenants/team-a/quota', headers: bearer(ADMIN), payload: { models: null } });
    assert.deepEqual(reset.json().overridden, []);
  });
});

describe('probes and docs', () => {
  test('/readyz says only ready to the public and shows workers to admins', async () => {
    assert.deepEqual((await app.inject('/readyz')).json(), { status: 'ready' });
    assert.deepEqual((await app.inject({ url: '/readyz', headers: bearer(a.key) })).json(), { status: 'ready' });
    const full = (await app.inject({ url: '/readyz', headers: bearer(ADMIN) })).json();
    assert.deepEqual(full.workers, []);
    assert.equal(full.redis, 'ok');
  });

  test('DOCS_PUBLIC=false puts /docs and /openapi.yaml behind a key', async () => {
    const closed = await testEnv({ API_KEY: ADMIN, DOCS_PUBLIC: 'false' });
    const app2 = await buildApp({ config: closed.config, logger: false });
    try {
      for (const url of ['/openapi.yaml', '/docs', '/docs/json']) {
        assertProblem(await app2.inject(url), 401, 'Authorization');
        const ok = await app2.inject({ url, headers: bearer(ADMIN) });
        assert.ok(ok.statusCode < 400, `${url}: ${ok.statusCode}`);
      }
      assert.equal((await app.inject('/openapi.yaml')).statusCode, 200, 'public by default');
    } finally {
      await app2.close();
      await closed.cleanup();
    }
  });
});

describe('open mode and the CLI', () => {
  test('AUTH_REQUIRED=true never runs open, even before the first key', async () => {
    const strict = await testEnv({ AUTH_REQUIRED: 'true' });
    const app2 = await buildApp({ config: strict.config, logger: false });
    try {
      assertProblem(await app2.inject('/v1/models'), 401, 'Authorization');
      assert.deepEqual((await app2.inject('/readyz')).json(), { status: 'ready' });
    } finally {
      await app2.close();
      await strict.cleanup();
    }
  });

  test('with no key configured the service is open, until the first key is created', async () => {
    const open = await testEnv();
    const app2 = await buildApp({ config: open.config, logger: false });
    try {
      assert.equal((await app2.inject('/v1/models')).statusCode, 200);
      assert.equal((await app2.inject('/v1/me')).json().tenant, 'default');
      const run = promisify(execFile);
      const cli = (...args: string[]) =>
        run(process.execPath, ['bin/lopper.js', 'keys', ...args], { env: { ...process.env, ...open.env } });
      const created = JSON.parse((await cli('create', '--tenant', 'ops', '--scope', 'read', '--scope', 'admin', '--json')).stdout);
      assert.deepEqual(Object.keys(created).sort(), ['id', 'key', 'scopes', 'tenant']);
      assert.deepEqual(created.scopes, ['read', 'admin']);
      assert.equal(created.tenant, 'ops');
      // From now on a request without a key is refused; the new admin key works.
      assertProblem(await app2.inject('/v1/models'), 401, 'Authorization');
      const listed = await app2.inject({ url: '/v1/keys', headers: bearer(created.key) });
      assert.deepEqual(
        listed.json().items.map((k: { id: string }) => k.id),
        [created.id],
      );
      assert.match((await cli('list')).stdout, new RegExp(`^${created.id}  ops  read,admin`));
      assert.deepEqual(JSON.parse((await cli('list', '--tenant', 'other', '--json')).stdout), []);
      assert.equal((await cli('revoke', created.id)).stdout, `revoked ${created.id}\n`);
      assertProblem(await app2.inject({ url: '/v1/keys', headers: bearer(created.key) }), 401);
      await assert.rejects(
        cli('revoke', created.id),
        (err: { code: number; stderr: string }) => err.code === 2 && /no key/.test(err.stderr),
      );
      await assert.rejects(
        cli('create', '--tenant', 'Bad Name'),
        (err: { code: number; stderr: string }) => err.code === 2 && /--tenant/.test(err.stderr),
      );
      await assert.rejects(
        cli('create', '--tenant', 'x', '--scope', 'root'),
        (err: { code: number; stderr: string }) => err.code === 2 && /--scope/.test(err.stderr),
      );
      // Revoking the last key does not reopen the service.
      assertProblem(await app2.inject('/v1/models'), 401);
    } finally {
      await app2.close();
      await open.cleanup();
    }
  });
});

/** A raw HTTP request: the path goes on the wire exactly as written. */
function raw(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authentication cannot be skipped by spelling the path differently', () => {
  test('percent-encoded, double-slash, dot-segment, mixed-case and trailing-slash paths are all refused', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const spellings = (path: string) => {
      const rest = path.slice('/v1/'.length);
      return [
        path,
        `/%761/${rest}`,
        `/%76%31/${rest}`,
        `/v%31/${rest}`,
        `/%56%31/${rest}`,
        `/v1/%${rest.charCodeAt(0).toString(16)}${rest.slice(1)}`,
        `//v1/${rest}`,
        `/v1//${rest}`,
        `/./v1/${rest}`,
        `/v1/./${rest}`,
        `/x/../v1/${rest}`,
        `/v1/%2e/${rest}`,
        `/V1/${rest}`,
        `/v1/${rest.toUpperCase()}`,
        `${path}/`,
        `${path}?x=1`,
        `${path}#frag`,
        `${path};x`,
        `/v1/${rest.replaceAll('/', '%2f')}`,
      ];
    };
    const targets = [
      ['GET', '/v1/models'],
      ['GET', `/v1/models/${a.modelId}`],
      ['DELETE', `/v1/models/${a.modelId}`],
      ['GET', '/v1/datasets'],
      ['DELETE', `/v1/datasets/${a.datasetId}`],
      ['GET', `/v1/jobs/${a.doneJobId}/artifacts/report.json`],
      ['POST', `/v1/jobs/${a.jobId}/cancel`],
      ['POST', '/v1/models'],
      ['POST', '/v1/jobs'],
      ['GET', '/v1/keys'],
      ['GET', '/v1/me'],
    ];
    let tried = 0;
    for (const [method, path] of targets) {
      for (const p of spellings(path)) {
        const res = await raw(port, method, p);
        tried++;
        assert.ok([400, 401, 404].includes(res.status), `${method} ${p} answered ${res.status} without a key: ${res.body.slice(0, 200)}`);
      }
    }
    assert.ok(tried > 200);
    // Nothing was deleted or cancelled along the way.
    assert.equal((await app.inject({ url: `/v1/models/${a.modelId}`, headers: bearer(a.key) })).statusCode, 200);
    assert.equal((await app.inject({ url: `/v1/datasets/${a.datasetId}`, headers: bearer(a.key) })).statusCode, 200);
    assert.equal((await app.inject({ url: `/v1/jobs/${a.jobId}`, headers: bearer(a.key) })).json().cancelRequested, false);
  });
});
