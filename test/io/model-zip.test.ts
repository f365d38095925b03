// One zip reader for both doors: every archive below is accepted or refused the same way by
// `POST /v1/models` (unpacked in the inspector sandbox) and by `lopper inspect` (the CLI), and the
// same file names come out of it. The archives are built here, by fflate, from a real saved model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { zipSync, type Zippable } from 'fflate';
import { buildApp } from '../../src/api/app.js';
import { DEFAULT_ZIP_LIMITS, unpackModelZip } from '../../src/io/model-zip.js';
import { client } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { testEnv, type TestEnv } from '../support/harness.js';

const BIN = resolve('bin/lopper.js');
let env: TestEnv;
let app: FastifyInstance;
let dir: string;
let model: { modelJson: Uint8Array; weights: Uint8Array };

before(async () => {
  env = await testEnv();
  app = await buildApp({ config: env.config, logger: false });
  dir = await mkdtemp(join(tmpdir(), 'lopper-zipcases-'));
  model = await writeTinyModel(join(dir, 'model'));
});
after(async () => {
  await app?.close();
  await env?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const te = new TextEncoder();
const truncated = () => {
  const whole = zipSync({ 'model.json': model.modelJson, 'weights.bin': model.weights });
  return whole.subarray(0, Math.floor(whole.length * 0.6));
};

// name → the archive, and whether a model is in it.
const CASES: [string, () => Uint8Array, boolean][] = [
  ['flat', () => zipSync({ 'model.json': model.modelJson, 'weights.bin': model.weights }), true],
  ['in a folder', () => zipSync({ 'm/model.json': model.modelJson, 'm/weights.bin': model.weights }), true],
  [
    'with a macOS fork and other folders',
    () =>
      zipSync({
        'm/model.json': model.modelJson,
        'm/weights.bin': model.weights,
        '__MACOSX/m/._model.json': te.encode('x'),
        'docs/readme.txt': te.encode('hi'),
      }),
    true,
  ],
  [
    'Teachable Machine layout (metadata.json beside)',
    () => zipSync({ 'model.json': model.modelJson, 'metadata.json': te.encode('{"labels":["a"]}'), 'weights.bin': model.weights }),
    true,
  ],
  ['topology under another name, the only .json', () => zipSync({ 'net.json': model.modelJson, 'weights.bin': model.weights }), true],
  ['shard outside the topology folder', () => zipSync({ 'm/model.json': model.modelJson, 'weights.bin': model.weights }), false],
  [
    'two models',
    () =>
      zipSync({
        'a/model.json': model.modelJson,
        'a/weights.bin': model.weights,
        'b/model.json': model.modelJson,
        'b/weights.bin': model.weights,
      }),
    false,
  ],
  [
    'two .json and no model.json',
    () => zipSync({ 'a.json': model.modelJson, 'b.json': model.modelJson, 'weights.bin': model.weights }),
    false,
  ],
  ['no topology', () => zipSync({ 'weights.bin': model.weights }), false],
  [
    'a member name with a control character',
    () => zipSync({ 'model.json': model.modelJson, 'weights.bin': model.weights, 'x\u0001.bin': te.encode('x') }),
    false,
  ],
  ['truncated', truncated, false],
  ['not a zip', () => te.encode('PK this is not an archive at all'), false],
  [
    'more members than a model has',
    () =>
      zipSync(
        Object.fromEntries([
          ['model.json', model.modelJson],
          ['weights.bin', model.weights],
          ...Array.from({ length: 300 }, (_, i) => [`s/${i}.bin`, te.encode('x')]),
        ]) as Zippable,
      ),
    false,
  ],
];

for (const [name, build, ok] of CASES) {
  test(`a zip ${ok ? 'accepted' : 'refused'} by both the API and the CLI: ${name}`, async () => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.zip`);
    const bytes = build();
    await writeFile(path, bytes);

    const res = await client(() => app).send('/v1/models', [{ field: 'files', filename: 'm.zip', content: bytes }]);
    const cli = spawnSync(process.execPath, [BIN, 'inspect', path, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, LOPPER_BACKEND: 'wasm' },
    });
    assert.equal(res.statusCode === 201, ok, `API: ${res.statusCode} ${res.body}`);
    assert.equal(cli.status === 0, ok, `CLI: exit ${cli.status} ${cli.stderr}`);
    if (!ok) {
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, res.body);
      assert.equal(cli.status, 2, cli.stderr);
      return;
    }
    // The same files are kept: the topology and the shard the manifest names.
    assert.deepEqual(
      res
        .json()
        .files.map((f: { name: string }) => f.name)
        .sort(),
      ['model.json', 'weights.bin'],
    );
    assert.equal(JSON.parse(cli.stdout).params, res.json().params);
  });
}

test('the reader unpacks only the topology folder, with the topology as model.json', async () => {
  const zip = join(dir, 'folder.zip');
  await writeFile(
    zip,
    zipSync({ 'm/net.json': model.modelJson, 'm/weights.bin': model.weights, 'other/big.bin': new Uint8Array(1 << 16) }),
  );
  const out = await mkdtemp(join(dir, 'out-'));
  const files = await unpackModelZip(zip, out, DEFAULT_ZIP_LIMITS, 'file');
  assert.deepEqual(files.map((f) => f.name).sort(), ['model.json', 'weights.bin']);
  assert.deepEqual((await readdir(out)).sort(), ['model.json', 'weights.bin']);
  assert.equal(files.find((f) => f.name === 'weights.bin')!.bytes, model.weights.length);
});
