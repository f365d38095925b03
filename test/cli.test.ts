// The CLI as a user runs it: a child process, exit codes, and nothing written on bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../src/engine/backend.js';
import { saveModelFiles } from '../src/io/model-save.js';
import { encodeNpz } from '../src/io/npz-write.js';
import { buildMlp } from '../scripts/lib/train-mlp.js';

const BIN = resolve('bin/lopper.js');
const lopper = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LOPPER_BACKEND: 'wasm' } });

describe('lopper CLI', () => {
  let dir: string;
  before(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'lopper-cli-'));
    await mkdir(join(dir, 'model'));
    await saveModelFiles(buildMlp({ inputSize: 12, hidden: [16, 8], classes: 3, seed: 1 }), join(dir, 'model'));
    const x = Float32Array.from({ length: 64 * 12 }, (_, i) => Math.sin(i));
    const y = Int32Array.from({ length: 64 }, (_, i) => i % 3);
    await writeFile(join(dir, 'good.npz'), encodeNpz({ x: { data: x, shape: [64, 12] }, y: { data: y, shape: [64] } }));
    await writeFile(join(dir, 'wrong-shape.npz'), encodeNpz({ x: { data: x, shape: [64, 3, 4] } }));
    await writeFile(join(dir, 'no-x.npz'), encodeNpz({ features: { data: x, shape: [64, 12] } }));
    const nan = x.slice();
    nan[5] = NaN;
    await writeFile(join(dir, 'nan.npz'), encodeNpz({ x: { data: nan, shape: [64, 12] } }));
    const good = encodeNpz({ x: { data: x, shape: [64, 12] } });
    await writeFile(join(dir, 'truncated.npz'), good.subarray(0, good.length >> 1));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('inspect --json prints the blocks', () => {
    const r = lopper('inspect', join(dir, 'model', 'model.json'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(
      summary.blocks.map((b: any) => [b.fc1, b.fc2, b.hidden]),
      [
        ['fc1', 'fc2', 16],
        ['fc2', 'classifier', 8],
      ],
    );
    assert.deepEqual(summary.inputShape, [null, 12]);
    assert.equal(summary.params, 12 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3);
  });

  for (const [file, pattern] of [
    ['wrong-shape.npz', /shape/],
    ['no-x.npz', /\bx\b/],
    ['nan.npz', /NaN/],
    ['truncated.npz', /zip|truncated|corrupt/i],
    ['missing.npz', /no such file|not found|ENOENT|does not exist/i],
  ] as const) {
    it(`rejects ${file} with exit code 2 and writes nothing`, () => {
      const out = join(dir, `out-${file}`);
      const r = lopper('prune', join(dir, 'model'), '--data', join(dir, file), '--ratio', '0.5', '--epochs', '0', '--out', out);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(existsSync(out), false);
    });
  }

  it('rejects an out-of-range ratio naming the flag', () => {
    const r = lopper('prune', join(dir, 'model'), '--data', join(dir, 'good.npz'), '--ratio', '1.5', '--out', join(dir, 'o'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--ratio/);
  });

  it('rejects an --out that is a file, and too few calibration samples, before computing', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = lopper('prune', join(dir, 'model'), '--data', join(dir, 'good.npz'), '--ratio', '0.5', '--out', file);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /not a folder/);
    const c = lopper(
      'prune',
      join(dir, 'model'),
      '--data',
      join(dir, 'good.npz'),
      '--ratio',
      '0.5',
      '--calibration-samples',
      '1',
      '--out',
      join(dir, 'o2'),
    );
    assert.equal(c.status, 2, c.stderr);
    assert.match(c.stderr, /--calibration-samples/);
  });

  it('leaves no parent folders behind when a run into a new nested --out fails', () => {
    const r = lopper(
      'prune',
      join(dir, 'model'),
      '--data',
      join(dir, 'nan.npz'),
      '--ratio',
      '0.5',
      '--out',
      join(dir, 'new', 'deeper', 'out'),
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(existsSync(join(dir, 'new')), false);
  });

  it('prunes and writes the five files', async () => {
    const out = join(dir, 'out');
    const r = lopper(
      'prune',
      join(dir, 'model'),
      '--data',
      join(dir, 'good.npz'),
      '--ratio',
      '0.25',
      '--epochs',
      '1',
      '--out',
      out,
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.prunedNeurons.removed, 6);
    assert.deepEqual((await readdir(out)).sort(), ['model.json', 'model.zip', 'report.json', 'statistics.json', 'weights.bin']);
  });
});
