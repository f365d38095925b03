// Fuzz class "redis": the test Redis is killed (the harness's stop()) after the warm-up, then
// every route that needs Redis is hit, one at a time and then all at once: each must answer 503 application/problem+json
// with a Retry-After header within 5 s, while /healthz (no Redis) stays 200 and fast. In its own
// process and app, so the other classes keep their Redis.
import { datasetNpz, modelParts } from '../support/fixtures.js';
import { fuzzClass, status, uploadRequest, type FuzzRequest } from './runner.js';

fuzzClass<void>({
  name: 'redis',
  count: 0,
  checkRecords: false,
  generate: () => {
    throw new Error('the redis class runs its own sequence');
  },
  custom: async (ctx, _base, send) => {
    await ctx.stopRedis();
    const { model, dataset, job } = ctx.ids;
    const needRedis: [string, () => FuzzRequest][] = [
      ['readyz', () => ({ method: 'GET', url: '/readyz' })],
      ['list-models', () => ({ method: 'GET', url: '/v1/models' })],
      ['get-model', () => ({ method: 'GET', url: `/v1/models/${model}` })],
      ['get-unknown-model', () => ({ method: 'GET', url: '/v1/models/nope' })],
      ['delete-model', () => ({ method: 'DELETE', url: `/v1/models/${model}` })],
      ['list-datasets', () => ({ method: 'GET', url: '/v1/datasets' })],
      ['get-dataset', () => ({ method: 'GET', url: `/v1/datasets/${dataset}` })],
      ['delete-dataset', () => ({ method: 'DELETE', url: `/v1/datasets/${dataset}` })],
      ['list-jobs', () => ({ method: 'GET', url: '/v1/jobs?state=queued' })],
      ['get-job', () => ({ method: 'GET', url: `/v1/jobs/${job}` })],
      ['cancel-job', () => ({ method: 'POST', url: `/v1/jobs/${job}/cancel` })],
      ['artifact', () => ({ method: 'GET', url: `/v1/jobs/${job}/artifacts/model.zip` })],
      [
        'create-job',
        () => ({
          method: 'POST',
          url: '/v1/jobs',
          headers: { 'content-type': 'application/json', 'idempotency-key': `down-${Math.random()}` },
          payload: JSON.stringify({ modelId: model, datasetId: dataset, pruning: { ratio: 0.5 } }),
        }),
      ],
      ['upload-dataset', () => uploadRequest('/v1/datasets', [{ field: 'file', filename: 'train.npz', content: datasetNpz(16) }])],
      ['upload-model', () => uploadRequest('/v1/models', modelParts(ctx.tiny))],
    ];
    let i = 0;
    const down = (name: string, build: () => FuzzRequest, note: string) =>
      send({ id: `redis#${i++}`, tags: [`redis.${name}`], expect: status(503, undefined, ['retry-after']), request: build(), note });
    const health = () =>
      send({ id: `redis#${i++}`, tags: ['redis.healthz'], expect: status(200), request: { method: 'GET', url: '/healthz' } });
    // Round 1: one request at a time (each latency is its own); round 2: all at once, as clients
    // retrying during an outage would.
    for (const [name, build] of needRedis) {
      await down(name, build, 'one at a time');
      await health();
    }
    await Promise.all([...needRedis.map(([name, build]) => down(name, build, 'all at once')), health(), health()]);
  },
});
