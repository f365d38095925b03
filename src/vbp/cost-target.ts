// `pruning.target: {macsReduction}` or `{paramsReduction}`: the ratio that meets a cost target
// exactly, to within one neuron. Neurons leave in the ranking's order, so a model with k neurons
// removed costs no more than one with k − 1; a binary search over k finds the fewest that reach the
// target. Each probe prunes the model and counts it with the same cost model as the report, so the
// reduction found is the one reported.
import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import type { CostTarget, PruningOptions } from '../request.js';
import type { Block } from './blocks.js';
import { countMacs, countParams } from './cost.js';
import { selectKept } from './ranking.js';
import { pruneModel } from './surgery.js';

export interface CostSearch {
  metric: 'macs' | 'params';
  target: number;
  /** Every ratio tried and the reduction it gave, in the order tried. */
  trials: { ratio: number; reduction: number }[];
  ratio: number;
  reduction: number;
}

export async function ratioForCost(
  model: tf.LayersModel,
  blocks: Block[],
  scores: Float64Array[],
  scope: PruningOptions['scope'],
  target: CostTarget,
): Promise<CostSearch> {
  const [metric, wanted] =
    'macsReduction' in target ? (['macs', target.macsReduction] as const) : (['params', target.paramsReduction] as const);
  const count = metric === 'macs' ? countMacs : countParams;
  const before = count(model);
  const total = blocks.reduce((n, b) => n + b.hidden, 0);
  const trials: CostSearch['trials'] = [];
  const reductionAt = async (k: number) => {
    const ratio = k / total;
    const kept = selectKept(scores, ratio, scope);
    // Only the cost is read: no mean shift needed.
    const pruned = await pruneModel(
      model,
      blocks.map((block, i) => ({ block, kept: kept[i], mean: null })),
    );
    const reduction = before > 0 ? 1 - count(pruned) / before : 0;
    pruned.dispose();
    trials.push({ ratio, reduction });
    return reduction;
  };
  // Every block keeps one neuron: the most that can go.
  let hi = total - blocks.length;
  const most = await reductionAt(hi);
  if (most < wanted) {
    throw new InputError(
      `pruning.target.${metric}Reduction`,
      `pruning the MLP blocks removes at most ${(100 * most).toFixed(1)}% of the ${metric === 'macs' ? 'MACs' : 'parameters'}; the target is ${(100 * wanted).toFixed(1)}%`,
    );
  }
  let lo = 0; // reduction(lo) < wanted ≤ reduction(hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await reductionAt(mid)) >= wanted) hi = mid;
    else lo = mid;
  }
  const found = trials.find((t) => t.ratio === hi / total)!;
  return { metric, target: wanted, trials, ratio: found.ratio, reduction: found.reduction };
}
