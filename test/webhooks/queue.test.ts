// Webhooks end to end through BullMQ and a real Redis, delivering to a real receiver on 127.0.0.1:
// retries with backoff until the receiver accepts (same bytes, same delivery id, fresh valid
// signatures, every attempt in the job's log), tenant endpoints by subscription, one delivery per
// event however often it is emitted, redirects not followed, and a loopback target refused (and
// not retried) by a worker without WEBHOOK_ALLOW_CIDRS. "Nothing else arrives" is asserted once
// the queue has no waiting, delayed or active job left, so no sleep stands in for a condition.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { bullPrefix, WEBHOOK_QUEUE } from '../../src/queue/names.js';
import { redisKeys } from '../../src/store/keys.js';
import type { WebhookEvent } from '../../src/webhooks/events.js';
import { startWebhookWorker, WebhookEmitter } from '../../src/webhooks/queue.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, verifySignature } from '../../src/webhooks/signature.js';
import { WebhookStore } from '../../src/webhooks/store.js';
import { testEnv, waitFor, type TestEnv } from '../support/harness.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

const log = pino({ level: 'silent' });

/** A worker, an emitter and a view of the queue, for one configuration (prefix). */
function installation(env: TestEnv, config: Config) {
  const worker = startWebhookWorker({ config, log });
  const emitter = new WebhookEmitter(env.redis.client, config, console);
  const queue = new Queue(WEBHOOK_QUEUE, { connection: env.redis.client, prefix: bullPrefix(config.prefix) });
  const store = new WebhookStore(env.redis.client, redisKeys(config.prefix));
  const idle = () =>
    waitFor(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused');
        return Object.values(counts).every((n) => n === 0);
      },
      10_000,
      'the webhook queue to drain',
      20,
    );
  const close = async () => {
    await worker.close();
    await emitter.close();
    await queue.close();
  };
  return { emitter, queue, store, idle, close };
}

const event = (over: Partial<WebhookEvent> & Pick<WebhookEvent, 'tenant' | 'jobId'>): WebhookEvent => ({
  type: 'job.completed',
  data: { id: over.jobId, state: 'completed' },
  ...over,
});

