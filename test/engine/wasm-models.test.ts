// Whole-model checks of the wasm fixes: the reference MLP and tiny ViT of the benchmark give the
// same loss gradients on wasm as on cpu, and training steps leak neither tensors nor wasm buffers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildMlp, buildTinyVit, MLP, VIT } from '../../bench/models.js';
import { AdamW } from '../../src/train/adamw.js';
import { assertClose, setupBackends, size, values } from './helpers.js';

before(setupBackends);

const MODELS = [
  { name: 'MLP 784-512-512-10', build: buildMlp, sample: [MLP.input] },
  { name: 'tiny ViT', build: buildTinyVit, sample: [VIT.tokens, VIT.patch] },
];

async function gradients(
  backend: 'cpu' | 'wasm',
  build: () => tf.LayersModel,
  sample: number[],
  weights: Float32Array[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const model = build();
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
  const batch = 3;
  const x = tf.tensor(values(batch * size(sample), 21), [batch, ...sample]);
  const y = tf.oneHot(tf.tensor1d([1, 4, 7], 'int32'), 10);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    vars,
  );
  const out = await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array));
  tf.dispose([x, y, ...Object.values(grads)]);
  model.dispose();
  return out;
}

for (const { name, build, sample } of MODELS) {
  test(`${name}: loss gradients on wasm match cpu`, async () => {
    await tf.setBackend('cpu');
    const init = build();
    const weights = await Promise.all(init.getWeights().map(async (w) => (await w.data()) as Float32Array));
    init.dispose();
    const ref = await gradients('cpu', build, sample, weights);
    const got = await gradients('wasm', build, sample, weights);
    assert.equal(got.length, ref.length);
    got.forEach((g, i) => assertClose(g, ref[i], `${name} gradient ${i}`, 2e-3, 1e-6));
  });

  test(`${name}: training steps on wasm leak no tensors and no wasm buffers`, async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const model = build();
    const x = tf.tensor(values(4 * size(sample), 5), [4, ...sample]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const opt = new AdamW({ learningRate: 1e-3 });
    const step = () =>
      tf.tidy(() => {
        opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, false, vars);
      });
    step(); // creates the optimizer's moments
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, tensors, 'tensors');
    assert.equal(backend.numDataIds(), buffers, 'wasm buffers');
    opt.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
}
