// Lopper's AdamW update op: the wasm kernel (one SIMD pass) against the portable ops on cpu, bit
// for bit, with and without decay, for every length mod 4; the AdamW optimizer on both; and a
// fine-tuning run through all of Lopper's wasm ops without tensor growth.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ADAMW_UPDATE } from '../../src/engine/ops/adamw-update.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { LayerNormalization } from '../../src/layers/index.js';
import { AdamW } from '../../src/train/adamw.js';
import { fineTune } from '../../src/train/fine-tune.js';
import { matchesCpu, on, setupBackends, values } from './helpers.js';
import { ADAMW_LENGTHS, adamwCase } from './wasm-bits.js';

before(setupBackends);

test('the AdamW update kernel exists on wasm only', () => {
  assert.ok(isReplaced(ADAMW_UPDATE));
  assert.equal(tf.getKernel(ADAMW_UPDATE, 'cpu'), undefined);
});

for (const n of ADAMW_LENGTHS) {
  for (const decay of [true, false]) {
    test(`adamwUpdate n=${n}${decay ? ' with decay' : ''}: wasm kernel gives the portable path's bits`, async () => {
      await matchesCpu(() => adamwCase(n, decay), 'adamw', 0, 0);
    });
  }
}

test('AdamW: 3 steps of a kernel, a bias and a LayerNorm-like scale train to the same bits on wasm and cpu', async () => {
  const run = () => {
    const vars = [
      tf.variable(tf.tensor(values(12, 7), [3, 4])),
      tf.variable(tf.tensor(values(4, 8))),
      tf.variable(tf.tensor(values(5, 9))),
    ];
    const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
    for (let step = 0; step < 3; step++) {
      tf.tidy(() =>
        opt.applyGradients(
          Object.fromEntries(vars.map((v, i) => [v.name, tf.mul(tf.tensor(values(v.size, 10 * step + i), v.shape), 0.1)])),
        ),
      );
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

test("fineTune with Lopper's kernels (layer norm, GELU, AdamW update) trains and keeps the tensor count flat across epochs", async () => {
  const input = tf.input({ shape: [6, 8] });
  let h = new LayerNormalization({ epsilon: 1e-5 }).apply(input) as tf.SymbolicTensor;
  h = tf.layers
    .dense({ units: 16, activation: 'gelu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 8, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling1d().apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tf.SymbolicTensor;
  const student = tf.model({ inputs: input, outputs: out });
  const n = 40;
  const x = Float32Array.from(values(n * 48, 12), (v) => v * 2);
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  const teacher = Float32Array.from({ length: n * 3 }, (_, i) => (i % 3 === y[Math.floor(i / 3)] ? 3 : 0));
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const { epochs } = await fineTune(student, { x, n, sampleShape: [6, 8], y }, teacher, {
    epochs: 4,
    batchSize: 16,
    learningRate: 3e-3,
    weightDecay: 0.01,
    temperature: 1,
    distillWeight: 0.5,
    seed: 0,
    evaluate: async () => (counts.push(tf.memory().numTensors), null),
  });
  assert.ok(epochs[3].loss < epochs[0].loss, `loss ${epochs.map((e) => e.loss)}`);
  assert.equal(counts[3], counts[1]);
  assert.equal(tf.memory().numTensors, before);
  student.dispose();
});