describe('webhook delivery through BullMQ', () => {
  let env: TestEnv;
  let rx: Receiver;
  let lopper: ReturnType<typeof installation>;

  before(async () => {
    env = await testEnv({
      WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32',
      WEBHOOK_BACKOFF_MS: '20',
      WEBHOOK_ATTEMPTS: '3',
      WEBHOOK_TIMEOUT_MS: '2000',
    });
    rx = await startReceiver();
    lopper = installation(env, env.config);
  });
  after(async () => {
    await lopper.close();
    await rx.close();
    await env.cleanup();
  });

  test('a receiver failing twice gets the event three times, signed, and the job log shows it; endpoints by subscription', async () => {
    rx.script('/flaky', (res, n) => {
      res.statusCode = n <= 2 ? 500 : 200;
      res.end();
    });
    const secret = await lopper.store.rotateSecret('acme');
    const subscribed = await lopper.store.addEndpoint('acme', { url: `${rx.base}/endpoint`, events: ['job.completed'] });
    await lopper.store.addEndpoint('acme', { url: `${rx.base}/unsubscribed`, events: ['job.failed'] });

    await lopper.emitter.emit(event({ tenant: 'acme', jobId: 'job1', callbackUrl: `${rx.base}/flaky` }));
    await lopper.idle();

    const posts = rx.got('/flaky');
    assert.equal(posts.length, 3);
    const deliveryId = 'job1.job.completed.callback';
    for (const p of posts) {
      assert.equal(p.body, posts[0].body, 'every retry sends the same bytes');
      assert.equal(p.headers[DELIVERY_HEADER.toLowerCase()], deliveryId);
      assert.equal(p.headers['lopper-event'], 'job.completed');
      assert.ok(verifySignature(secret, p.headers[SIGNATURE_HEADER.toLowerCase()] as string, p.body), 'signature verifies');
    }
    const body = JSON.parse(posts[0].body);
    assert.deepEqual(Object.keys(body), ['id', 'type', 'createdAt', 'data']);
    assert.equal(body.id, deliveryId);
    assert.deepEqual(body.data, { id: 'job1', state: 'completed' });

    const log = await lopper.store.deliveries('job1');
    const callback = log.filter((e) => e.deliveryId === deliveryId);
    assert.deepEqual(
      callback.map((e) => [e.attempt, e.ok, e.status]),
      [
        [1, false, 500],
        [2, false, 500],
        [3, true, 200],
      ],
    );
    assert.equal(callback[0].error, 'HTTP 500');
    assert.ok(callback.every((e) => e.url === `${rx.base}/flaky` && e.event === 'job.completed'));

    const [atEndpoint] = rx.got('/endpoint');
    assert.equal(rx.got('/endpoint').length, 1);
    assert.equal(atEndpoint.headers[DELIVERY_HEADER.toLowerCase()], `job1.job.completed.${subscribed.id}`);
    assert.ok(verifySignature(secret, atEndpoint.headers[SIGNATURE_HEADER.toLowerCase()] as string, atEndpoint.body));
    assert.equal(JSON.parse(atEndpoint.body).data.id, 'job1');
    assert.deepEqual(
      log.filter((e) => e.url.endsWith('/endpoint')).map((e) => e.ok),
      [true],
    );
    assert.equal(rx.got('/unsubscribed').length, 0, 'an endpoint not subscribed to the event gets nothing');
  });

  test('the same event emitted again is delivered once; a callback only gets the events it asked for', async () => {
    const e = event({ tenant: 'solo', jobId: 'job2', callbackUrl: `${rx.base}/once` });
    await Promise.all([lopper.emitter.emit(e), lopper.emitter.emit(e)]);
    await lopper.idle();
    await lopper.emitter.emit(e);
    await lopper.idle();
    assert.equal(rx.got('/once').length, 1);
    assert.equal((await lopper.store.deliveries('job2')).length, 1);

    // Epoch events are opt-in for the callback, and each epoch is an event of its own.
    await lopper.emitter.emit(event({ tenant: 'solo', jobId: 'job3', type: 'job.epoch', epoch: 1, callbackUrl: `${rx.base}/epochs` }));
    const wanted = { callbackUrl: `${rx.base}/epochs`, callbackEvents: ['job.epoch' as const] };
    await lopper.emitter.emit(event({ tenant: 'solo', jobId: 'job3', type: 'job.epoch', epoch: 1, ...wanted }));
    await lopper.emitter.emit(event({ tenant: 'solo', jobId: 'job3', type: 'job.epoch', epoch: 2, ...wanted }));
    await lopper.idle();
    // The first emit of epoch 1 (no callbackEvents) took the id and delivered nothing.
    assert.deepEqual(
      rx.got('/epochs').map((p) => JSON.parse(p.body).id),
      ['job3.job.epoch.2.callback'],
    );
  });

  test('a redirect is not followed and each attempt is logged as failed', async () => {
    rx.script('/moved', (res) => {
      res.writeHead(302, { Location: '/landing' });
      res.end();
    });
    await lopper.emitter.emit(event({ tenant: 'fresh', jobId: 'job4', type: 'job.failed', callbackUrl: `${rx.base}/moved` }));
    await lopper.idle();
    assert.equal(rx.got('/moved').length, 3, 'tried WEBHOOK_ATTEMPTS times');
    assert.equal(rx.got('/landing').length, 0, 'the Location is never visited');
    const log = await lopper.store.deliveries('job4');
    assert.deepEqual(
      log.map((e) => [e.attempt, e.ok, e.status]),
      [
        [1, false, 302],
        [2, false, 302],
        [3, false, 302],
      ],
    );
    assert.match(log[0].error!, /not followed/);
    // A tenant without a secret gets one made by the worker: deliveries are always signed.
    const secret = await lopper.store.secret('fresh');
    assert.ok(secret);
    const [first] = rx.got('/moved');
    assert.ok(verifySignature(secret, first.headers[SIGNATURE_HEADER.toLowerCase()] as string, first.body));
  });

  test('without WEBHOOK_ALLOW_CIDRS a 127.0.0.1 callback is refused, logged and not retried', async () => {
    const strictConfig = loadConfig({ ...env.env, LOPPER_PREFIX: 'strict', WEBHOOK_ALLOW_CIDRS: '' });
    assert.deepEqual(strictConfig.webhookAllowCidrs, []);
    const strict = installation(env, strictConfig);
    try {
      await strict.emitter.emit(event({ tenant: 'acme', jobId: 'job5', callbackUrl: `${rx.base}/private` }));
      await strict.idle();
      const job = await strict.queue.getJob('job5.job.completed.callback');
      assert.equal(await job!.getState(), 'failed');
      assert.equal(job!.attemptsMade, 1, 'not retried');
      const log = await strict.store.deliveries('job5');
      assert.equal(log.length, 1);
      assert.equal(log[0].ok, false);
      assert.equal(log[0].status, null);
      assert.match(log[0].error!, /127\.0\.0\.1 is a loopback address/);
      assert.equal(rx.got('/private').length, 0, 'the receiver is never contacted');
    } finally {
      await strict.close();
    }
  });
});
