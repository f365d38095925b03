// Mean-shift surgery is exact: the pruned model computes what the original computes when the
// pruned hidden activations are replaced by their calibration means.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { selectKept } from '../../src/vbp/ranking.js';
import { collectStatistics } from '../../src/vbp/statistics.js';
import { pruneModel, type BlockPlan } from '../../src/vbp/surgery.js';
import { buildMlp } from '../../scripts/lib/train-mlp.js';
import { mnistDigits } from '../../scripts/lib/mnist.js';

/** Forward pass of a Dense chain by hand, replacing pruned hidden units by their means. */
function forwardWithMeans(model: tf.LayersModel, x: tf.Tensor2D, plans: BlockPlan[]): tf.Tensor {
  return tf.tidy(() => {
    let h: tf.Tensor = x;
    const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
    dense.forEach((layer, i) => {
      const [w, b] = layer.getWeights();
      h = tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b);
      const act = (layer.getConfig() as any).activation;
      h = act === 'relu' ? tf.relu(h) : act === 'softmax' ? tf.softmax(h) : h;
      const plan = plans[i];
      if (plan && i < dense.length - 1) {
        const keep = new Float32Array(plan.block.hidden);
        plan.kept.forEach((k) => (keep[k] = 1));
        const mask = tf.tensor1d(keep);
        const means = tf.tensor1d(Float32Array.from(plan.mean!));
        h = tf.add(tf.mul(h, mask), tf.mul(means, tf.sub(1, mask)));
      }
    });
    return h;
  });
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

describe('surgery', () => {
  const { train } = mnistDigits(600, 0);
  const x = tf.tensor2d(train.x, [train.n, 784]);
  before(async () => {
    await initBackend('wasm');
  });

  for (const hidden of [[64], [512, 512]]) {
    it(`784-${hidden.join('-')}-10: pruned model equals mean replacement (≤ 1e-4)`, async () => {
      const model = buildMlp({ inputSize: 784, hidden, classes: 10, seed: 3 });
      const { blocks } = findBlocks(model);
      assert.equal(blocks.length, hidden.length);
      const stats = await collectStatistics(model, blocks, { x: train.x, n: train.n, sampleShape: [784] });
      const kept = selectKept(
        stats.map((s) => s.variance),
        0.5,
        'global',
      );
      const plans = blocks.map((block, i) => ({ block, kept: kept[i], mean: stats[i].mean }));
      const pruned = await pruneModel(model, plans);
      const expected = forwardWithMeans(model, x, plans);
      const actual = pruned.predict(x) as tf.Tensor;
      assert.ok((await maxAbsDiff(expected, actual)) <= 1e-4);
      // and the pruned network really is smaller
      assert.ok(pruned.countParams() < model.countParams());
      tf.dispose([expected, actual]);
    });
  }

  it('ratio 0 gives bit-identical outputs', async () => {
    const model = buildMlp({ inputSize: 784, hidden: [128, 64], classes: 10, seed: 5 });
    const { blocks } = findBlocks(model);
    const stats = await collectStatistics(model, blocks, { x: train.x, n: train.n, sampleShape: [784] });
    const kept = selectKept(
      stats.map((s) => s.variance),
      0,
      'global',
    );
    const pruned = await pruneModel(
      model,
      blocks.map((block, i) => ({ block, kept: kept[i], mean: stats[i].mean })),
    );
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (pruned.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  });
});
