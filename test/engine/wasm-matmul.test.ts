import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { matchesCpu, setupBackends, size, values } from './helpers.js';

before(setupBackends);

const T = (shape: number[], seed: number) => tf.tensor(values(size(shape), seed), shape);

test('BatchMatMul and _FusedMatMul are replaced on wasm', () => {
  assert.ok(isReplaced('BatchMatMul'));
  assert.ok(isReplaced('_FusedMatMul'));
});

// [a shape, b shape] for transposeA=false, transposeB=false; transposed variants swap the last two axes.
const CASES: [number[], number[]][] = [
  [
    [5, 7],
    [7, 3],
  ], // 2-D
  [
    [1, 9, 6],
    [1, 6, 4],
  ], // batch 1
  [
    [3, 5, 7],
    [7, 4],
  ], // 3-D x 2-D: folded into one 2-D matmul
  [
    [2, 3, 5, 7],
    [1, 7, 4],
  ], // 4-D x 3-D with batch 1 on b
  [
    [5, 7],
    [3, 7, 4],
  ], // 2-D x batched b
  [
    [1, 5, 7],
    [2, 3, 7, 4],
  ], // broadcast a over b's batch
  [
    [3, 5, 7],
    [3, 7, 4],
  ], // both batched: the SIMD kernel
  [
    [3, 5, 7],
    [3, 7, 9],
  ], // ... with 4-wide and scalar column tails
  [
    [2, 17, 16],
    [2, 16, 37],
  ], // ... 16-wide, 4-wide and scalar columns
  [
    [2, 4, 16, 16],
    [2, 4, 16, 16],
  ], // attention-shaped
  [
    [2, 3, 5, 7],
    [1, 3, 7, 4],
  ], // b broadcast over a's first axis: stock loop
  [
    [1, 5, 7],
    [4, 7, 4],
  ], // a broadcast: one XNNPACK matmul on b rearranged to [k, batch·n]
  [
    [2, 3, 5, 7],
    [2, 1, 7, 4],
  ], // stock loop (b broadcast inside the batch)
  [
    [6, 300],
    [300, 21],
  ], // K over the SIMD kernel's slice (128): accumulated over three calls
  [
    [2, 5, 257],
    [2, 257, 9],
  ], // ... batched, K one past two slices
  [
    [32, 300],
    [300, 21],
  ], // a few rows (8-96) against a matrix: computed as (op(B)ᵀ·Aᵀ)ᵀ, K in slices
  [
    [4, 8, 130],
    [130, 9],
  ], // ... with the batch folded into 32 rows
];

const tr = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];

for (const [as, bs] of CASES) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      // tfjs-core's BatchMatMul gradient does not reduce over broadcast batch axes (it fails on
      // cpu too), so gradients are compared only where both operands have the same batch axes.
      const sameBatch = JSON.stringify(as.slice(0, -2)) === JSON.stringify(bs.slice(0, -2));
      test(`matMul ${JSON.stringify(as)} x ${JSON.stringify(bs)} transposeA=${ta} transposeB=${tb}: forward${sameBatch ? ' and gradients' : ''} match cpu`, async () => {
        const aShape = ta ? tr(as) : as;
        const bShape = tb ? tr(bs) : bs;
        await matchesCpu(() => {
          const a = T(aShape, 1);
          const b = T(bShape, 2);
          const y = tf.matMul(a, b, ta, tb);
          if (!sameBatch) return y;
          const dy = T(y.shape, 3);
          const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, ta, tb), dy)));
          return [y, ...g([a, b])];
        }, 'matMul');
      });
    }
  }
}

for (const activation of ['linear', 'relu', 'elu', 'sigmoid'] as const) {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    for (const batch of [1, 3]) {
      test(`fused.matMul batch ${batch}, bias, ${activation}, transposeA=${ta} transposeB=${tb}: forward and gradients match cpu`, async () => {
        await matchesCpu(() => {
          const a = T(ta ? [batch, 7, 5] : [batch, 5, 7], 4);
          const b = T(tb ? [1, 4, 7] : [1, 7, 4], 5);
          const bias = T([4], 6);
          const f = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
            tf.fused.matMul({ a: x as tf.Tensor3D, b: w as tf.Tensor3D, transposeA: ta, transposeB: tb, bias: c, activation });
          const y = f(a, b, bias);
          const dy = T(y.shape, 7);
          if (batch > 1) {
            // b is broadcast over the batch: tfjs-core cannot differentiate that (on any backend).
            const g = tf.grads((x: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(x, b, c), dy)));
            return [y, ...g([a, bias])];
          }
          const g = tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(x, w, c), dy)));
          return [y, ...g([a, b, bias])];
        }, 'fused.matMul');
      });
    }
  }
}

test('fused.matMul with prelu on a batched a', async () => {
  await matchesCpu(() => {
    const a = T([3, 5, 7], 8);
    const b = T([1, 7, 4], 9);
    const alpha = T([4], 10);
    return tf.fused.matMul({ a, b, activation: 'prelu', preluActivationWeights: alpha, bias: T([4], 11) });
  }, 'fused.matMul prelu');
});

test('a Dense layer on 3-D input trains to the same weights as on cpu', async () => {
  await matchesCpu(() => {
    const layer = tf.layers.dense({ units: 6, activation: 'relu', kernelInitializer: 'ones', biasInitializer: 'zeros' });
    const x = T([4, 5, 8], 12);
    layer.apply(x);
    layer.setWeights([T([8, 6], 13), T([6], 14)]);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.square(layer.apply(x) as tf.Tensor)),
      layer.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const out = Object.keys(grads)
      .sort()
      .map((k) => grads[k]);
    layer.dispose();
    return out;
  }, 'dense grads');
});

test('repeated matmuls give bit-identical results (the kernel choice depends only on shapes)', async () => {
  await tf.setBackend('wasm');
  const a = T([2, 6, 9], 20);
  const b = T([1, 9, 5], 21);
  const bias = T([5], 22);
  const w = T([9, 5], 23);
  const x = T([6, 9], 24);
  const runs = [
    () => tf.fused.matMul({ a, b, bias, activation: 'relu' }),
    () => tf.matMul(x, w),
    () => tf.matMul(x, w, false, false),
    () => tf.matMul(a, b, false, false),
    () => tf.matMul(x, T([5, 9], 25), false, true),
  ];
  for (const run of runs) {
    const first = await run().data();
    for (let i = 0; i < 3; i++) assert.deepEqual(await run().data(), first);
  }
  tf.dispose([a, b, bias, w, x]);
});
