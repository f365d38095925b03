// ProgressReporter against a real JobStore on a real Redis. A stage change is written at once.
// Within a stage it writes at most once per interval, and repeats the last value as a keepalive.
// Each write goes to the BullMQ sink and to the record of an active job, in order. The training
// loss is averaged per epoch, and an epoch's event runs only after the record shows that epoch.
// A failed write or epoch event is logged and the job goes on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Logger } from 'pino';
import { jobRequestSchema } from '../../src/queue/payload.js';
import type { Progress } from '../../src/request.js';
import { JobStore, type JobRecord } from '../../src/store/jobs.js';
import { redisKeys } from '../../src/store/keys.js';
import { ProgressReporter, type ProgressSink } from '../../workers/progress.js';
import { startRedis, type TestRedis } from '../support/harness.js';

let redis: TestRedis;
const prefixes: string[] = [];
const reporters: ProgressReporter[] = [];

before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const r of reporters.splice(0)) await r.close();
  for (const p of prefixes.splice(0)) {
    const keys = await redis.client.keys(`${p}:*`);
    if (keys.length > 0) await redis.client.del(...keys);
  }
});
after(() => redis.stop());

interface Setup {
  jobs: JobStore;
  /** Every value the sink was given, in order. */
  sent: object[];
  warnings: { obj: { jobId?: string }; msg: string }[];
  record(): Promise<JobRecord>;
  reporter(opts?: {
    intervalMs?: number;
    keepaliveMs?: number;
    onEpochEnd?: (epoch: number) => Promise<void>;
    sink?: ProgressSink;
  }): ProgressReporter;
}

