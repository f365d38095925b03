// Step 3 of VBP: remove hidden neurons and fold their mean contribution into fc2's bias,
//   b2' = b2 + Δμ · W2   (tfjs kernel layout [H, Dout]; Δμ = μ at pruned units, 0 elsewhere).
// The result is rebuilt from an edited topology (units/filters reduced) with sliced weights, so it
// is an ordinary Layers model that plain tf.loadLayersModel reads, with no Lopper code.
import * as tf from '@tensorflow/tfjs';
import '../layers/index.js'; // the rebuilt model may use Lopper's layers and activation aliases
import type { Block } from './blocks.js';

export interface BlockPlan {
  block: Block;
  /** Sorted indices of the hidden units that stay. */
  kept: Int32Array;
  /** Post-activation means of every hidden unit, or null to prune without compensation. */
  mean: Float64Array | null;
}

type LayerConfig = { class_name: string; config: Record<string, any>; name?: string };

function layerConfigs(topology: any): LayerConfig[] {
  const layers = topology.config?.layers ?? topology.config;
  if (!Array.isArray(layers)) throw new Error('unexpected model topology: no layer list');
  return layers;
}

/** fc1 side: keep output columns (last kernel axis) and bias entries. */
function sliceOutputs(weights: tf.Tensor[], kept: Int32Array): tf.Tensor[] {
  return weights.map((w) => tf.gather(w, Array.from(kept), w.rank - 1));
}

/**
 * fc2's new bias: b2 + Δμ·W2 in float64 over the pruned rows, or null when nothing is folded in.
 * Reads the weights with await data(): synchronous reads are unavailable on GPU backends.
 */
async function shiftedBias(kernel: tf.Tensor, bias: tf.Tensor | undefined, plan: BlockPlan): Promise<tf.Tensor | null> {
  if (!plan.mean || !shiftsBias(plan)) return null;
  const h = plan.block.hidden;
  const w = (await kernel.data()) as Float32Array;
  const dOut = w.length / h;
  const keep = new Uint8Array(h);
  plan.kept.forEach((i) => (keep[i] = 1));
  const shift = new Float64Array(dOut);
  for (let j = 0; j < h; j++) {
    if (keep[j] || plan.mean[j] === 0) continue;
    const mu = plan.mean[j];
    for (let k = 0; k < dOut; k++) shift[k] += mu * w[j * dOut + k];
  }
  const old = bias ? ((await bias.data()) as Float32Array) : new Float32Array(dOut);
  return tf.tensor(
    old.map((b, k) => b + shift[k]),
    [dOut],
  );
}

/** fc2 side: keep input rows (second-to-last kernel axis); the bias is the shifted one if any. */
function sliceInputs(kernel: tf.Tensor, bias: tf.Tensor | undefined, newBias: tf.Tensor | null, plan: BlockPlan): tf.Tensor[] {
  const rows = tf.gather(kernel, Array.from(plan.kept), kernel.rank - 2);
  const b = newBias ?? bias;
  return b ? [rows, b] : [rows];
}

/** Whether the mean shift puts something into fc2's bias (so fc2 needs one even if it had none). */
function shiftsBias(plan: BlockPlan): boolean {
  return plan.mean !== null && plan.kept.length < plan.block.hidden;
}

export async function pruneModel(model: tf.LayersModel, plans: BlockPlan[]): Promise<tf.LayersModel> {
  const topology = model.toJSON(null, false) as any;
  const configs = new Map(layerConfigs(topology).map((l) => [l.config.name ?? l.name, l]));
  const asFc1 = new Map(plans.map((p) => [p.block.fc1, p]));
  const asFc2 = new Map(plans.map((p) => [p.block.fc2, p]));
  const asNorm = new Map(plans.flatMap((p) => p.block.norms.map((n) => [n, p] as const)));

  for (const plan of plans) {
    const fc1 = configs.get(plan.block.fc1)!.config;
    if ('units' in fc1) fc1.units = plan.kept.length;
    else fc1.filters = plan.kept.length;
    const fc2 = configs.get(plan.block.fc2)!.config;
    if (shiftsBias(plan) && fc2.use_bias === false) fc2.use_bias = true;
  }

  const pruned = await tf.models.modelFromJSON(topology);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const inPlan = asFc2.get(layer.name);
    const newBias = inPlan ? await shiftedBias(weights[0], weights[1], inPlan) : null;
    const next = tf.tidy(() => {
      let w = weights;
      if (inPlan) w = sliceInputs(w[0], w[1], newBias, inPlan);
      const outPlan = asFc1.get(layer.name) ?? asNorm.get(layer.name);
      if (outPlan) w = asNorm.has(layer.name) ? w.map((t) => tf.gather(t, Array.from(outPlan.kept))) : sliceOutputs(w, outPlan.kept);
      return w.map((t) => t.clone());
    });
    pruned.getLayer(layer.name).setWeights(next);
    tf.dispose([...next, ...(newBias ? [newBias] : [])]);
  }
  return pruned;
}
