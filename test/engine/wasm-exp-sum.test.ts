import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { expApprox } from '../../src/engine/wasm/exp.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { leadingReduction } from '../../src/engine/wasm/sum.js';
import { assertClose, matchesCpu, setupBackends, size, values } from './helpers.js';

before(setupBackends);

test('Exp, Sum and Mean are replaced on wasm', () => {
  for (const k of ['Exp', 'Sum', 'Mean']) assert.ok(isReplaced(k), k);
});

test('the exp approximation is within 2.5e-7 (relative) of exp over the float range', () => {
  let worst = 0;
  for (let v = -87; v <= 88.7; v += 0.0137) {
    const want = Math.exp(Math.fround(v));
    worst = Math.max(worst, Math.abs(expApprox(Math.fround(v)) - want) / want);
  }
  assert.ok(worst < 2.5e-7, `worst relative error ${worst}`);
});

test('exp: edge values (overflow, underflow to denormals and 0, NaN, infinities)', () => {
  assert.equal(expApprox(88.8), Infinity);
  assert.equal(expApprox(Infinity), Infinity);
  assert.equal(expApprox(-Infinity), 0);
  assert.equal(expApprox(-110), 0);
  assert.ok(Number.isNaN(expApprox(NaN)));
  const d = expApprox(-100); // a denormal: 2^n applied in two halves keeps it
  assert.ok(d > 0 && Math.abs(d - Math.exp(-100)) <= 1.5e-45, String(d)); // within one denormal step
  assert.equal(expApprox(0), 1);
});

test('exp on wasm: the SIMD lanes give the same bits as the scalar version, edge values included', async () => {
  const xs = Float32Array.from([...values(1001, 9)].map((v) => v * 90));
  xs.set([88.8, -110, NaN, Infinity, -Infinity, -100, 0, 88.72, -87.5], 0);
  const got = tf.tidy(() => tf.exp(tf.tensor(xs)).dataSync());
  for (let i = 0; i < xs.length; i++) {
    const want = expApprox(xs[i]);
    assert.ok(Object.is(got[i], Math.fround(want)), `exp(${xs[i]}): ${got[i]} vs ${want}`);
  }
});

test('exp matches cpu for every length mod 4, with its gradient', async () => {
  for (const n of [1, 2, 3, 4, 5, 7, 64, 1001]) {
    await matchesCpu(
      () => {
        const x = tf.mul(tf.tensor(values(n, n)), 12);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.exp(v)))(x);
        return [tf.exp(x), g];
      },
      `exp n=${n}`,
      3e-7,
      0,
    );
  }
});

test('leadingReduction: reduced axes before every kept axis of size > 1', () => {
  assert.deepEqual(leadingReduction([4, 5, 6], [0]), { rows: 4, cols: 30 });
  assert.deepEqual(leadingReduction([4, 5, 6], [0, 1]), { rows: 20, cols: 6 });
  assert.deepEqual(leadingReduction([1, 4096, 64], [1]), { rows: 4096, cols: 64 }); // size-1 axes are ignored
  assert.deepEqual(leadingReduction([4, 1, 6], [0, 1]), { rows: 4, cols: 6 });
  assert.equal(leadingReduction([4, 5, 6], [1]), null);
  assert.equal(leadingReduction([4, 5, 6], [2]), null);
  assert.equal(leadingReduction([4, 5, 6], [0, 2]), null);
});

const SUMS: [number[], number[], boolean][] = [
  [[4096, 64], [0], false], // a LayerNorm gamma gradient
  [[32, 16, 192], [0, 1], false], // a Dense bias gradient on 3-D activations
  [[32, 16, 192], [0, 1], true],
  [[7, 10], [0], false], // 4-wide columns and a 2-column tail
  [[9, 5], [0], true], // one vector and one tail column
  [[6, 3], [0], false], // fewer than 4 columns: stock kernel
  [[1, 50, 1, 8], [0, 1, 2], false],
  [[5, 6, 7], [1], false], // a middle axis: stock kernel
  [[5, 6, 7], [2], true], // innermost: stock kernel
  [[5, 6, 7], [0, 1, 2], false], // everything: stock kernel
  [[0, 8], [0], false], // empty
];

for (const [shape, axes, keepDims] of SUMS) {
  test(`sum and moments ${JSON.stringify(shape)} over ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''} match cpu, with the sum's gradient`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 5), shape);
        const y = tf.sum(x, axes, keepDims);
        const dy = tf.tensor(values(y.size, 6), y.shape);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.sum(v, axes, keepDims), dy)))(x);
        if (x.size === 0) return [y, g];
        const { mean, variance } = tf.moments(x, axes, keepDims); // Mean over the same axes
        return [y, g, mean, variance];
      },
      'sum',
      1e-4,
      1e-5,
    ); // float32 accumulation (stock wasm too); cpu sums in float64
  });
}

test('sum of int32 and bool go to the stock kernel and stay exact', async () => {
  await matchesCpu(
    () => {
      const x = tf.tensor(
        [
          [1, 2, 3, 4, 5],
          [6, 7, 8, 9, 10],
          [11, 12, 13, 14, 15],
        ],
        undefined,
        'int32',
      );
      return [tf.sum(x, 0), tf.sum(tf.greater(x, 7), 0)];
    },
    'sum int',
    0,
    0,
  );
});

test('a long column sum in float32 stays close to the float64 sum', () => {
  const rows = 20000;
  const data = values(rows * 8, 11);
  const got = tf.tidy(() => tf.sum(tf.tensor(data, [rows, 8]), 0).dataSync());
  const want = new Float64Array(8);
  for (let i = 0; i < data.length; i++) want[i % 8] += data[i];
  assertClose(got, want, 'column sums', 0, 2e-3);
});
