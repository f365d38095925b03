// postEvent against a real receiver on 127.0.0.1: a 2xx is ok and carries our headers, a 3xx is a
// failure and its Location is never visited, a silent receiver runs into the deadline, an endless
// body is cut at the cap, and refused targets (a literal, or a name resolving to loopback) reject
// with TargetError before any request reaches the receiver.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postEvent } from '../../src/webhooks/deliver.js';
import { TargetError } from '../../src/errors.js';
import { TargetPolicy } from '../../src/webhooks/targets.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

describe('postEvent', () => {
  let rx: Receiver;
  const open = new TargetPolicy(['127.0.0.1/32']);
  const post = (path: string, opts: { timeoutMs?: number; policy?: TargetPolicy; base?: string } = {}) =>
    postEvent(
      new URL(path, opts.base ?? rx.base),
      '{"a":1}',
      { 'Lopper-Event': 'job.completed' },
      { timeoutMs: opts.timeoutMs ?? 5_000, policy: opts.policy ?? open },
    );

  before(async () => {
    rx = await startReceiver();
    rx.script('/500', (res) => {
      res.statusCode = 500;
      res.end('nope');
    });
    rx.script('/302', (res) => {
      res.writeHead(302, { Location: '/landing' });
      res.end();
    });
    rx.script('/silent', () => undefined);
    rx.script('/endless', (res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 120);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
  });
  after(() => rx.close());

  test('a 2xx is ok; the body and headers arrive as sent', async () => {
    const r = await post('/ok');
    assert.equal(r.ok, true);
    assert.equal(r.status, 200);
    assert.equal(r.error, undefined);
    const [got] = rx.got('/ok');
    assert.equal(got.body, '{"a":1}');
    assert.equal(got.headers['user-agent'], 'Lopper-Webhooks/1');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['lopper-event'], 'job.completed');
  });

  test('a 500 is a failure with its status', async () => {
    assert.deepEqual({ ...(await post('/500')), ms: 0 }, { ok: false, status: 500, ms: 0, error: 'HTTP 500' });
  });

  test('a redirect is a failure and is not followed', async () => {
    const r = await post('/302');
    assert.equal(r.ok, false);
    assert.equal(r.status, 302);
    assert.match(r.error!, /redirect \(HTTP 302\) not followed/);
    assert.equal(rx.got('/landing').length, 0);
  });

  test('a receiver that never answers runs into the deadline', async () => {
    const r = await post('/silent', { timeoutMs: 200 });
    assert.equal(r.ok, false);
    assert.equal(r.status, null);
    assert.match(r.error!, /no answer within 200 ms/);
    assert.ok(r.ms >= 190, `${r.ms} ms`);
  });

  test('an endless body is read up to the cap, then dropped', async () => {
    const r = await post('/endless', { timeoutMs: 5_000 });
    assert.equal(r.ok, true);
    assert.equal(r.status, 200);
  });

  test('a refused target rejects with TargetError and is never contacted', async () => {
    const before = rx.got('/ok').length;
    await assert.rejects(
      post('/ok', { policy: new TargetPolicy() }),
      (e) => e instanceof TargetError && /127\.0\.0\.1 is a loopback/.test(e.message),
    );
    // By name: refused by the lookup at connect time.
    await assert.rejects(
      post('/ok', { policy: new TargetPolicy(), base: `http://localhost:${rx.port}` }),
      (e) => e instanceof TargetError && /localhost resolves to an address that is not public/.test(e.message),
    );
    assert.equal(rx.got('/ok').length, before);
  });

  test('an unreachable target is a failure without a status', async () => {
    const r = await post('/', { base: 'http://127.0.0.1:1' });
    assert.equal(r.ok, false);
    assert.equal(r.status, null);
    assert.match(r.error!, /ECONNREFUSED/);
  });
});