/** An active job `j1` in a fresh key prefix, and a reporter factory writing to it. */
async function setup(): Promise<Setup> {
  const prefix = `lopper-test-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const keys = redisKeys(prefix);
  const jobs = new JobStore(redis.client, keys);
  await redis.client.set(keys.record('model', 'm1'), '{}');
  await redis.client.set(keys.record('dataset', 'd1'), '{}');
  const request = jobRequestSchema.parse({ modelId: 'm1', datasetId: 'd1', pruning: { ratio: 0.5 } });
  assert.equal(await jobs.create(JobStore.newRecord('j1', 't1', request), 10), 'ok');
  assert.equal((await jobs.transition('j1', { from: ['queued'], to: 'active' })).applied, true);
  const sent: object[] = [];
  const warnings: Setup['warnings'] = [];
  const log = { warn: (obj: { jobId?: string }, msg: string) => warnings.push({ obj, msg }) } as unknown as Logger;
  const sink: ProgressSink = { updateProgress: async (value) => void sent.push(value) };
  return {
    jobs,
    sent,
    warnings,
    record: async () => (await jobs.get('j1'))!,
    reporter: (opts = {}) => {
      const r = new ProgressReporter(
        opts.sink ?? sink,
        jobs,
        'j1',
        log,
        opts.intervalMs ?? 60_000,
        opts.keepaliveMs ?? 60_000,
        opts.onEpochEnd,
      );
      reporters.push(r);
      return r;
    },
  };
}

/** The value the reporter writes for `p`. */
const value = (p: Progress) => ({
  stage: p.stage,
  progress: p.progress,
  epoch: p.epoch ?? null,
  step: p.step ?? null,
  loss: p.loss ?? null,
});

describe('ProgressReporter', () => {
  test('a stage change is written at once; more progress in the same stage waits for the interval', async () => {
    const s = await setup();
    const r = s.reporter();
    const updates: Progress[] = [
      { stage: 'loading', progress: 0 },
      { stage: 'loading', progress: 0.05 },
      { stage: 'statistics', progress: 0.1, step: 1 },
      { stage: 'statistics', progress: 0.2, step: 2 },
      { stage: 'statistics', progress: 0.3, step: 3 },
      { stage: 'pruning', progress: 0.4 },
    ];
    for (const p of updates) r.onProgress(p);
    await r.close();
    assert.deepEqual(s.sent, [value(updates[0]), value(updates[2]), value(updates[5])]);
    const rec = await s.record();
    assert.deepEqual({ stage: rec.stage, progress: rec.progress, epoch: rec.epoch, step: rec.step, loss: rec.loss }, value(updates[5]));
    assert.equal(rec.state, 'active');
  });

  test('once the interval has passed, the next callback is written with the latest values', async () => {
    const s = await setup();
    const r = s.reporter({ intervalMs: 40 });
    r.onProgress({ stage: 'fine-tuning', progress: 0.5, epoch: 1, step: 1, loss: 2 });
    r.onProgress({ stage: 'fine-tuning', progress: 0.51, epoch: 1, step: 2, loss: 2 });
    await sleep(80);
    r.onProgress({ stage: 'fine-tuning', progress: 0.52, epoch: 1, step: 3, loss: 2 });
    await r.close();
    assert.deepEqual(
      s.sent.map((v) => (v as { step: number }).step),
      [1, 3],
    );
    assert.equal((await s.record()).step, 3);
  });

  test('the last value is repeated every keepaliveMs while nothing else is written, and not before the first or after close', async () => {
    const s = await setup();
    const idle = s.reporter({ keepaliveMs: 20 });
    await sleep(80);
    await idle.close();
    assert.equal(s.sent.length, 0, 'nothing to repeat before the first callback');

    const r = s.reporter({ keepaliveMs: 40 });
    const p: Progress = { stage: 'fine-tuning', progress: 0.5, epoch: 2, step: 7, loss: 1.25 };
    r.onProgress(p);
    await sleep(300);
    await r.close();
    const n = s.sent.length;
    assert.ok(n >= 3, `the first write and at least two repeats in 300 ms, got ${n}`);
    assert.ok(n <= 1 + 300 / 40, `at most one repeat per 40 ms, got ${n}`);
    for (const v of s.sent) assert.deepEqual(v, value(p));
    await sleep(120);
    assert.equal(s.sent.length, n, 'no repeats after close');
  });

  test('the loss is averaged per epoch; an epoch event runs after the record shows that epoch, and finish ends the last', async () => {
    const s = await setup();
    const events: { epoch: number; recorded: unknown }[] = [];
    const r = s.reporter({
      onEpochEnd: async (epoch) => {
        events.push({ epoch, recorded: (await s.record()).metrics.epochs });
      },
    });
    r.onProgress({ stage: 'evaluating', progress: 0.3 });
    const losses = [
      [1, 4],
      [1, 2],
      [1, 3],
      [2, 1],
      [2, 2],
    ];
    losses.forEach(([epoch, loss], i) => r.onProgress({ stage: 'fine-tuning', progress: 0.4 + i / 100, epoch, step: i + 1, loss }));
    assert.deepEqual(r.epochs, [
      { epoch: 1, loss: 3 },
      { epoch: 2, loss: 1.5 },
    ]);
    r.finish();
    await r.close();
    assert.deepEqual(events, [
      { epoch: 1, recorded: [{ epoch: 1, loss: 3 }] },
      {
        epoch: 2,
        recorded: [
          { epoch: 1, loss: 3 },
          { epoch: 2, loss: 1.5 },
        ],
      },
    ]);
    const rec = await s.record();
    assert.deepEqual(rec.metrics.epochs, [
      { epoch: 1, loss: 3 },
      { epoch: 2, loss: 1.5 },
    ]);
    assert.equal(rec.step, 5, 'the last write carries the latest step');
  });

  test('progress without epochs (no fine-tuning) announces no epoch', async () => {
    const s = await setup();
    const events: number[] = [];
    const r = s.reporter({ onEpochEnd: async (e) => void events.push(e) });
    r.onProgress({ stage: 'measuring', progress: 0.9 });
    r.onProgress({ stage: 'saving', progress: 0.95 });
    r.finish();
    await r.close();
    assert.deepEqual(events, []);
    assert.deepEqual((await s.record()).metrics.epochs, []);
  });

  test('writes land in the order they were made, even when one is slow', async () => {
    const s = await setup();
    const order: string[] = [];
    const sink: ProgressSink = {
      updateProgress: async (v) => {
        const { stage } = v as { stage: string };
        if (stage === 'loading') await sleep(60);
        order.push(stage);
      },
    };
    const r = s.reporter({ sink });
    r.onProgress({ stage: 'loading', progress: 0 });
    r.onProgress({ stage: 'statistics', progress: 0.1 });
    r.onProgress({ stage: 'pruning', progress: 0.2 });
    await r.close();
    assert.deepEqual(order, ['loading', 'statistics', 'pruning']);
    assert.equal((await s.record()).stage, 'pruning');
  });

  test('only an active job record is written: after a cancel the record keeps its last progress', async () => {
    const s = await setup();
    const r = s.reporter();
    r.onProgress({ stage: 'statistics', progress: 0.2 });
    await r.close();
    assert.equal((await s.jobs.transition('j1', { from: ['active'], to: 'cancelled' })).applied, true);
    const r2 = s.reporter();
    r2.onProgress({ stage: 'pruning', progress: 0.3 });
    await r2.close();
    assert.equal(s.sent.length, 2, 'the sink is still told');
    const rec = await s.record();
    assert.equal(rec.state, 'cancelled');
    assert.equal(rec.stage, 'statistics');
    assert.equal(rec.progress, 0.2);
  });

  test('a failed write or epoch event is logged with the job id; the writes after it still land', async () => {
    const s = await setup();
    let calls = 0;
    const sink: ProgressSink = {
      updateProgress: async () => {
        if (++calls === 2) throw new Error('redis went away');
      },
    };
    const r = s.reporter({
      sink,
      onEpochEnd: async () => {
        throw new Error('webhook queue down');
      },
    });
    r.onProgress({ stage: 'loading', progress: 0 });
    r.onProgress({ stage: 'statistics', progress: 0.1 });
    r.onProgress({ stage: 'fine-tuning', progress: 0.4, epoch: 1, step: 1, loss: 1 });
    r.onProgress({ stage: 'fine-tuning', progress: 0.5, epoch: 2, step: 2, loss: 3 });
    await r.close();
    assert.deepEqual(
      s.warnings.map((w) => [w.msg, w.obj.jobId]),
      [
        ['progress update failed', 'j1'],
        ['epoch event failed', 'j1'],
      ],
    );
    const rec = await s.record();
    assert.equal(rec.stage, 'fine-tuning');
    assert.equal(rec.epoch, 2);
    assert.deepEqual(rec.metrics.epochs, [{ epoch: 1, loss: 1 }]);
    assert.equal(calls, 4, 'the loading, statistics and fine-tuning writes and the one that ended epoch 1');
  });
});
