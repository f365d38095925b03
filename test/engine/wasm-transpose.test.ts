import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
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
  const perms = [[2, 0, 3, 1, 4], [4, 3, 2, 1, 0], [1, 3, 5, 0, 2, 4], [5, 4, 3, 2, 1, 0]];
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

const CASES: [number[], number[]][] = [
  [[3, 4], [1, 0]],
  [[2, 3, 4], [2, 0, 1]],
  [[2, 3, 4, 5], [3, 1, 0, 2]],
  [[2, 1, 4, 1, 3], [4, 2, 0, 3, 1]],
  [[3, 4, 3, 2, 5], [2, 0, 3, 1, 4]], // attention's q|k|v split
  [[2, 3, 2, 3, 2], [4, 3, 2, 1, 0]],
  [[2, 3, 2, 2, 3, 2], [1, 3, 5, 0, 2, 4]],
  [[4, 5, 6], [0, 1, 2]], // identity
];

for (const [shape, perm] of CASES) {
  test(`transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)} matches cpu (float32, int32, bool) with gradients`, async () => {
    await matchesCpu(() => {
      const x = tf.tensor(values(size(shape), 3), shape);
      const dy = tf.tensor(values(size(shape), 4), perm.map((a) => shape[a]));
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.transpose(v, perm), dy)))(x);
      const xi = tf.cast(tf.mul(x, 100), 'int32');
      const xb = tf.greater(x, 0);
      return [tf.transpose(x, perm), g, tf.transpose(xi, perm), tf.cast(tf.transpose(xb, perm), 'int32')];
    }, 'transpose', 0, 0);
  });
}
