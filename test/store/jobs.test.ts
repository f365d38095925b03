// JobStore against a real Redis: its Lua scripts create a job only while its model and datasets
// exist and the tenant is under its jobs quota. A transition applies only from the states it names,
// and a race has one winner. The per-tenant indexes and the model/dataset `users` sets move with
// the state. discard undoes a create. Lists page newest first. Every job that reaches a finished
// state is announced once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { jobRequestSchema, type JobRequest } from '../../src/queue/payload.js';
import { Catalog, type DatasetRecord, type ModelRecord } from '../../src/store/catalog.js';
import { FINISHED_STATES, JOB_STATES, JobStore, type JobRecord, type JobState } from '../../src/store/jobs.js';
import { redisKeys, type RedisKeys } from '../../src/store/keys.js';
import { BadCursorError } from '../../src/errors.js';
import { sortKey } from '../../src/store/paging.js';
import { startRedis, type TestRedis } from '../support/harness.js';

let redis: TestRedis;
const prefixes: string[] = [];

before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const p of prefixes.splice(0)) {
    const keys = await allKeys(p);
    if (keys.length > 0) await redis.client.del(...keys);
  }
});
after(() => redis.stop());

async function allKeys(prefix: string): Promise<string[]> {
  return (await redis.client.keys(`${prefix}:*`)).sort();
}

const BASE = Date.parse('2026-01-01T00:00:00Z');

interface Setup {
  prefix: string;
  keys: RedisKeys;
  store: JobStore;
  /** What onFinished was told, in order. */
  finished: JobRecord[];
  request(over?: Partial<JobRequest>): JobRequest;
  /** A job of `tenant` created at BASE + `second` s; asserts the create succeeded. */
  add(id: string, opts?: { tenant?: string; second?: number; request?: Partial<JobRequest> }): Promise<JobRecord>;
  /** The tenant's index members per state, as job ids. */
  indexes(tenant: string): Promise<Record<JobState | 'all', string[]>>;
  users(kind: 'model' | 'dataset', id: string): Promise<string[]>;
}

