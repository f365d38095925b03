// The attacks of the hostile-input issue, each against the real API (buildApp + a real Redis + the
// real inspector children): each is a clear 4xx problem within seconds, the API keeps answering
// /healthz meanwhile, and nothing is left in DATA_DIR/tmp or the store.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { zipSync } from 'fflate';
import { buildApp } from '../../src/api/app.js';
import { npyBytes } from '../io/npy-fixtures.js';
import { client } from '../support/api.js';
import { datasetNpz, modelParts, writeTinyModel, type Part } from '../support/fixtures.js';
import { freePort, testEnv, waitFor, type TestEnv } from '../support/harness.js';

const SERVICE = fileURLToPath(new URL('../../src/service.js', import.meta.url));
const MiB = 1024 * 1024;

let env: TestEnv;
let app: FastifyInstance;
let files: { modelJson: Buffer; weights: Buffer };

before(async () => {
  env = await testEnv({ MAX_UPLOAD_BYTES: String(4 * MiB), INSPECT_TIMEOUT_MS: '4000', MAX_EPOCHS: '500' });
  app = await buildApp({ config: env.config, logger: false });
  files = await writeTinyModel(join(env.dataDir, 'fixture-model'));
  // The first upload starts an inspector child; the /healthz figures below are for a running API.
  assert.equal((await upload('/v1/models', modelParts(files))).statusCode, 201);
});

after(async () => {
  await app?.close();
  await env?.cleanup();
});

const upload = client(() => app).send;
const uploadModelJson = (json: unknown, extra: Part[] = []) =>
  upload('/v1/models', [
    { field: 'files', filename: 'model.json', content: typeof json === 'string' ? json : JSON.stringify(json) },
    ...extra,
  ]);

function assertProblem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  field?: string | RegExp,
) {
  assert.equal(res.statusCode, status, res.body.slice(0, 500));
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = JSON.parse(res.body);
  if (typeof field === 'string') assert.equal(p.field, field, p.detail);
  else if (field) assert.match(p.field, field, p.detail);
  return p as { detail: string; field: string };
}

/** Runs `fn` while probing /healthz every 20 ms; returns its result and the slowest probe (ms). */
async function whileProbing<T>(fn: () => Promise<T>): Promise<{ result: T; slowest: number }> {
  let slowest = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      const res = await app.inject('/healthz');
      assert.equal(res.statusCode, 200);
      slowest = Math.max(slowest, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    return { result: await fn(), slowest };
  } finally {
    done = true;
    await probe;
  }
}

async function tmpEntries(): Promise<string[]> {
  return readdir(join(env.dataDir, 'tmp')).catch(() => []);
}

const dense = (name: string, inbound: unknown[], units = 2) => ({
  class_name: 'Dense',
  name,
  inbound_nodes: inbound,
  config: { units, name },
});
const functional = (layers: unknown[], output = 'd') => ({
  format: 'layers-model',
  modelTopology: {
    class_name: 'Model',
    config: {
      name: 'm',
      layers: [
        { class_name: 'InputLayer', name: 'in', inbound_nodes: [], config: { batch_input_shape: [null, 4], dtype: 'float32', name: 'in' } },
        ...layers,
      ],
      input_layers: [['in', 0, 0]],
      output_layers: [[output, 0, 0]],
    },
  },
  weightsManifest: [],
});

