import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerTileGradient, restoreTileGradient, tileGradientPlan } from '../../src/engine/gradients/tile.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { simplifyTile, tileInto } from '../../src/engine/wasm/tile.js';
import { assertClose, matchesCpu, on, setupBackends, size, values } from './helpers.js';

before(setupBackends);

test('Tile is replaced on wasm', () => assert.ok(isReplaced('Tile')));

test('simplifyTile merges axes without changing the layout', () => {
  assert.deepEqual(simplifyTile([1, 1, 64], [32, 16, 1]), { x: [64], reps: [512] });
  assert.deepEqual(simplifyTile([32, 16, 1], [1, 1, 64]), { x: [512, 1], reps: [1, 64] });
  assert.deepEqual(simplifyTile([2, 3], [1, 1]), { x: [6], reps: [1] });
  assert.deepEqual(simplifyTile([1, 1], [1, 1]), { x: [], reps: [] });
});

test('tileInto matches a direct definition', () => {
  const shapes: [number[], number[]][] = [
    [
      [2, 3],
      [2, 2],
    ],
    [
      [3, 1, 2],
      [1, 4, 3],
    ],
    [
      [1, 2, 1, 3],
      [2, 1, 3, 2],
    ],
  ];
  for (const [shape, reps] of shapes) {
    const src = Float32Array.from(values(size(shape), 5));
    const outShape = shape.map((d, i) => d * reps[i]);
    const out = new Float32Array(size(outShape));
    const s = simplifyTile(shape, reps);
    tileInto(src, out, s.x, s.reps);
    const expected = new Float32Array(out.length);
    for (let o = 0; o < out.length; o++) {
      let rem = o;
      let xi = 0;
      for (let k = 0; k < shape.length; k++) {
        const inner = size(outShape.slice(k + 1));
        const idx = Math.floor(rem / inner) % shape[k];
        rem %= inner;
        xi = xi * shape[k] + idx;
      }
      expected[o] = src[xi];
    }
    assert.deepEqual(out, expected, `${shape} × ${reps}`);
  }
});

const CASES: [number[], number[]][] = [
  [[5], [3]],
  [
    [2, 3],
    [3, 2],
  ],
  [
    [1, 1, 8],
    [4, 5, 1],
  ], // LayerNormalization's gamma / beta
  [
    [4, 5, 1],
    [1, 1, 8],
  ], // its mean / variance
  [
    [2, 3, 4],
    [2, 1, 3],
  ],
  [
    [2, 1, 3, 2],
    [1, 3, 2, 2],
  ],
  [
    [2, 2, 1, 2, 3],
    [2, 1, 3, 2, 1],
  ], // rank 5: tfjs-core has no gradient for it
  [
    [3, 4],
    [1, 1],
  ],
];

for (const [shape, reps] of CASES) {
  test(`tile ${JSON.stringify(shape)} × ${JSON.stringify(reps)} matches cpu for float32, int32 and bool, with its gradient`, async () => {
    await matchesCpu(
      () => {
        const x = tf.tensor(values(size(shape), 7), shape);
        const outShape = shape.map((d, i) => d * reps[i]);
        const dy = tf.tensor(values(size(outShape), 8), outShape);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, reps), dy)))(x);
        const xi = tf.cast(tf.mul(x, 100), 'int32');
        return [tf.tile(x, reps), g, tf.tile(xi, reps), tf.cast(tf.tile(tf.greater(x, 0), reps), 'int32')];
      },
      'tile',
      1e-5,
      1e-5,
    );
  });
}

test('the Tile gradient equals tfjs-core’s own (ranks 1-4) on cpu', async () => {
  for (const [shape, reps] of CASES.filter(([s]) => s.length <= 4)) {
    const fn = () => {
      const x = tf.tensor(values(size(shape), 9), shape);
      const outShape = shape.map((d, i) => d * reps[i]);
      const dy = tf.tensor(values(size(outShape), 10), outShape);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, reps), dy)))(x);
    };
    restoreTileGradient();
    const stock = await on('cpu', fn);
    registerTileGradient();
    const ours = await on('cpu', fn);
    assertClose(ours[0].data, stock[0].data, `${shape} × ${reps}`, 1e-5, 1e-6);
  }
});

test('tileGradientPlan views dy as alternating repetition and data axes', () => {
  assert.deepEqual(tileGradientPlan([1, 1, 64], [32, 16, 1]), { shape: [512, 64], sumAxes: [0] });
  assert.deepEqual(tileGradientPlan([32, 16, 1], [1, 1, 64]), { shape: [512, 64], sumAxes: [1] });
  assert.deepEqual(tileGradientPlan([2, 3], [1, 1]), { shape: [6], sumAxes: [] });
  assert.deepEqual(tileGradientPlan([2, 3], [4, 5]), { shape: [4, 2, 5, 3], sumAxes: [0, 2] });
});