/** A store under a fresh key prefix, with model m1 and datasets d1, d2 on record. */
async function setup(): Promise<Setup> {
  const prefix = `lopper-test-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  const keys = redisKeys(prefix);
  const finished: JobRecord[] = [];
  const store = new JobStore(redis.client, keys, async (rec) => {
    finished.push(rec);
  });
  await redis.client.set(keys.record('model', 'm1'), '{}');
  await redis.client.set(keys.record('dataset', 'd1'), '{}');
  await redis.client.set(keys.record('dataset', 'd2'), '{}');
  const request = (over: Partial<JobRequest> = {}) =>
    jobRequestSchema.parse({ modelId: 'm1', datasetId: 'd1', pruning: { ratio: 0.5 }, ...over });
  const ids = async (key: string) => (await redis.client.zrange(key, 0, -1)).map((m) => m.slice(m.indexOf(':') + 1)).sort();
  return {
    prefix,
    keys,
    store,
    finished,
    request,
    add: async (id, opts = {}) => {
      const rec = JobStore.newRecord(id, opts.tenant ?? 't1', request(opts.request), new Date(BASE + (opts.second ?? 0) * 1000));
      assert.equal(await store.create(rec, 100), 'ok');
      return rec;
    },
    indexes: async (tenant) => {
      const out = { all: await ids(keys.jobs(tenant)) } as Record<JobState | 'all', string[]>;
      for (const s of JOB_STATES) out[s] = await ids(keys.jobsIn(tenant, s));
      return out;
    },
    users: async (kind, id) => (await redis.client.smembers(keys.users(kind, id))).sort(),
  };
}

const only = (state: JobState, ids: string[]) => ({
  all: ids,
  queued: [],
  active: [],
  completed: [],
  failed: [],
  cancelled: [],
  [state]: ids,
});

describe('JobStore.create', () => {
  test('stores the record, lists it under the tenant as queued and makes the job a user of its model and datasets', async () => {
    const s = await setup();
    const rec = await s.add('j1', { request: { evalDatasetId: 'd2' } });
    assert.deepEqual(await s.store.get('j1'), rec);
    assert.deepEqual(await s.store.get('j1', 't1'), rec);
    assert.equal(await s.store.get('j1', 't2'), null, "another tenant's job is absent");
    assert.equal(await s.store.get('nope'), null);
    assert.equal(await s.store.isLive('j1'), true);
    assert.equal(await s.store.isLive('nope'), false);
    assert.deepEqual(await s.indexes('t1'), only('queued', ['j1']));
    assert.deepEqual(await redis.client.zrange(s.keys.jobs('t1'), 0, -1), [sortKey(BASE, 'j1')]);
    assert.deepEqual(await s.users('model', 'm1'), ['j1']);
    assert.deepEqual(await s.users('dataset', 'd1'), ['j1']);
    assert.deepEqual(await s.users('dataset', 'd2'), ['j1']);
  });

  test('a missing model, dataset or eval dataset is refused by name and nothing is written', async () => {
    const s = await setup();
    const before = await allKeys(s.prefix);
    const cases: [Partial<JobRequest>, string][] = [
      [{ modelId: 'gone' }, 'modelId'],
      [{ datasetId: 'gone' }, 'datasetId'],
      [{ evalDatasetId: 'gone' }, 'evalDatasetId'],
      [{ modelId: 'gone', datasetId: 'gone' }, 'modelId'],
    ];
    for (const [over, outcome] of cases) {
      const rec = JobStore.newRecord('j1', 't1', s.request(over), new Date(BASE));
      assert.equal(await s.store.create(rec, 100), outcome, JSON.stringify(over));
      assert.deepEqual(await allKeys(s.prefix), before, `${outcome}: no key written`);
    }
    assert.equal(await s.store.get('j1'), null);
  });

  test('the jobs quota counts the queued and active jobs of the tenant, not finished ones or other tenants', async () => {
    const s = await setup();
    const create = (id: string, tenant: string, max: number) =>
      s.store.create(JobStore.newRecord(id, tenant, s.request(), new Date(BASE)), max);
    assert.equal(await create('j0', 't1', 0), 'quota');
    assert.equal(await create('j1', 't1', 2), 'ok');
    assert.equal(await create('j2', 't1', 2), 'ok');
    const before = await allKeys(s.prefix);
    assert.equal(await create('j3', 't1', 2), 'quota');
    assert.deepEqual(await allKeys(s.prefix), before, 'a refused job leaves nothing');
    assert.equal(await create('t2-j1', 't2', 2), 'ok', 'quotas are per tenant');
    assert.deepEqual((await s.store.transition('j1', { from: ['queued'], to: 'active' })).applied, true);
    assert.equal(await create('j3', 't1', 2), 'quota', 'an active job still counts');
    assert.deepEqual((await s.store.transition('j1', { from: ['active'], to: 'completed' })).applied, true);
    assert.equal(await create('j3', 't1', 2), 'ok', 'a finished job does not count');
    assert.deepEqual((await s.indexes('t1')).all, ['j1', 'j2', 'j3']);
  });
});

describe('JobStore.transition', () => {
  test('from every state to every other: applied when the state is in `from`, with the indexes and users sets moved', async () => {
    const s = await setup();
    let n = 0;
    for (const cur of JOB_STATES) {
      for (const next of JOB_STATES) {
        if (next === cur) continue;
        const id = `j${n++}`;
        await s.add(id);
        if (cur !== 'queued') assert.equal((await s.store.transition(id, { from: ['queued'], to: cur })).applied, true);

        // Refused: every state but the current one.
        const others = JOB_STATES.filter((x) => x !== cur);
        assert.deepEqual(
          await s.store.transition(id, { from: others, to: next, set: { progress: 0.5 } }),
          { applied: false, state: cur },
          `${cur} → ${next} from ${others}`,
        );
        const unchanged = await s.store.get(id);
        assert.equal(unchanged?.state, cur);
        assert.equal(unchanged?.progress, 0, 'a refused transition writes no field');

        assert.deepEqual(
          await s.store.transition(id, { from: [cur], to: next, set: { progress: 0.5 } }),
          { applied: true, state: next },
          `${cur} → ${next}`,
        );
        const rec = await s.store.get(id);
        assert.equal(rec?.state, next);
        assert.equal(rec?.progress, 0.5);
        const idx = await s.indexes('t1');
        for (const st of JOB_STATES) assert.equal(idx[st].includes(id), st === next, `${cur} → ${next}: ${id} in the ${st} index`);
        assert.ok(idx.all.includes(id));
        // A job holds its model and datasets while queued or active. (Leaving a finished state does
        // not take them again; no caller does that, every `from` list is queued and/or active.)
        if (!FINISHED_STATES.includes(cur)) {
          const users = FINISHED_STATES.includes(next) ? [] : [id];
          assert.deepEqual(
            (await s.users('model', 'm1')).filter((u) => u === id),
            users,
            `${cur} → ${next}: model users`,
          );
          assert.deepEqual(
            (await s.users('dataset', 'd1')).filter((u) => u === id),
            users,
            `${cur} → ${next}: dataset users`,
          );
        }
        assert.equal(await s.store.isLive(id), !FINISHED_STATES.includes(next));
      }
    }
    assert.equal(n, 20);
  });

  test('without `to` it writes the fields and keeps the state; to the current state moves and announces nothing', async () => {
    const s = await setup();
    await s.add('j1');
    assert.deepEqual(await s.store.transition('j1', { from: ['queued', 'active'], set: { cancelRequested: true, stage: 'loading' } }), {
      applied: true,
      state: 'queued',
    });
    const rec = await s.store.get('j1');
    assert.equal(rec?.cancelRequested, true);
    assert.equal(rec?.stage, 'loading');
    assert.equal(rec?.state, 'queued');
    await s.store.transition('j1', { from: ['queued'], to: 'completed' });
    assert.equal(s.finished.length, 1);
    assert.deepEqual(await s.store.transition('j1', { from: ['completed'], to: 'completed', set: { progress: 1 } }), {
      applied: true,
      state: 'completed',
    });
    assert.equal((await s.store.get('j1'))?.progress, 1);
    assert.equal(s.finished.length, 1, 'no second announcement');
    assert.deepEqual(await s.indexes('t1'), only('completed', ['j1']));
  });

  test('a missing job: refused with state null, nothing created', async () => {
    const s = await setup();
    const before = await allKeys(s.prefix);
    assert.deepEqual(await s.store.transition('nope', { from: JOB_STATES, to: 'active', set: { progress: 1 } }), {
      applied: false,
      state: null,
    });
    assert.deepEqual(await allKeys(s.prefix), before);
    assert.equal(s.finished.length, 0);
  });

  test('racing transitions from the same state: exactly one applies, the others see its result', async () => {
    const s = await setup();
    for (let j = 0; j < 20; j++) {
      const id = `race${j}`;
      await s.add(id);
      const tries = Array.from({ length: 10 }, (_, i) => {
        const to: JobState = i % 2 === 0 ? 'active' : 'cancelled';
        return s.store.transition(id, { from: ['queued'], to, set: { attempts: i } }).then((r) => ({ ...r, to, i }));
      });
      const results = await Promise.all(tries);
      const winners = results.filter((r) => r.applied);
      assert.equal(winners.length, 1, `${id}: ${JSON.stringify(results)}`);
      const won = winners[0];
      for (const r of results) assert.equal(r.state, won.to, 'every caller sees the winning state');
      const rec = await s.store.get(id);
      assert.equal(rec?.state, won.to);
      assert.equal(rec?.attempts, won.i, "only the winner's fields were written");
      const idx = await s.indexes('t1');
      assert.deepEqual(
        JOB_STATES.filter((st) => idx[st].includes(id)),
        [won.to],
        'in exactly one state index',
      );
    }
    const cancelled = (await s.indexes('t1')).cancelled;
    assert.deepEqual(s.finished.map((r) => r.id).sort(), cancelled, 'each cancelled winner announced once, no active one');
  });
});

describe('JobStore onFinished', () => {
  test('told once of each job that reaches completed, failed or cancelled, with its final record', async () => {
    const s = await setup();
    for (const id of ['a', 'b', 'c']) await s.add(id);
    await s.store.transition('a', { from: ['queued'], to: 'active', set: { attempts: 1 } });
    assert.equal(s.finished.length, 0, 'active is not finished');
    await s.store.transition('a', {
      from: ['active'],
      to: 'completed',
      set: { progress: 1, artifacts: [{ name: 'model.zip', bytes: 3, sha256: 'abc' }] },
    });
    await s.store.transition('b', { from: ['queued', 'active'], to: 'cancelled' });
    const error = { type: 'about:blank', title: 'Bad data', status: 422, detail: 'x' };
    await s.store.transition('c', { from: ['queued', 'active'], to: 'failed', set: { error } });
    // Refused: already finished.
    await s.store.transition('a', { from: ['queued', 'active'], to: 'cancelled' });
    await s.store.transition('c', { from: ['active'], to: 'failed' });
    assert.deepEqual(
      s.finished.map((r) => [r.id, r.state]),
      [
        ['a', 'completed'],
        ['b', 'cancelled'],
        ['c', 'failed'],
      ],
    );
    assert.deepEqual(s.finished[0], await s.store.get('a'));
    assert.equal(s.finished[0].attempts, 1);
    assert.deepEqual(s.finished[0].artifacts, [{ name: 'model.zip', bytes: 3, sha256: 'abc' }]);
    assert.deepEqual(s.finished[2].error, error);
  });

  test('a store without a listener finishes jobs all the same', async () => {
    const s = await setup();
    await s.add('j1');
    const quiet = new JobStore(redis.client, s.keys);
    assert.deepEqual(await quiet.transition('j1', { from: ['queued'], to: 'failed' }), { applied: true, state: 'failed' });
    assert.equal(s.finished.length, 0);
  });
});

describe('JobStore.list', () => {
  test('pages newest first, per tenant and per state; a cursor stays valid while newer jobs arrive', async () => {
    const s = await setup();
    for (let i = 0; i < 5; i++) await s.add(`j${i}`, { second: i });
    await s.add('other1', { tenant: 't2', second: 10 });
    await s.store.transition('j1', { from: ['queued'], to: 'active' });
    await s.store.transition('j3', { from: ['queued'], to: 'active' });
    await s.store.transition('j4', { from: ['queued'], to: 'completed' });
    const ids = (p: { items: JobRecord[] }) => p.items.map((r) => r.id);

    const p1 = await s.store.list('t1', 2);
    assert.deepEqual(ids(p1), ['j4', 'j3']);
    assert.equal(p1.items[0].state, 'completed');
    assert.ok(p1.nextCursor);
    await s.add('j9', { second: 9 });
    const p2 = await s.store.list('t1', 2, p1.nextCursor!);
    assert.deepEqual(ids(p2), ['j2', 'j1'], 'the cursor continues below the last item, whatever came since');
    const p3 = await s.store.list('t1', 2, p2.nextCursor!);
    assert.deepEqual(ids(p3), ['j0']);
    assert.equal(p3.nextCursor, null);

    assert.deepEqual(ids(await s.store.list('t1', 10)), ['j9', 'j4', 'j3', 'j2', 'j1', 'j0']);
    assert.equal((await s.store.list('t1', 6)).nextCursor, null, 'a page that reaches the end has no cursor');
    assert.deepEqual(ids(await s.store.list('t1', 10, undefined, 'active')), ['j3', 'j1']);
    assert.deepEqual(ids(await s.store.list('t1', 10, undefined, 'queued')), ['j9', 'j2', 'j0']);
    assert.deepEqual(ids(await s.store.list('t1', 10, undefined, 'completed')), ['j4']);
    assert.deepEqual(await s.store.list('t1', 10, undefined, 'failed'), { items: [], nextCursor: null });
    const a1 = await s.store.list('t1', 1, undefined, 'active');
    assert.deepEqual(ids(a1), ['j3']);
    assert.deepEqual(ids(await s.store.list('t1', 1, a1.nextCursor!, 'active')), ['j1']);
    assert.deepEqual(ids(await s.store.list('t2', 10)), ['other1']);
    assert.deepEqual(await s.store.list('t3', 10), { items: [], nextCursor: null });
    await assert.rejects(s.store.list('t1', 2, 'not-a-cursor'), BadCursorError);
  });
});

describe('JobStore.discard', () => {
  test('removes the record, its index entries and its place in the users sets, in whatever state it is', async () => {
    const s = await setup();
    await s.add('j1', { request: { evalDatasetId: 'd2' } });
    await s.add('j2', { second: 1 });
    await s.add('j3', { second: 2, request: { evalDatasetId: 'd2' } });
    await s.store.transition('j3', { from: ['queued'], to: 'active' });
    await s.store.discard('j1');
    await s.store.discard('j3');
    assert.equal(await s.store.get('j1'), null);
    assert.equal(await s.store.get('j3'), null);
    assert.deepEqual(await s.indexes('t1'), only('queued', ['j2']));
    assert.deepEqual(await s.users('model', 'm1'), ['j2']);
    assert.deepEqual(await s.users('dataset', 'd1'), ['j2']);
    assert.deepEqual(await s.users('dataset', 'd2'), []);
    const before = await allKeys(s.prefix);
    await s.store.discard('j1');
    await s.store.discard('never');
    assert.deepEqual(await allKeys(s.prefix), before, 'discarding a missing job changes nothing');
    assert.equal(s.finished.length, 0, 'a discard is not an announcement');
  });
});

describe('references held by jobs', () => {
  test('a model or dataset used by a queued or active job cannot be deleted; once the job ends it can, and new jobs naming it are refused', async () => {
    const s = await setup();
    const quota = { storedBytes: 1e9, models: 10, datasets: 10, jobs: 10 };
    const createdAt = new Date(BASE).toISOString();
    const models = new Catalog<ModelRecord>(redis.client, s.keys, 'model');
    const datasets = new Catalog<DatasetRecord>(redis.client, s.keys, 'dataset');
    const model = {
      id: 'm2',
      tenant: 't1',
      name: 'm',
      createdAt,
      files: [{ name: 'model.json', bytes: 10, sha256: 'a' }],
    } as unknown as ModelRecord;
    const evalData = { id: 'd3', tenant: 't1', name: 'e', createdAt, bytes: 20, sha256: 'b' } as unknown as DatasetRecord;
    assert.equal(await models.create(model, quota), 'ok');
    assert.equal(await datasets.create(evalData, quota), 'ok');

    await s.add('j1', { request: { modelId: 'm2', evalDatasetId: 'd3' } });
    assert.equal(await models.remove(model), 'in-use');
    assert.equal(await datasets.remove(evalData), 'in-use', 'the eval dataset is held too');
    await s.store.transition('j1', { from: ['queued'], to: 'active' });
    assert.equal(await models.remove(model), 'in-use');
    await s.store.transition('j1', { from: ['active'], to: 'failed' });
    assert.equal(await models.remove(model), 'deleted');
    assert.equal(await datasets.remove(evalData), 'deleted');

    const late = (id: string, over: Partial<JobRequest>) =>
      s.store.create(JobStore.newRecord(id, 't1', s.request(over), new Date(BASE)), 10);
    assert.equal(await late('j2', { modelId: 'm2' }), 'modelId');
    assert.equal(await late('j3', { evalDatasetId: 'd3' }), 'evalDatasetId');
    assert.equal(await s.store.get('j2'), null);
    assert.deepEqual((await s.store.get('j1'))?.state, 'failed', 'the finished job keeps its record');
  });
});