describe('models', () => {
  test('the 413-byte model (an inbound node naming a missing layer) is a 422 within seconds; /healthz keeps answering', async () => {
    const { result, slowest } = await whileProbing(() => uploadModelJson(functional([dense('d', [[['ghost', 0, 0, {}]]])])));
    assertProblem(result, 422, 'model.json');
    assert.ok(slowest < 100, `slowest /healthz ${slowest} ms`);
  });

  test('cycles, self-loops, bad node indices and layers without inbound nodes are 422', async () => {
    const cases = [
      functional([dense('d', [[['d', 0, 0, {}]]])]),
      functional([dense('a', [[['d', 0, 0, {}]]]), dense('d', [[['a', 0, 0, {}]]])]),
      functional([dense('d', [[['in', 5, 0, {}]]])]),
      functional([dense('d', [])]),
    ];
    for (const json of cases) assertProblem(await uploadModelJson(json), 422, 'model.json');
  });

  test('units: 1e6 and a 1e6×1e6 input are refused before anything is allocated', async () => {
    const huge = functional([dense('d', [[['in', 0, 0, {}]]], 1_000_000)]);
    assertProblem(await uploadModelJson(huge), 422, 'model.json');
    const wide = functional([dense('d', [[['in', 0, 0, {}]]])]);
    (wide.modelTopology.config.layers[0] as { config: { batch_input_shape: unknown } }).config.batch_input_shape = [null, 1e6, 1e6];
    assertProblem(await uploadModelJson(wide), 422, 'model.json');
    // The service still inspects good models afterwards.
    assert.equal((await upload('/v1/models', modelParts(files))).statusCode, 201);
  });

  test('a layer config nested 5,000 deep is 422', async () => {
    const json = JSON.parse(files.modelJson.toString());
    json.modelTopology.config.layers[0].config.extra = 'DEEP';
    const text = JSON.stringify(json).replace('"DEEP"', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
    assertProblem(await uploadModelJson(text, [{ field: 'files', filename: 'weights.bin', content: files.weights }]), 422, 'model.json');
  });

  test('NaN and Inf weights are 422 naming the weight', async () => {
    for (const bad of [NaN, Infinity]) {
      const weights = Buffer.from(files.weights);
      weights.writeFloatLE(bad, 8);
      const p = assertProblem(
        await upload('/v1/models', modelParts({ modelJson: files.modelJson, weights })),
        422,
        /^weightsManifest\[0\]\.weights\[0\]$/,
      );
      assert.match(p.detail, /NaN|Infinity|finite/);
    }
  });

  test('a model zip bomb is 413 and unpacks nothing', async () => {
    const bomb = zipSync({ 'model.json': files.modelJson, 'weights.bin': new Uint8Array(64 * MiB) }, { level: 9 });
    assert.ok(bomb.length < 200_000);
    assertProblem(await upload('/v1/models', [{ field: 'model', filename: 'm.zip', content: bomb }]), 413);
    assert.deepEqual(await tmpEntries(), []);
  });
});

describe('datasets', () => {
  test("the quadratic .npy header (100,000 × 'shape': () is a 422 within a second", async () => {
    const header = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(100_000)}}`;
    // Framed by hand, not by src/io/npz-write.ts: no padding and no closing '\n', which no writer
    // (numpy or Lopper's) ever leaves out.
    const member = new Uint8Array(12 + header.length);
    member.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(member.buffer).setUint32(8, header.length, true);
    member.set(new TextEncoder().encode(header), 12);
    const t0 = Date.now();
    const res = await upload('/v1/datasets', [{ field: 'file', filename: 'd.npz', content: zipSync({ 'x.npy': member }) }]);
    assertProblem(res, 422, 'file');
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  });

  test('a deflate bomb .npz is 413 however small it is, with little memory', async () => {
    const zeros = new Uint8Array(64 * MiB);
    const bomb = zipSync({ 'x.npy': npyBytes('<f4', [1024 * 256, 64], zeros) }, { level: 9 });
    const rss = process.memoryUsage().rss;
    const { result, slowest } = await whileProbing(() => upload('/v1/datasets', [{ field: 'file', filename: 'bomb.npz', content: bomb }]));
    assertProblem(result, 413, 'file');
    assert.ok(slowest < 100, `slowest /healthz ${slowest} ms`);
    assert.ok(process.memoryUsage().rss - rss < 64 * MiB, 'the API process does not inflate it');
  });
});

describe('job parameters', () => {
  let modelId: string;
  let datasetId: string;
  before(async () => {
    modelId = (await upload('/v1/models', modelParts(files))).json().id;
    datasetId = (await upload('/v1/datasets', [{ field: 'file', filename: 'd.npz', content: datasetNpz(32) }])).json().id;
  });

  const post = (pruning: object, fineTune: object = {}) =>
    app.inject({ method: 'POST', url: '/v1/jobs', payload: { modelId, datasetId, pruning: { ratio: 0.5, ...pruning }, fineTune } });

  test('absurd values are 422 naming the field; the operator ceilings apply', async () => {
    const cases: [object, object, string][] = [
      [{}, { epochs: 1e9 }, 'fineTune.epochs'],
      [{}, { epochs: 501 }, 'fineTune.epochs'],
      [{}, { batchSize: 1e9 }, 'fineTune.batchSize'],
      [{}, { learningRate: 1e308 }, 'fineTune.learningRate'],
      [{}, { temperature: 1e-300 }, 'fineTune.temperature'],
      [{}, { weightDecay: 1e9 }, 'fineTune.weightDecay'],
      [{ calibrationSamples: 1e12 }, {}, 'pruning.calibrationSamples'],
      [{ seed: 1e300 }, {}, 'pruning.seed'],
      [{ seed: 2 ** 31 }, {}, 'pruning.seed'],
      [{ ratio: 0 }, {}, 'pruning.ratio'],
      [{ ratio: 1 }, {}, 'pruning.ratio'],
    ];
    for (const [pruning, fineTune, field] of cases) assertProblem(await post(pruning, fineTune), 422, field);
    const ok = await post({ calibrationSamples: 5000, seed: 2 ** 31 - 1 }, { epochs: 500, learningRate: 3e-3 });
    assert.equal(ok.statusCode, 202, ok.body);
  });
});

describe('errors', () => {
  test('router errors are problem+json; a huge field name is not echoed whole', async () => {
    assertProblem(await app.inject('/v1/models/%zz'), 400, 'path');
    assertProblem(await app.inject(`/v1/models/${'a'.repeat(500)}`), 414, 'path');
    const res = await upload('/v1/datasets', [{ field: 'x'.repeat(1 << 20), content: 'v' }]);
    assertProblem(res, 400);
    assert.ok(res.body.length < 2048, `${res.body.length} bytes`);
  });
});

describe('slow clients and leftovers', () => {
  test('a trickling upload is cut off with 408 and its temp folder removed', async () => {
    const slowEnv = await testEnv({ UPLOAD_IDLE_TIMEOUT_MS: '1000', UPLOAD_MIN_BYTES_PER_SEC: '200' });
    const slow = await buildApp({ config: slowEnv.config, logger: false });
    try {
      await slow.listen({ port: 0, host: '127.0.0.1' });
      const { port } = slow.server.address() as { port: number };
      const boundary = 'xyz';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.npz"\r\n\r\n`;
      const socket = connect(port, '127.0.0.1');
      let response = '';
      socket.on('data', (d) => (response += d.toString()));
      const closed = new Promise((r) => socket.once('close', r));
      socket.write(
        `POST /v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`,
      );
      // 20 bytes/s, far below the 200 bytes/s floor: cut off after about one window.
      const drip = setInterval(() => socket.writable && socket.write('a'), 50);
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not cut off')), 10_000))]).finally(() =>
        clearInterval(drip),
      );
      assert.match(response, /^HTTP\/1.1 408/);
      assert.match(response, /application\/problem\+json/);
      await waitFor(async () => (await readdir(join(slowEnv.dataDir, 'tmp'))).length === 0, 5000, 'the temp folder to go');
    } finally {
      await slow.close();
      await slowEnv.cleanup();
    }
  });

  test('a SIGKILLed API leaves a partial upload; the next one sweeps it at start', async () => {
    const port = await freePort();
    const procEnv = { ...process.env, ...env.env, PORT: String(port), HOST: '127.0.0.1', TMP_GRACE_MS: '60000' };
    const api = spawn(process.execPath, [SERVICE, 'api'], { env: procEnv, stdio: 'ignore' });
    const exited = new Promise((r) => api.once('exit', r));
    try {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
        'the API to start',
      );
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        'POST /v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n' +
          `--b\r\nContent-Disposition: form-data; name="file"; filename="d.npz"\r\n\r\n${'a'.repeat(100_000)}`,
      );
      const partial = await waitFor(async () => (await tmpEntries()).find((n) => n.startsWith('upload-')), 10_000, 'a partial upload');
      api.kill('SIGKILL');
      await exited;
      socket.destroy();
      // A job's scratch folder whose job is not live goes too; both look abandoned for an hour.
      await mkdir(join(env.dataDir, 'tmp', 'job-gone', 'out'), { recursive: true });
      const hourAgo = new Date(Date.now() - 3600_000);
      const inPartial = (await readdir(join(env.dataDir, 'tmp', partial))).map((n) => join('tmp', partial, n));
      for (const p of [join('tmp', partial), ...inPartial, 'tmp/job-gone', 'tmp/job-gone/out']) {
        await utimes(join(env.dataDir, p), hourAgo, hourAgo);
      }
      // A fresh upload folder (another API on the shared volume writing it) stays.
      await mkdir(join(env.dataDir, 'tmp', 'upload-fresh'));
      await writeFile(join(env.dataDir, 'tmp', 'upload-fresh', 'part'), 'x');
      const next = await buildApp({ config: { ...env.config, tmpGraceMs: 60_000 }, logger: false });
      try {
        await waitFor(async () => (await tmpEntries()).join() === 'upload-fresh', 10_000, 'the sweep at start');
      } finally {
        await next.close();
        await rm(join(env.dataDir, 'tmp', 'upload-fresh'), { recursive: true, force: true });
      }
    } finally {
      if (api.exitCode === null && api.signalCode === null) api.kill('SIGKILL');
    }
  });
});

describe('Redis down', () => {
  test('routes that need Redis answer 503 with Retry-After at once; /healthz stays 200', async () => {
    const downEnv = await testEnv();
    const down = await buildApp({ config: downEnv.config, logger: false });
    try {
      await downEnv.redis.stop();
      for (const req of [
        { method: 'GET' as const, url: '/v1/models' },
        { method: 'GET' as const, url: '/v1/jobs/abc' },
        { method: 'POST' as const, url: '/v1/jobs', payload: { modelId: 'a', datasetId: 'b', pruning: { ratio: 0.5 } } },
        { method: 'DELETE' as const, url: '/v1/datasets/abc' },
        { method: 'GET' as const, url: '/readyz' },
      ]) {
        const t0 = Date.now();
        const res = await down.inject(req);
        assertProblem(res, 503);
        assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
        assert.ok(Date.now() - t0 < 5000);
      }
      assert.equal((await down.inject('/healthz')).statusCode, 200);
    } finally {
      await down.close();
      await downEnv.cleanup();
    }
  });
});

test('nothing is left in DATA_DIR/tmp', async () => {
  assert.deepEqual(await tmpEntries(), []);
});
