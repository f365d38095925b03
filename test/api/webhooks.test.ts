// Webhooks through the API: a tenant registers an endpoint (the signing secret is shown once), a job
// carries a callbackUrl, and when the job ends (here: cancelled while queued, no pruning worker
// needed) both get the signed event through the real webhook worker; a callback failing twice gets
// it three times and the job's delivery log shows every attempt. Another tenant sees none of it;
// private, loopback and link-local targets are refused unless WEBHOOK_ALLOW_CIDRS allows them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/api/app.js';
import { startWebhookWorker } from '../../src/webhooks/queue.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verifySignature } from '../../src/webhooks/signature.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { client } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { testEnv, waitFor, type TestEnv } from '../support/harness.js';

const ADMIN = 'webhook-admin';
let env: TestEnv;
let app: FastifyInstance;
let webhooks: { close(): Promise<void> };
let receiver: Receiver;
let files: { modelJson: Buffer; weights: Buffer };

before(async () => {
  env = await testEnv({ API_KEY: ADMIN, WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32', WEBHOOK_BACKOFF_MS: '20' });
  app = await buildApp({ config: env.config, logger: false });
  webhooks = startWebhookWorker({ config: env.config, log: pino({ level: 'silent' }) });
  receiver = await startReceiver();
  files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
});

after(async () => {
  await webhooks?.close();
  await app?.close();
  await receiver?.close();
  await env?.cleanup();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function tenantKey(tenant: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/keys', headers: bearer(ADMIN), payload: { tenant, scopes: ['write'] } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().key;
}

async function modelAndData(key: string) {
  const api = client(() => app, bearer(key));
  return { modelId: await api.uploadModel(files), datasetId: await api.uploadDataset(16) };
}

describe('webhooks through the API', () => {
  test('endpoint + callbackUrl: signed events, retries until accepted, every attempt in the delivery log, nothing for other tenants', async () => {
    const key = await tenantKey('hooks-a');
    const other = await tenantKey('hooks-b');
    const ep = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(key),
      payload: { url: `${receiver.base}/endpoint` },
    });
    assert.equal(ep.statusCode, 201, ep.body);
    const secret: string = ep.json().secret;
    assert.match(secret, /^whsec_/);
    assert.deepEqual(ep.json().events, ['job.completed', 'job.failed', 'job.cancelled']);
    // The secret is shown once: the next endpoint's reply does not carry it.
    const ep2 = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(key),
      payload: { url: `${receiver.base}/epochs-only`, events: ['job.epoch'] },
    });
    assert.equal(ep2.statusCode, 201, ep2.body);
    assert.equal(ep2.json().secret, undefined);
    const listed = (await app.inject({ url: '/v1/webhooks', headers: bearer(key) })).json().items;
    assert.deepEqual(
      listed.map((e: { url: string }) => e.url),
      [`${receiver.base}/endpoint`, `${receiver.base}/epochs-only`],
    );

    receiver.script('/callback', (res, n) => {
      res.statusCode = n <= 2 ? 500 : 200;
      res.end();
    });
    const { modelId, datasetId } = await modelAndData(key);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: bearer(key),
      payload: { modelId, datasetId, pruning: { ratio: 0.5 }, callbackUrl: `${receiver.base}/callback` },
    });
    assert.equal(created.statusCode, 202, created.body);
    assert.equal(created.json().webhookSecret, undefined, 'the tenant already had a secret');
    const jobId = created.json().id;
    assert.equal((await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: bearer(key) })).statusCode, 200);

    await waitFor(async () => receiver.got('/callback').length >= 3 && receiver.got('/endpoint').length >= 1, 15_000, 'the deliveries');
    const calls = receiver.got('/callback');
    assert.equal(calls.length, 3);
    for (const c of [...calls, ...receiver.got('/endpoint')]) {
      assert.ok(verifySignature(secret, String(c.headers[SIGNATURE_HEADER.toLowerCase()]), c.body), 'signature verifies');
      assert.equal(c.headers[EVENT_HEADER.toLowerCase()], 'job.cancelled');
      const body = JSON.parse(c.body);
      assert.equal(body.type, 'job.cancelled');
      assert.equal(body.data.id, jobId);
      assert.equal(body.data.state, 'cancelled');
      assert.equal(body.data.tenant, 'hooks-a');
    }
    assert.equal(new Set(calls.map((c) => c.body)).size, 1, 'every retry sends the same bytes');
    assert.equal(new Set(calls.map((c) => c.headers[DELIVERY_HEADER.toLowerCase()])).size, 1, 'and the same delivery id');
    assert.equal(receiver.got('/epochs-only').length, 0);

    const log = await waitFor(
      async () => {
        const items = (await app.inject({ url: `/v1/jobs/${jobId}/deliveries`, headers: bearer(key) })).json().items;
        return items.length >= 4 ? items : null;
      },
      5000,
      'the delivery log',
    );
    const callbackLog = log.filter((d: { url: string }) => d.url.endsWith('/callback'));
    assert.deepEqual(
      callbackLog.map((d: { attempt: number; status: number; ok: boolean }) => [d.attempt, d.status, d.ok]),
      [
        [1, 500, false],
        [2, 500, false],
        [3, 200, true],
      ],
    );
    assert.equal(log.filter((d: { url: string; ok: boolean }) => d.url.endsWith('/endpoint') && d.ok).length, 1);

    // The other tenant: 404 for the job's log and the endpoints, an empty list of its own.
    assert.equal((await app.inject({ url: `/v1/jobs/${jobId}/deliveries`, headers: bearer(other) })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.json().id}`, headers: bearer(other) })).statusCode, 404);
    assert.deepEqual((await app.inject({ url: '/v1/webhooks', headers: bearer(other) })).json().items, []);
    // The owner deletes it; rotation shows a new secret.
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.json().id}`, headers: bearer(key) })).statusCode, 204);
    const rotated = await app.inject({ method: 'POST', url: '/v1/webhooks/secret', headers: bearer(key) });
    assert.equal(rotated.statusCode, 201);
    assert.notEqual(rotated.json().secret, secret);
  });

  test("a tenant's first callbackUrl mints its secret and the 202 shows it once", async () => {
    const key = await tenantKey('hooks-c');
    const { modelId, datasetId } = await modelAndData(key);
    const job = (n: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: bearer(key),
        payload: { modelId, datasetId, pruning: { ratio: 0.5 }, callbackUrl: `${receiver.base}/c${n}` },
      });
    const first = await job(1);
    assert.equal(first.statusCode, 202, first.body);
    assert.match(first.json().webhookSecret, /^whsec_/);
    await app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel`, headers: bearer(key) });
    const second = await job(2);
    assert.equal(second.json().webhookSecret, undefined);
    await waitFor(async () => receiver.got('/c1').length === 1, 10_000, 'the delivery');
    const c = receiver.got('/c1')[0];
    assert.ok(verifySignature(first.json().webhookSecret, String(c.headers['lopper-signature']), c.body));
  });

  test('private, loopback and link-local targets are refused without the setting; bad URLs are 422', async () => {
    const strict = await testEnv({ API_KEY: ADMIN });
    const app2 = await buildApp({ config: strict.config, logger: false });
    try {
      const h = bearer(ADMIN);
      for (const url of [
        `${receiver.base}/x`,
        'http://localhost:9/',
        'http://10.0.0.1/',
        'http://192.168.1.1/',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/',
        'http://[fd00::1]/',
        'http://2130706433/',
      ]) {
        const res = await app2.inject({ method: 'POST', url: '/v1/webhooks', headers: h, payload: { url } });
        assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
        assert.equal(res.json().field, 'url');
      }
      for (const url of ['ftp://example.com/', 'http://user:pw@example.com/', 'not a url', `http://example.com/${'x'.repeat(3000)}`]) {
        const res = await app2.inject({ method: 'POST', url: '/v1/webhooks', headers: h, payload: { url } });
        assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      }
      assert.deepEqual((await app2.inject({ url: '/v1/webhooks', headers: h })).json().items, []);
    } finally {
      await app2.close();
      await strict.cleanup();
    }
    // With the setting, a job's callbackUrl on a refused range is still refused.
    const key = await tenantKey('hooks-d');
    const { modelId, datasetId } = await modelAndData(key);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: bearer(key),
      payload: { modelId, datasetId, pruning: { ratio: 0.5 }, callbackUrl: 'http://10.0.0.1/' },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().field, 'callbackUrl');
    assert.deepEqual((await app.inject({ url: '/v1/jobs', headers: bearer(key) })).json().items, []);
  });
});
