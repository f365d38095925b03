import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { erfApprox } from '../../src/engine/wasm/erf.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { copyBox } from '../../src/engine/wasm/slice.js';
import { assertClose, matchesCpu, setupBackends, size, values } from './helpers.js';

before(setupBackends);

test('Slice, Unpack, SplitV and Erf are replaced on wasm', () => {
  for (const k of ['Slice', 'Unpack', 'SplitV', 'Erf']) assert.ok(isReplaced(k), k);
});

for (const [shape, sizes, axis] of [
  [[23], [4, 1, 18], 0],
  [[3, 10, 2], [5, 5], 1],
  [[4, 3], 2, 0],
  [[2, 6], [1, -1, 2], 1],
] as [number[], number[] | number, number][]) {
  test(`split ${JSON.stringify(shape)} into ${JSON.stringify(sizes)} along ${axis} matches cpu, with its gradient`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 7), shape);
        const parts = tf.split(x, sizes, axis);
        const ws = parts.map((p, i) => tf.tensor(values(p.size, 20 + i), p.shape));
        const g = tf.grad((v: tf.Tensor) => tf.addN(tf.split(v, sizes, axis).map((p, i) => tf.sum(tf.mul(p, ws[i])))))(x);
        return [...parts, g, ...tf.split(tf.cast(tf.mul(x, 10), 'int32'), sizes, axis)];
      },
      'split',
      0,
      0,
    );
  });
}

test('copyBox copies a box of a row-major array', () => {
  const src = Float32Array.from({ length: 24 }, (_, i) => i); // [2, 3, 4]
  const out = new Float32Array(2 * 2 * 2);
  copyBox(src, [2, 3, 4], [0, 1, 1], [2, 2, 2], out);
  assert.deepEqual(Array.from(out), [5, 6, 9, 10, 17, 18, 21, 22]);
});

const SLICES: [number[], number[], number[]][] = [
  [[10], [3], [4]],
  [
    [4, 5],
    [1, 0],
    [2, 5],
  ], // contiguous rows
  [
    [4, 5],
    [1, 2],
    [3, 2],
  ],
  [
    [3, 4, 5],
    [0, 1, 0],
    [3, 2, 5],
  ],
  [
    [2, 3, 4, 5],
    [1, 0, 2, 1],
    [1, 3, 2, 3],
  ],
  [
    [2, 3, 2, 4, 5],
    [0, 1, 0, 1, 2],
    [2, 2, 2, 3, 3],
  ], // rank 5
  [
    [3, 4],
    [0, 0],
    [0, 4],
  ], // empty
];

for (const [shape, begin, sz] of SLICES) {
  test(`slice ${JSON.stringify(shape)} at ${JSON.stringify(begin)} size ${JSON.stringify(sz)} matches cpu, with its gradient`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 2), shape);
        const dy = tf.tensor(values(size(sz), 3), sz);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, begin, sz), dy)))(x);
        const xi = tf.cast(tf.mul(x, 100), 'int32');
        return [tf.slice(x, begin, sz), g, tf.slice(xi, begin, sz), tf.cast(tf.slice(tf.greater(x, 0), begin, sz), 'int32')];
      },
      'slice',
      0,
      0,
    );
  });
}

for (const [shape, axis] of [
  [[3, 4, 5], 0],
  [[3, 4, 5], 1],
  [[3, 4, 5], -1],
  [[3, 2, 2, 4, 4], 0],
] as [number[], number][]) {
  test(`unstack ${JSON.stringify(shape)} along ${axis} matches cpu, with its gradient`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 4), shape);
        const parts = tf.unstack(x, axis);
        const ws = parts.map((p, i) => tf.tensor(values(p.size, 10 + i), p.shape));
        const g = tf.grad((v: tf.Tensor) => tf.addN(tf.unstack(v, axis).map((p, i) => tf.sum(tf.mul(p, ws[i])))))(x);
        return [...parts, g];
      },
      'unstack',
      0,
      0,
    );
  });
}

test('erf matches cpu (A&S 7.1.26 there) to 5e-7, for every length mod 4, with its gradient', async () => {
  for (const n of [1, 2, 3, 4, 5, 7, 64, 1001]) {
    await matchesCpu(
      () => {
        const x = tf.mul(tf.tensor(values(n, n)), 5);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.erf(v)))(x);
        return [tf.erf(x), g];
      },
      `erf n=${n}`,
      0,
      5e-7,
    );
  }
});

test('the erf approximation is within 4e-7 of erf', () => {
  // erf by its Maclaurin series in double precision (exact enough for |x| < 5).
  const ref = (x: number) => {
    if (Math.abs(x) > 5) return Math.sign(x);
    let s = 0;
    let t = x;
    for (let n = 0; n < 200; n++) {
      const term = t / (2 * n + 1);
      s += term;
      if (Math.abs(term) < 1e-17) break;
      t *= (-x * x) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  };
  const xs = Array.from({ length: 1201 }, (_, i) => -6 + i * 0.01);
  assertClose(xs.map(erfApprox), xs.map(ref), 'erf', 0, 4e-7);
});

test('gelu Dense layer output matches cpu', async () => {
  await matchesCpu(
    () => {
      const layer = tf.layers.dense({ units: 7, activation: 'gelu' as any, kernelInitializer: 'glorotUniform' });
      const x = tf.tensor(values(5 * 6, 9), [5, 6]);
      layer.apply(x);
      layer.setWeights([tf.tensor(values(42, 10), [6, 7]), tf.tensor(values(7, 11), [7])]);
      const y = layer.apply(x) as tf.Tensor;
      const out = tf.clone(y);
      layer.dispose();
      return out;
    },
    'gelu',
    1e-5,
    1e-6,
  );
});
