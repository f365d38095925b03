import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { blockPlan } from '../../src/engine/wasm/block-transpose.js';
import { permutationMoves, simplifyPermutation } from '../../src/engine/wasm/transpose.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { matchesCpu, setupBackends, size, values } from './helpers.js';

before(setupBackends);

test('simplifyPermutation drops size-1 axes and merges axes that stay adjacent', () => {
  assert.deepEqual(simplifyPermutation([2, 3, 4], [0, 1, 2]), { shape: [24], perm: [0] });
  assert.deepEqual(simplifyPermutation([2, 3, 4, 5], [0, 2, 3, 1]), { shape: [2, 3, 20], perm: [0, 2, 1] });
  assert.deepEqual(simplifyPermutation([2, 1, 4], [2, 1, 0]), { shape: [2, 4], perm: [1, 0] });
  assert.deepEqual(simplifyPermutation([32, 16, 3, 4, 16], [2, 0, 3, 1, 4]), { shape: [32, 16, 3, 4, 16], perm: [2, 0, 3, 1, 4] });
});

test('permutationMoves compose to the permutation, each simplifying to <= 4 axes', () => {
  const perms = [
    [2, 0, 3, 1, 4],
    [4, 3, 2, 1, 0],
    [1, 3, 5, 0, 2, 4],
    [5, 4, 3, 2, 1, 0],
  ];
  for (const perm of perms) {
    const n = perm.length;
    let cur = Array.from({ length: n }, (_, i) => i);
    for (const step of permutationMoves(perm)) {
      assert.ok(simplifyPermutation(Array(n).fill(2), step).perm.length <= 4, `step ${step}`);
      cur = step.map((a) => cur[a]);
    }
    assert.deepEqual(cur, perm);
  }
});

test('Transpose is replaced on wasm', () => assert.ok(isReplaced('Transpose')));

test('blockPlan: rows that stay last and are a multiple of 4 long, at most 4 outer axes', () => {
  assert.deepEqual(blockPlan([3, 4, 3, 2, 8], [2, 0, 3, 1, 4]), { n: [3, 3, 2, 4], strides: [64, 768, 32, 192], runVectors: 2 });
  assert.deepEqual(blockPlan([6, 8], [0, 1]), { n: [1, 1, 1, 6], strides: [0, 0, 0, 32], runVectors: 2 });
  assert.equal(blockPlan([6, 6], [1, 0]), null);
  assert.equal(blockPlan([6, 6, 6], [1, 0, 2]), null); // rows of 6
  assert.equal(blockPlan([2, 2, 2, 2, 2, 4], [4, 0, 3, 1, 2, 5]), null);
});

const CASES: [number[], number[]][] = [
  [
    [3, 4],
    [1, 0],
  ],
  [
    [2, 3, 4],
    [2, 0, 1],
  ],
  [
    [2, 3, 4, 5],
    [3, 1, 0, 2],
  ],
  [
    [2, 1, 4, 1, 3],
    [4, 2, 0, 3, 1],
  ],
  [
    [3, 4, 3, 2, 5],
    [2, 0, 3, 1, 4],
  ], // attention's q|k|v split
  [
    [2, 3, 2, 3, 2],
    [4, 3, 2, 1, 0],
  ],
  [
    [2, 3, 2, 2, 3, 2],
    [1, 3, 5, 0, 2, 4],
  ],
  [
    [4, 5, 6],
    [0, 1, 2],
  ], // identity
  [
    [3, 4, 3, 2, 8],
    [2, 0, 3, 1, 4],
  ], // q|k|v split with rows of 8: one SIMD row-copy pass
  [
    [2, 5, 3, 12],
    [0, 2, 1, 3],
  ], // [B,T,H,d] → [B,H,T,d]: rows of 12
  [
    [5, 4],
    [1, 0],
  ], // last axis moves: not a row copy
  [
    [2, 3, 2, 2, 2, 4],
    [4, 0, 3, 1, 2, 5],
  ], // 5 outer axes: the stock path
];

for (const [shape, perm] of CASES) {
  test(`transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)} matches cpu (float32, int32, bool) with gradients`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 3), shape);
        const dy = tf.tensor(
          values(size(shape), 4),
          perm.map((a) => shape[a]),
        );
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.transpose(v, perm), dy)))(x);
        const xi = tf.cast(tf.mul(x, 100), 'int32');
        const xb = tf.greater(x, 0);
        return [tf.transpose(x, perm), g, tf.transpose(xi, perm), tf.cast(tf.transpose(xb, perm), 'int32')];
      },
      'transpose',
      0,
      0,
    );
  });
}
