import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { distillationLoss, outputsAreProbabilities, toLogits } from '../../src/train/distill-loss.js';

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const near = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
const lossOf = (...args: Parameters<typeof distillationLoss>) => tf.tidy(() => distillationLoss(...args)).arraySync() as number;

// Row 1: student logits [0, ln 3] → p = [1/4, 3/4]; teacher [0, 0] → q = [1/2, 1/2]; label 1.
// Row 2: student [0, 0], teacher [0, 0]; label 0.
const S = [
  [0, Math.log(3)],
  [0, 0],
];
const T = [
  [0, 0],
  [0, 0],
];
// KL(q‖p) row 1 = ½·ln(½ / ¼) + ½·ln(½ / ¾) = ½·ln(4/3) = 0.1438410; row 2 = 0. Mean 0.0719205.
const KL = (0.5 * Math.log(4 / 3)) / 2;
// CE row 1 = −ln ¾ = 0.2876821; row 2 = −ln ½ = 0.6931472. Mean 0.4904146.
const CE = (-Math.log(0.75) - Math.log(0.5)) / 2;

test('distillationLoss: matches the hand computation', () => {
  const s = tf.tensor2d(S);
  const t = tf.tensor2d(T);
  const y = tf.tensor1d([1, 0], 'int32');
  near(lossOf(s, t, y, { temperature: 1, distillWeight: 0.5 }), 0.5 * KL + 0.5 * CE); // 0.2811675
  near(lossOf(s, t, y, { temperature: 1, distillWeight: 1 }), KL);
  near(lossOf(s, t, y, { temperature: 1, distillWeight: 0 }), CE);
  // No labels: the KD term alone, at full weight whatever distillWeight says.
  near(lossOf(s, t, null, { temperature: 1, distillWeight: 0.3 }), KL);
  tf.dispose([s, t, y]);
});

test('distillationLoss: KD term is 0 when student equals teacher', () => {
  const s = tf.tensor2d([
    [1, -2, 0.5],
    [3, 0, 0],
  ]);
  const y = tf.tensor1d([2, 0], 'int32');
  near(lossOf(s, s, null, { temperature: 2, distillWeight: 0.5 }), 0);
  const ceOnly = lossOf(s, s, y, { temperature: 1, distillWeight: 0 });
  near(lossOf(s, s, y, { temperature: 3, distillWeight: 0.7 }), 0.3 * ceOnly);
  tf.dispose([s, y]);
});

test('distillationLoss: T² scaling', () => {
  // softmax(T·s / T) = softmax(s), so scaling both logits by T leaves the KL unchanged and the
  // loss picks up exactly the T² factor.
  const s = tf.tensor2d(S);
  const t = tf.tensor2d([
    [0.3, -0.2],
    [1, 0],
  ]);
  const base = lossOf(s, t, null, { temperature: 1, distillWeight: 1 });
  assert.ok(base > 0);
  const s4 = tf.mul(s, 4);
  const t4 = tf.mul(t, 4);
  near(lossOf(s4, t4, null, { temperature: 4, distillWeight: 1 }), 16 * base);
  tf.dispose([s, t, s4, t4]);
});

test('distillationLoss: per-token outputs average over all leading dims', () => {
  const s = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 1);
  const t = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 2);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
  const flat = lossOf(tf.reshape(s, [6, 5]), tf.reshape(t, [6, 5]), y, { temperature: 2, distillWeight: 0.5 });
  near(lossOf(s, t, y, { temperature: 2, distillWeight: 0.5 }), flat);
  tf.dispose([s, t, y]);
});

function model(last: tf.layers.Layer[], activation?: 'softmax') {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [4], units: 3, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  for (const l of last) m.add(l);
  return m;
}

test('outputsAreProbabilities: recognises the softmax forms', () => {
  assert.equal(outputsAreProbabilities(model([], 'softmax')), true);
  assert.equal(outputsAreProbabilities(model([tf.layers.activation({ activation: 'softmax' })])), true);
  assert.equal(outputsAreProbabilities(model([tf.layers.softmax()])), true);
  assert.equal(outputsAreProbabilities(model([])), false);
  assert.equal(outputsAreProbabilities(model([tf.layers.activation({ activation: 'relu' })])), false);
  const seq = tf.sequential();
  seq.add(tf.layers.timeDistributed({ inputShape: [2, 4], layer: tf.layers.dense({ units: 3, activation: 'softmax' }) }));
  assert.equal(outputsAreProbabilities(seq), true);
});

test('toLogits: a softmax model gives the same loss as its logits', () => {
  const logitsModel = model([]);
  const probModel = model([tf.layers.softmax()]);
  const x = tf.randomNormal([5, 4], 0, 1, 'float32', 4);
  const teacher = tf.randomNormal([5, 3], 0, 1, 'float32', 5);
  const y = tf.tensor1d([0, 1, 2, 1, 0], 'int32');
  const opts = { temperature: 2, distillWeight: 0.5 };
  const fromLogits = lossOf(toLogits(logitsModel.predict(x) as tf.Tensor, false), teacher, y, opts);
  const fromProbs = lossOf(toLogits(probModel.predict(x) as tf.Tensor, outputsAreProbabilities(probModel)), teacher, y, opts);
  near(fromProbs, fromLogits);
  // Saturated probabilities stay finite thanks to the clip.
  const saturated = toLogits(tf.tensor2d([[1, 0]]), true).dataSync();
  assert.ok(Number.isFinite(saturated[1]));
});
