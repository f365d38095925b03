// Lopper's GELU and layer-norm ops: one kernel each way on wasm (SIMD, or JavaScript for widths
// that are not a multiple of 4), the portable closed-form path on cpu. Both must match tfjs'
// own formulation on cpu, values and gradients.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GELU, GELU_GRAD, gelu } from '../../src/engine/ops/gelu.js';
import { LAYER_NORM, LAYER_NORM_GRAD, layerNorm } from '../../src/engine/ops/layer-norm.js';
import { geluApprox, geluGradApprox } from '../../src/engine/wasm/gelu.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { TfjsGelu } from '../../src/layers/gelu.js';
import { matchesCpu, on, setupBackends, size, values } from './helpers.js';

before(setupBackends);

test('the GELU and layer-norm kernels exist on wasm only', () => {
  for (const k of [GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD]) {
    assert.ok(isReplaced(k), `${k} on wasm`);
    assert.equal(tf.getKernel(k, 'cpu'), undefined, `${k} on cpu`);
  }
});

test("gelu: wasm kernels and the portable path match tfjs-layers' gelu on cpu, with gradients", async () => {
  const tfjs = new TfjsGelu();
  for (const n of [1, 3, 4, 7, 1001]) {
    const x = () => tf.mul(tf.tensor(values(n, n)), 6);
    const dy = () => tf.tensor(values(n, n + 1));
    const ref = await on('cpu', () => {
      const [xs, d] = [x(), dy()];
      return [tfjs.apply(xs), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tfjs.apply(v), d)))(xs)];
    });
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, () => {
        const [xs, d] = [x(), dy()];
        return [gelu(xs), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), d)))(xs)];
      });
      got.forEach((g, i) => {
        for (let j = 0; j < g.data.length; j++) {
          assert.ok(
            Math.abs(g.data[j] - ref[i].data[j]) <= 2e-6 * (1 + Math.abs(ref[i].data[j])),
            `${backend} n=${n} output ${i}[${j}]: ${g.data[j]} vs ${ref[i].data[j]}`,
          );
        }
      });
    }
  }
});

test("gelu on wasm: the SIMD lanes give the scalar version's bits", () => {
  const xs = Float32Array.from(values(64, 3), (v) => v * 8);
  xs.set([0, -0, 1e-30, -1e-25, 30, -30], 0); // Φ = ½ near 0; y/x where y underflows
  const dys = values(64, 4);
  const [y, dx] = tf.tidy(() => {
    const x = tf.tensor(xs);
    const dy = tf.tensor(dys);
    const out = tf.engine().runKernel(GELU, { x }) as tf.Tensor;
    return [out, tf.engine().runKernel(GELU_GRAD, { x, y: out, dy }) as tf.Tensor].map((t) => t.dataSync());
  });
  for (let i = 0; i < xs.length; i++) {
    assert.equal(y[i], geluApprox(xs[i]), `gelu(${xs[i]})`);
    assert.equal(dx[i], geluGradApprox(xs[i], y[i], dys[i]), `gelu'(${xs[i]})`);
  }
});

/** tfjs' formulation (moments + batchNorm), the reference for the op. */
function referenceLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
}

for (const shape of [
  [64, 64],
  [3, 16, 12],
  [5, 6],
  [2, 3, 1],
]) {
  test(`layer norm ${JSON.stringify(shape)}: wasm kernels${shape.at(-1)! % 4 ? ' (JavaScript rows)' : ''} match the reference on cpu, gradients of x, gamma, beta included`, async () => {
    const d = shape.at(-1)!;
    const inputs = () => [
      tf.add(tf.mul(tf.tensor(values(size(shape), 1), shape), 3), 1.5),
      tf.add(tf.tensor(values(d, 2)), 1),
      tf.tensor(values(d, 3)),
      tf.tensor(values(size(shape), 4), shape),
    ];
    const grads = (fn: typeof layerNorm | typeof referenceLayerNorm) => () => {
      const [x, g, b, dy] = inputs();
      const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(fn === layerNorm ? layerNorm(xx, gg, bb, 1, 1e-3) : referenceLayerNorm(xx, gg, bb, 1e-3), dy));
      const y = fn === layerNorm ? layerNorm(x, g, b, 1, 1e-3) : referenceLayerNorm(x, g, b, 1e-3);
      return [y, ...tf.grads(f)([x, g, b])];
    };
    const ref = await on('cpu', grads(referenceLayerNorm));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, grads(layerNorm));
      got.forEach((g, i) => {
        assert.deepEqual(g.shape, ref[i].shape);
        for (let j = 0; j < g.data.length; j++) {
          assert.ok(
            Math.abs(g.data[j] - ref[i].data[j]) <= 5e-5 * (1 + Math.abs(ref[i].data[j])),
            `${backend} output ${i}[${j}]: ${g.data[j]} vs ${ref[i].data[j]}`,
          );
        }
      });
    }
  });
}

test('layer norm over two trailing axes, and without gamma or beta, takes the portable path on wasm too', async () => {
  await matchesCpu(
    () => {
      const x = tf.tensor(values(60, 5), [3, 4, 5]);
      const g = tf.add(tf.tensor(values(20, 6), [4, 5]), 1);
      return [
        layerNorm(x, g, null, 2, 1e-5),
        tf.grad((v: tf.Tensor) => tf.sum(tf.square(layerNorm(v, g, null, 2, 1e-5))))(x),
        layerNorm(x, null, null, 1, 1e-5),
      ];
    },
    'layer norm portable',
    1e-4,
    1e-5,
  );
});
