// Lopper's AdamW update op: the wasm kernel (one SIMD pass) against the portable ops on cpu, bit
// for bit, with and without decay, for every length mod 4; and the AdamW optimizer on both.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ADAMW_UPDATE, adamwUpdate } from '../../src/engine/ops/adamw-update.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { AdamW } from '../../src/train/adamw.js';
import { matchesCpu, on, setupBackends, values } from './helpers.js';

before(setupBackends);

test('the AdamW update kernel exists on wasm only', () => {
  assert.ok(isReplaced(ADAMW_UPDATE));
  assert.equal(tf.getKernel(ADAMW_UPDATE, 'cpu'), undefined);
});

const STEP = { beta1: 0.9, beta2: 0.999, stepSize: 0.0123, epsilon: 1e-8 * Math.sqrt(0.001999), decay: 1.5e-5 * 0.01 };

for (const n of [1, 3, 4, 9, 1001]) {
  for (const decay of [true, false]) {
    test(`adamwUpdate n=${n}${decay ? ' with decay' : ''}: wasm kernel gives the portable path's bits`, async () => {
      await matchesCpu(() => {
        const w = tf.tensor(values(n, 1));
        const g = tf.mul(tf.tensor(values(n, 2)), 0.01);
        const m = tf.mul(tf.tensor(values(n, 3)), 0.001);
        const v = tf.abs(tf.mul(tf.tensor(values(n, 4)), 1e-5));
        const mask = decay ? tf.tensor(Float32Array.from(values(n, 5), (x) => (x > 0 ? 1 : 0))) : null;
        return adamwUpdate(w, g, m, v, mask, STEP);
      }, 'adamw', 0, 0);
    });
  }
}

test('AdamW: 3 steps of a kernel, a bias and a LayerNorm-like scale train to the same bits on wasm and cpu', async () => {
  const run = () => {
    const vars = [tf.variable(tf.tensor(values(12, 7), [3, 4])), tf.variable(tf.tensor(values(4, 8))), tf.variable(tf.tensor(values(5, 9)))];
    const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => opt.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, tf.mul(tf.tensor(values(v.size, 10 * step + i), v.shape), 0.1)]))));
    }
    const out = vars.map((v) => v.clone());
    opt.dispose();
    tf.dispose(vars);
    return out;
  };
  const cpu = await on('cpu', run);
  const wasm = await on('wasm', run);
  cpu.forEach((c, i) => assert.deepEqual(Array.from(wasm[i].data), Array.from(c.data), `variable ${i}`));
});
