import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW } from '../../src/train/adamw.js';

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function close(actual: ArrayLike<number>, expected: number[], tol = 2e-6) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} != ${expected[i]}`);
  }
}

// lr 0.1, wd 0.1, β1 0.9, β2 0.999. A 2×2 kernel W and a bias b, two steps of given gradients.
const W0 = [1, -2, 0.5, 3];
const B0 = [0.5, -1];
const GW1 = [0.1, -0.2, 0.3, 0.4];
const GB1 = [0.2, -0.5];
const GW2 = [0.3, 0.1, -0.3, 0];
const GB2 = [-0.1, -0.5];

function setup() {
  // tidy: tf.variable copies its initial value, so the source tensor would otherwise linger.
  const w = tf.tidy(() => tf.variable(tf.tensor2d(W0, [2, 2])));
  const b = tf.tidy(() => tf.variable(tf.tensor1d(B0)));
  const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.1 });
  const step = (gw: number[], gb: number[]) =>
    tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor2d(gw, [2, 2]), [b.name]: tf.tensor1d(gb) }));
  return { w, b, opt, step, dispose: () => (opt.dispose(), w.dispose(), b.dispose()) };
}

test('AdamW: one step matches the hand computation, bias not decayed', () => {
  const s = setup();
  s.step(GW1, GB1);
  // Step 1: m = 0.1g, v = 0.001g², so m̂ = g, v̂ = g², and the Adam step is lr·sign(g) = ±0.1.
  // Kernel: W − 0.1·sign(g) − lr·wd·W = 0.99·W − 0.1·sign(g)
  //   [0.99 − 0.1, −1.98 + 0.1, 0.495 − 0.1, 2.97 − 0.1]
  close(s.w.dataSync(), [0.89, -1.88, 0.395, 2.87]);
  // Bias: no decay, so b − 0.1·sign(g) = [0.5 − 0.1, −1 + 0.1] (with decay it would be [0.395, −0.89]).
  close(s.b.dataSync(), [0.4, -0.9]);
  s.dispose();
});

test('AdamW: two steps match the hand computation', () => {
  const s = setup();
  s.step(GW1, GB1);
  s.step(GW2, GB2);
  // Step 2: m = 0.09·g1 + 0.1·g2, m̂ = m / (1 − 0.9²) = m / 0.19;
  //         v = 0.000999·g1² + 0.001·g2², v̂ = v / (1 − 0.999²) = v / 0.001999.
  // W[0]: m = 0.009 + 0.03 = 0.039, m̂ = 0.205263; v = 9.999e-6 + 9e-5 = 9.999e-5, v̂ = 0.0500200,
  //       m̂/√v̂ = 0.917781; W = 0.99·0.89 − 0.1·0.917781 = 0.8811 − 0.0917781 = 0.789322.
  // W[1]: m = −0.018 + 0.01 = −0.008, m̂ = −0.0421053; v̂ = 4.996e-5/0.001999 = 0.0249925,
  //       ratio −0.266337; W = 0.99·(−1.88) + 0.0266337 = −1.8612 + 0.0266337 = −1.834566.
  // W[2]: m = 0.027 − 0.03 = −0.003, m̂ = −0.0157895; v̂ = 1.7991e-4/0.001999 = 0.09, ratio −0.0526316;
  //       W = 0.99·0.395 + 0.00526316 = 0.39105 + 0.00526316 = 0.396313.
  // W[3]: m = 0.036, m̂ = 0.189474; v̂ = 1.5984e-4/0.001999 = 0.0799600, ratio 0.670058;
  //       W = 0.99·2.87 − 0.0670058 = 2.8413 − 0.0670058 = 2.774294.
  close(s.w.dataSync(), [0.789322, -1.834566, 0.396313, 2.774294]);
  // b[0]: m = 0.018 − 0.01 = 0.008, m̂ = 0.0421053; v̂ = (3.996e-5 + 1e-5)/0.001999 = 0.0249925,
  //       ratio 0.266337; b = 0.4 − 0.0266337 = 0.373366.
  // b[1]: g1 = g2 = −0.5, so m̂ = g, v̂ = g² again: b = −0.9 + 0.1 = −0.8.
  close(s.b.dataSync(), [0.373366, -0.8]);
  s.dispose();
});

test('AdamW: setLearningRate drives the next step', () => {
  const s = setup();
  s.opt.setLearningRate(0.01);
  s.step(GW1, GB1);
  // 0.999·W − 0.01·sign(g): decay also scales with the current lr.
  close(s.w.dataSync(), [0.989, -1.988, 0.4895, 2.987]);
  s.dispose();
});

test('AdamW: dispose frees its state', () => {
  const before = tf.memory().numTensors;
  const s = setup();
  s.step(GW1, GB1);
  s.step(GW2, GB2);
  // Two variables plus the flat m and v and the decay mask.
  assert.equal(tf.memory().numTensors, before + 5);
  s.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('AdamW: registered and round-trips through its config', () => {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  assert.ok(map['AdamW']);
  const opt = new AdamW({ learningRate: 1.5e-5, weightDecay: 0.01 });
  const copy = AdamW.fromConfig(AdamW, opt.getConfig()) as AdamW;
  assert.deepEqual(copy.getConfig(), { learningRate: 1.5e-5, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  assert.equal(copy.getClassName(), 'AdamW');
});

test('AdamW: without decay it is tfjs Adam', () => {
  const mk = () => tf.tidy(() => [tf.variable(tf.tensor2d(W0, [2, 2])), tf.variable(tf.tensor1d(B0))]);
  const [w1, b1] = mk();
  const [w2, b2] = mk();
  const ours = new AdamW({ learningRate: 0.05, weightDecay: 0, epsilon: 1e-7 });
  const adam = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
  for (const [gw, gb] of [
    [GW1, GB1],
    [GW2, GB2],
    [GW1, GB2],
  ]) {
    tf.tidy(() => ours.applyGradients({ [w1.name]: tf.tensor2d(gw, [2, 2]), [b1.name]: tf.tensor1d(gb) }));
    // The array form (what minimize() passes with a varList); tfjs types the map form as variables.
    tf.tidy(() =>
      adam.applyGradients([
        { name: w2.name, tensor: tf.tensor2d(gw, [2, 2]) },
        { name: b2.name, tensor: tf.tensor1d(gb) },
      ]),
    );
  }
  close(w1.dataSync(), Array.from(w2.dataSync()));
  close(b1.dataSync(), Array.from(b2.dataSync()));
  ours.dispose();
  adam.dispose();
  tf.dispose([w1, b1, w2, b2]);
});

test('AdamW: a step runs the same kernels for 4 weights as for 20 (reshapes aside: views, no compute)', async () => {
  const compute = async (count: number) => {
    const vars = tf.tidy(() => Array.from({ length: count }, (_, i) => tf.variable(tf.ones(i % 2 ? [3, 4] : [4]))));
    const opt = new AdamW({ learningRate: 0.01 });
    const step = async () => {
      const grads = tf.tidy(() => Object.fromEntries(vars.map((v) => [v.name, tf.onesLike(v)])));
      const p = await tf.profile(() => tf.tidy(() => opt.applyGradients(grads)));
      tf.dispose(Object.values(grads));
      return p.kernels
        .filter((k) => k.name !== 'Reshape')
        .map((k) => k.name)
        .sort();
    };
    await step(); // the first step builds the state
    const kernels = await step();
    opt.dispose();
    tf.dispose(vars);
    return kernels;
  };
  const few = await compute(4);
  assert.deepEqual(await compute(20), few);
  assert.ok(few.length <= 20, few.join(' '));
});

test('AdamW: when the set of weights changes, moments carry over by name and new weights start from zero', () => {
  const mk = () => tf.tidy(() => [tf.variable(tf.tensor2d(W0, [2, 2])), tf.variable(tf.tensor1d(B0))]);
  const [w1, b1] = mk();
  const [w2, b2] = mk();
  const a = new AdamW({ learningRate: 0.1, weightDecay: 0.1 });
  const b = new AdamW({ learningRate: 0.1, weightDecay: 0.1 });
  // a: W alone, then W and b; b: W alone twice (b never moves). W must follow the same path in
  // both, and b in `a` must take a first-step move (±lr) on its first gradient.
  tf.tidy(() => a.applyGradients({ [w1.name]: tf.tensor2d(GW1, [2, 2]) }));
  tf.tidy(() => b.applyGradients({ [w2.name]: tf.tensor2d(GW1, [2, 2]) }));
  tf.tidy(() => a.applyGradients({ [b1.name]: tf.tensor1d(GB1), [w1.name]: tf.tensor2d(GW2, [2, 2]) }));
  tf.tidy(() => b.applyGradients({ [w2.name]: tf.tensor2d(GW2, [2, 2]) }));
  close(w1.dataSync(), Array.from(w2.dataSync()));
  // b1's first gradient comes at the optimizer's step 2, and the bias corrections use the
  // optimizer's step count (one count for all weights, as in tfjs Adam): m = 0.1g, v = 0.001g²,
  // m̂ = m/(1 − 0.9²), v̂ = v/(1 − 0.999²), move = lr·m̂/√v̂ (no decay: rank 1).
  const move = (g: number) => (0.1 * ((0.1 * g) / 0.19)) / Math.sqrt((0.001 * g * g) / 0.001999);
  close(b1.dataSync(), [B0[0] - move(GB1[0]), B0[1] - move(GB1[1])], 1e-5);
  a.dispose();
  b.dispose();
  tf.dispose([w1, b1, w2, b2]);
});
