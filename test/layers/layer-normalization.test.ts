// Lopper's LayerNormalization (closed-form gradient, no tiles) against tfjs-layers' own: same
// outputs and gradients for x, gamma and beta, same config and weights, fewer kernels; models
// loaded from JSON get it, and the cases it does not handle fall back to tfjs' implementation.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { LayerNormalization } from '../../src/layers/index.js';

type LnArgs = Parameters<typeof tf.layers.layerNormalization>[0];

/** The same one-layer model twice: with tfjs' class and with Lopper's, equal weights. */
function pair(shape: number[], args: LnArgs) {
  const build = (layer: tf.layers.Layer) => {
    const input = tf.input({ shape });
    return tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  };
  const init = { gammaInitializer: tf.initializers.randomNormal({ seed: 1 }), betaInitializer: tf.initializers.randomNormal({ seed: 2 }) };
  const theirs = build(tf.layers.layerNormalization({ ...init, ...args }));
  const ours = build(new LayerNormalization({ ...init, ...args }));
  ours.setWeights(theirs.getWeights());
  return { theirs, ours };
}

function valuesAndGrads(model: tf.LayersModel, x: tf.Tensor, dy: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const f = (v: tf.Tensor) => tf.sum(tf.mul(model.apply(v) as tf.Tensor, dy));
    const { value, grads } = tf.variableGrads(
      () => f(x) as tf.Scalar,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const dx = tf.grad(f)(x);
    return [value, dx, ...model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name])].map(
      (t) => t.dataSync() as Float32Array,
    );
  });
}

function assertNear(a: Float32Array, b: Float32Array, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

describe('LayerNormalization with a closed-form gradient', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  const CASES: [string, number[], LnArgs][] = [
    ['[batch, tokens, dim] over the last axis', [6, 16], { epsilon: 1e-6 }],
    ['4-D over the last axis (ConvNeXt, channels last)', [3, 3, 8], {}],
    ['over the last two axes', [4, 5], { axis: [-2, -1], epsilon: 1e-5 }],
    ['a 2-D input', [12], { epsilon: 1e-3 }],
  ];
  // tfjs 4.22's own class cannot differentiate these (batchNorm with a null offset or scale);
  // the reference is the same layer with the missing parameter fixed at 1 or 0 instead.
  for (const [name, args, drop] of [
    ['center=False', { center: false }, 'beta'],
    ['scale=False', { scale: false }, 'gamma'],
  ] as const) {
    it(`${name}: outputs and gradients equal a full layer's with ${drop} fixed (tfjs' own cannot train it)`, () => {
      const init = {
        gammaInitializer: tf.initializers.randomNormal({ seed: 1 }),
        betaInitializer: tf.initializers.randomNormal({ seed: 2 }),
      };
      const input = tf.input({ shape: [6, 16] });
      const ours = tf.model({ inputs: input, outputs: new LayerNormalization({ ...init, ...args }).apply(input) as tf.SymbolicTensor });
      const full = tf.model({
        inputs: input,
        outputs: tf.layers.layerNormalization({ ...init, trainable: true }).apply(input) as tf.SymbolicTensor,
      });
      const [g, b] = full.getWeights();
      const kept = ours.getWeights()[0];
      full.setWeights(drop === 'beta' ? [kept, tf.zerosLike(b)] : [tf.onesLike(g), kept]);
      const x = tf.randomNormal([5, 6, 16], 0, 1, 'float32', 3);
      const dy = tf.randomNormal([5, 6, 16], 0, 1, 'float32', 4);
      const got = valuesAndGrads(ours, x, dy);
      const want = valuesAndGrads(full, x, dy);
      assert.equal(got.length, 3);
      assertNear(got[0], want[0], 2e-5, 'loss');
      assertNear(got[1], want[1], 2e-5, 'dx');
      assertNear(got[2], want[drop === 'beta' ? 2 : 3], 2e-5, drop === 'beta' ? 'dgamma' : 'dbeta');
      tf.dispose([x, dy]);
    });
  }
  for (const [name, shape, args] of CASES) {
    it(`${name}: outputs and gradients of x, gamma and beta equal tfjs'`, () => {
      const { theirs, ours } = pair(shape, args);
      const x = tf.mul(tf.randomNormal([5, ...shape], 0, 1, 'float32', 3), 4).add(1.5);
      const dy = tf.randomNormal([5, ...shape], 0, 1, 'float32', 4);
      const want = valuesAndGrads(theirs, x, dy);
      const got = valuesAndGrads(ours, x, dy);
      ['loss', 'dx', 'dgamma', 'dbeta'].forEach((what, i) => assertNear(got[i], want[i], 2e-5, what));
      assertNear(
        (ours.predict(x) as tf.Tensor).dataSync() as Float32Array,
        (theirs.predict(x) as tf.Tensor).dataSync() as Float32Array,
        1e-5,
        'y',
      );
      tf.dispose([x, dy]);
    });
  }

  it('falls back to tfjs for a leading axis and an axis list out of order', () => {
    for (const [shape, args] of [
      [[4, 6], { axis: 1 }],
      [[4, 6], { axis: [2, 1] }],
    ] as [number[], LnArgs][]) {
      const { theirs, ours } = pair(shape, args);
      const x = tf.randomNormal([3, ...shape], 0, 1, 'float32', 5);
      const dy = tf.randomNormal([3, ...shape], 0, 1, 'float32', 6);
      const want = valuesAndGrads(theirs, x, dy);
      const got = valuesAndGrads(ours, x, dy);
      want.forEach((w, i) => assertNear(got[i], w, 1e-6, `${JSON.stringify(args)} output ${i}`));
      tf.dispose([x, dy]);
    }
  });

  it("a model loaded from JSON uses it, with tfjs' config and weight names; training leaks no tensors", async () => {
    const { theirs } = pair([6, 16], { epsilon: 1e-6, name: 'ln' });
    const json = JSON.parse(JSON.stringify(theirs.toJSON(null, false)));
    const loaded = await tf.models.modelFromJSON(json);
    const layer = loaded.getLayer('ln');
    assert.ok(layer instanceof LayerNormalization);
    assert.deepEqual(layer.getConfig(), theirs.getLayer('ln').getConfig());
    assert.deepEqual(
      loaded.getWeights().map((w) => w.shape),
      theirs.getWeights().map((w) => w.shape),
    );
    assert.deepEqual(
      loaded.weights.map((w) => w.originalName),
      theirs.weights.map((w) => w.originalName),
    );
    const x = tf.randomNormal([5, 6, 16], 0, 1, 'float32', 7);
    const opt = tf.train.sgd(0.1);
    const step = () => opt.minimize(() => tf.sum(tf.square(loaded.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });

  it("takes fewer kernels per training step than tfjs' class", async () => {
    const { theirs, ours } = pair([16, 64], { epsilon: 1e-6 });
    const x = tf.randomNormal([8, 16, 64], 0, 1, 'float32', 8);
    const kernels = async (m: tf.LayersModel) =>
      (await tf.profile(() => tf.tidy(() => tf.variableGrads(() => tf.sum(tf.square(m.apply(x) as tf.Tensor)) as tf.Scalar)))).kernels
        .length;
    const [t, o] = [await kernels(theirs), await kernels(ours)];
    assert.ok(o * 2 < t, `Lopper ${o} kernels vs tfjs ${t}`);
    x.dispose();
  });
});
