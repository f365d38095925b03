// A cost target is met to within one neuron: the ratio found reaches it, one neuron fewer does not.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { pruningSchema } from '../../src/request.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { ratioForCost } from '../../src/vbp/cost-target.js';
import { countMacs, countParams } from '../../src/vbp/cost.js';
import { selectKept } from '../../src/vbp/ranking.js';
import { pruneModel } from '../../src/vbp/surgery.js';

before(async () => {
  await initBackend('cpu');
});

/** Two blocks of different widths and costs: 12 → 40 → 20 → 30 → 5. */
function mlp() {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [12], units: 40, activation: 'relu', name: 'a' }),
      tf.layers.dense({ units: 20, activation: 'relu', name: 'b' }),
      tf.layers.dense({ units: 30, activation: 'relu', name: 'c' }),
      tf.layers.dense({ units: 5, name: 'd' }),
    ],
  });
}

const scoresFor = (blocks: { hidden: number }[]) =>
  blocks.map((b, i) => Float64Array.from({ length: b.hidden }, (_, j) => Math.sin(7 * j + i) + 1.5));

for (const [metric, wanted] of [
  ['macs', 0.4],
  ['params', 0.5],
  ['macs', 0.137],
] as const) {
  test(`${metric}Reduction ${wanted}: met by the ratio found, not by one neuron fewer`, async () => {
    const model = mlp();
    const { blocks } = findBlocks(model);
    const scores = scoresFor(blocks);
    const target = metric === 'macs' ? { macsReduction: wanted } : { paramsReduction: wanted };
    const search = await ratioForCost(model, blocks, scores, 'global', target);
    const count = metric === 'macs' ? countMacs : countParams;
    const total = blocks.reduce((n, b) => n + b.hidden, 0);
    const reduction = async (ratio: number) => {
      const kept = selectKept(scores, ratio, 'global');
      const pruned = await pruneModel(
        model,
        blocks.map((block, i) => ({ block, kept: kept[i], mean: null })),
      );
      const r = 1 - count(pruned) / count(model);
      pruned.dispose();
      return r;
    };
    assert.ok(search.reduction >= wanted, `${search.reduction}`);
    assert.equal(await reduction(search.ratio), search.reduction);
    assert.ok((await reduction(search.ratio - 1 / total)) < wanted);
    assert.ok(search.trials.length <= Math.ceil(Math.log2(total)) + 1);
    model.dispose();
  });
}

test('a target the blocks cannot reach is refused naming it; ratio and target are exclusive', async () => {
  const model = mlp();
  const { blocks } = findBlocks(model);
  await assert.rejects(
    ratioForCost(model, blocks, scoresFor(blocks), 'global', { paramsReduction: 0.99 }),
    (e: unknown) => e instanceof InputError && e.field === 'pruning.target.paramsReduction',
  );
  model.dispose();
  const both = pruningSchema.safeParse({ ratio: 0.5, target: { macsReduction: 0.4 } });
  assert.equal(both.success, false);
  assert.deepEqual(both.error!.issues.map((i) => i.path.join('.')).sort(), ['ratio', 'target']);
  assert.equal(pruningSchema.safeParse({}).success, false);
  assert.equal(pruningSchema.safeParse({ target: { macsReduction: 0.4 } }).success, true);
  assert.equal(pruningSchema.safeParse({ target: { retention: 0.99 } }).success, false);
});
