// learningRate 'auto': the search tries every candidate for the same short budget from the same
// weights, judges them on a validation split of the training data, leaves the student untouched,
// and never reads the evaluation data.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { encodeNpz } from '../../src/io/npz-write.js';
import { argmaxRows, predictAll } from '../../src/measure/predict.js';
import { runPipeline } from '../../src/pipeline.js';
import { fineTuneSchema, pruningSchema } from '../../src/request.js';
import { LR_CANDIDATES, SEARCH_SHARE, searchLearningRate } from '../../src/train/lr-search.js';
import { writeTinyModel } from '../support/fixtures.js';

let dir: string;
before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'lopper-lr-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

function mlp(seed: number) {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

test('every candidate is tried on a validation split; the lowest loss wins; the student is left as it was', async () => {
  const n = 400;
  const x = tf.tidy(() => tf.randomNormal([n, 6], 0, 1, 'float32', 3).dataSync() as Float32Array);
  const teacher = mlp(50);
  const { data: teacherLogits } = await predictAll(teacher, x, [6], n);
  teacher.dispose();
  const student = mlp(1);
  const before = student.getWeights().map((w) => w.dataSync().slice());
  const opts = { ...fineTuneSchema.parse({}), batchSize: 16, seed: 4 };
  const search = await searchLearningRate(student, { x, n, sampleShape: [6], y: argmaxRows(teacherLogits, 4) }, teacherLogits, opts);

  assert.deepEqual(
    search.candidates.map((c) => c.learningRate),
    [...LR_CANDIDATES],
  );
  assert.equal(search.validationSamples, 40);
  const losses = search.candidates.map((c) => c.validationLoss);
  assert.ok(
    losses.every((l) => l !== null && Number.isFinite(l)),
    JSON.stringify(losses),
  );
  assert.equal(search.chosen, search.candidates[losses.indexOf(Math.min(...(losses as number[])))].learningRate);
  // The trials differ (each rate moved the weights differently) and larger rates helped here.
  assert.ok(new Set(losses).size === LR_CANDIDATES.length);
  assert.ok(search.chosen > LR_CANDIDATES[0]);
  // Bounded: all candidates together train SEARCH_SHARE of the planned steps (at least 8 each).
  const planned = opts.epochs * Math.ceil(n / opts.batchSize);
  assert.equal(search.steps, Math.max(8, Math.floor((SEARCH_SHARE * planned) / LR_CANDIDATES.length)));
  assert.deepEqual(
    student.getWeights().map((w) => w.dataSync().slice()),
    before,
  );
  student.dispose();
});

test("the pipeline's 'auto' never reads the evaluation data: poisoned evaluation labels give the same rate", async () => {
  await writeTinyModel(join(dir, 'model'));
  const rng = (s: number) => () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const data = (n: number, seed: number, poison: boolean) => {
    const r = rng(seed);
    const xs = Float32Array.from({ length: n * 8 }, () => r() * 2 - 1);
    const ys = Int32Array.from({ length: n }, (_, i) => (poison ? 2 : Math.abs(Math.round(xs[i * 8] * 3)) % 3));
    return encodeNpz({ x: { data: xs, shape: [n, 8] }, y: { data: ys, shape: [n] } });
  };
  await writeFile(join(dir, 'train.npz'), data(300, 1, false));
  await writeFile(join(dir, 'eval.npz'), data(100, 2, false));
  await writeFile(join(dir, 'poisoned.npz'), data(100, 3, true));
  const run = (evalData: string, out: string) =>
    runPipeline({
      model: join(dir, 'model', 'model.json'),
      data: join(dir, 'train.npz'),
      evalData: join(dir, evalData),
      outDir: join(dir, out),
      pruning: pruningSchema.parse({ ratio: 0.5, calibrationSamples: 64 }),
      fineTune: fineTuneSchema.parse({ epochs: 2 }),
      backend: 'wasm',
    });
  const clean = await run('eval.npz', 'a');
  const poisoned = await run('poisoned.npz', 'b');
  assert.equal(clean.fineTune.options.learningRate, 'auto');
  assert.ok(clean.fineTune.lrSearch);
  assert.equal(clean.fineTune.learningRate, clean.fineTune.lrSearch.chosen);
  assert.deepEqual(poisoned.fineTune.lrSearch!.candidates, clean.fineTune.lrSearch.candidates);
  assert.equal(poisoned.fineTune.learningRate, clean.fineTune.learningRate);
  // The evaluation did differ: the poisoned labels give another accuracy.
  assert.notEqual(poisoned.accuracy.original, clean.accuracy.original);
  // A given rate is used as it is, with no search.
  const fixed = await runPipeline({
    model: join(dir, 'model', 'model.json'),
    data: join(dir, 'train.npz'),
    outDir: join(dir, 'c'),
    pruning: pruningSchema.parse({ ratio: 0.5, calibrationSamples: 64 }),
    fineTune: fineTuneSchema.parse({ epochs: 1, learningRate: 1e-3 }),
    backend: 'wasm',
  });
  assert.equal(fixed.fineTune.learningRate, 1e-3);
  assert.equal(fixed.fineTune.lrSearch, null);
});
