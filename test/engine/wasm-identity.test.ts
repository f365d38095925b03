import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { matchesCpu, setupBackends, values } from './helpers.js';

before(setupBackends);

test('Identity is replaced on wasm and a clone shares data without a copy', async () => {
  assert.ok(isReplaced('Identity'));
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const x = tf.tensor(values(12, 1), [3, 4]);
  const before = backend.numDataIds();
  const y = tf.clone(x);
  assert.equal(backend.numDataIds(), before, 'clone allocated a buffer');
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), Array.from(values(12, 1)), 'clone lost its data when the original was disposed');
  y.dispose();
  assert.equal(backend.numDataIds(), before - 1, 'buffer not released after both were disposed');
});

test('a variable assigned a clone keeps its value when the source is disposed', async () => {
  const v = tf.variable(tf.zeros([4]));
  const src = tf.tensor([1, 2, 3, 4]);
  v.assign(tf.clone(src));
  src.dispose();
  assert.deepEqual(Array.from(await v.data()), [1, 2, 3, 4]);
  v.dispose();
});

test('fused matmul and conv accept a bias whose buffer was last seen with another shape', async () => {
  await matchesCpu(() => {
    const bias = tf.clone(tf.reshape(tf.tensor(values(4, 2), [1, 1, 4]), [4]));
    const a = tf.tensor(values(30, 3), [6, 5]);
    const b = tf.tensor(values(20, 4), [5, 4]);
    const m = tf.fused.matMul({ a, b, bias, activation: 'relu' });
    const img = tf.tensor(values(2 * 5 * 5 * 3, 5), [2, 5, 5, 3]) as tf.Tensor4D;
    const filt = tf.tensor(values(3 * 3 * 3 * 4, 6), [3, 3, 3, 4]) as tf.Tensor4D;
    const c = tf.fused.conv2d({ x: img, filter: filt, strides: 1, pad: 'same', bias, activation: 'relu' });
    const dfilt = tf.tensor(values(3 * 3 * 3 * 1, 7), [3, 3, 3, 1]) as tf.Tensor4D;
    const d = tf.fused.depthwiseConv2d({
      x: img,
      filter: dfilt,
      strides: 1,
      pad: 'same',
      bias: tf.clone(tf.reshape(tf.tensor([0.1, -0.2, 0.3], [1, 3]), [3])),
    });
    return [m, c, d];
  }, 'fused with stale bias record');
});

test('Cast to the same dtype shares data; casts to bool are x ≠ 0 (0.5 and NaN are true), as on cpu', async () => {
  assert.ok(isReplaced('Cast'));
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const x = tf.tensor(values(12, 2), [3, 4]);
  const before = backend.numDataIds();
  const y = tf.cast(x, 'float32');
  assert.equal(backend.numDataIds(), before, 'same-dtype cast allocated a buffer');
  tf.dispose([x, y]);
  await matchesCpu(
    () => {
      const f = tf.tensor([0, 0.5, -0.25, NaN, 2, -0]);
      const i = tf.tensor([0, 3, -1, 0], undefined, 'int32');
      return [tf.cast(f, 'bool'), tf.cast(i, 'bool'), tf.cast(f, 'int32'), tf.cast(i, 'float32'), tf.cast(tf.cast(f, 'bool'), 'float32')];
    },
    'cast',
    0,
    0,
  );
});
