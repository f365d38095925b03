// Welford/Chan statistics agree with a two-pass float64 computation.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { seededRandom } from '../../src/io/random.js';
import { RunningMoments } from '../../src/vbp/moments.js';
import { collectStatistics } from '../../src/vbp/statistics.js';
import * as tf from '@tensorflow/tfjs';
import { findBlocks } from '../../src/vbp/blocks.js';

function twoPass(rows: Float64Array[], size: number) {
  const mean = new Float64Array(size);
  rows.forEach((r) => r.forEach((v, i) => (mean[i] += v / rows.length)));
  const variance = new Float64Array(size);
  rows.forEach((r) => r.forEach((v, i) => (variance[i] += (v - mean[i]) ** 2 / (rows.length - 1))));
  return { mean, variance };
}

describe('RunningMoments', () => {
  const random = seededRandom(11);
  // Large offset relative to the spread: where the naive sum-of-squares formula loses digits.
  const rows = Array.from({ length: 1000 }, () => Float64Array.from({ length: 7 }, (_, i) => 1e4 * i + random() * 3));
  const reference = twoPass(rows, 7);

  it('Chan merge of uneven batches equals two-pass float64', () => {
    const m = new RunningMoments(7);
    for (let start = 0, size = 1; start < rows.length; start += size, size = size * 2 + 1) {
      const batch = rows.slice(start, start + size);
      const { mean } = twoPass([...batch, ...batch], 7); // mean of the batch
      const m2 = new Float64Array(7);
      batch.forEach((r) => r.forEach((v, i) => (m2[i] += (v - mean[i]) ** 2)));
      m.merge(batch.length, mean, m2);
    }
    assert.equal(m.count, 1000);
    const variance = m.variance();
    for (let i = 0; i < 7; i++) {
      assert.ok(Math.abs(m.mean[i] - reference.mean[i]) <= 1e-9 * Math.max(1, Math.abs(reference.mean[i])));
      assert.ok(Math.abs(variance[i] - reference.variance[i]) <= 1e-9 * reference.variance[i]);
    }
  });

  it('one-sample Welford equals two-pass float64', () => {
    const m = new RunningMoments(7);
    rows.forEach((r) => m.push(r));
    const variance = m.variance();
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(variance[i] - reference.variance[i]) <= 1e-9 * reference.variance[i]);
  });

  it('variance is zero below two samples', () => {
    const m = new RunningMoments(2);
    m.push([3, 4]);
    assert.deepEqual(Array.from(m.variance()), [0, 0]);
  });
});

describe('collectStatistics', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('matches two-pass float64 over post-activation outputs, every token a sample', async () => {
    // fc1 sees 3-D input [batch, tokens, dim]: each token is one sample of each hidden neuron.
    const input = tf.input({ shape: [5, 6] });
    const fc1 = tf.layers.dense({ units: 8, activation: 'relu', name: 'fc1' }).apply(input) as tf.SymbolicTensor;
    const fc2 = tf.layers.dense({ units: 6, name: 'fc2' }).apply(fc1) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: fc2 });
    const n = 70;
    const random = seededRandom(3);
    const x = Float32Array.from({ length: n * 30 }, () => random() * 4 - 2);
    const { blocks } = findBlocks(model);
    assert.deepEqual(
      blocks.map((b) => [b.fc1, b.fc2]),
      [['fc1', 'fc2']],
    );
    const [stats] = await collectStatistics(model, blocks, { x, n, sampleShape: [5, 6] }, { batchSize: 16 });
    assert.equal(stats.count, n * 5);
    const hidden = tf.model({ inputs: input, outputs: fc1 }).predict(tf.tensor3d(x, [n, 5, 6])) as tf.Tensor;
    const flat = await hidden.data();
    const rows = Array.from({ length: n * 5 }, (_, r) => Float64Array.from(flat.subarray(r * 8, r * 8 + 8)));
    const reference = twoPass(rows, 8);
    for (let i = 0; i < 8; i++) {
      assert.ok(Math.abs(stats.mean[i] - reference.mean[i]) <= 1e-5);
      assert.ok(Math.abs(stats.variance[i] - reference.variance[i]) <= 1e-5 * Math.max(1, reference.variance[i]));
    }
  });
});
