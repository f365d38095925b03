// Shared checks for the architecture tests: the generic mean-replacement reference (a copy of the
// model with a "replace pruned units by their means" layer in front of every fc2), reloading with
// plain tf.loadLayersModel, and one distillation step.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '../../src/layers/index.js';
import { outputsAreProbabilities, toLogits } from '../../src/train/distill-loss.js';
import { fineTune } from '../../src/train/fine-tune.js';
import { findBlocks, type Block, type BlockSearch } from '../../src/vbp/blocks.js';
import type { Criterion } from '../../src/request.js';
import { scoreNeurons } from '../../src/vbp/criteria.js';
import { selectKept } from '../../src/vbp/ranking.js';
import { collectStatistics, type BlockStatistics } from '../../src/vbp/statistics.js';
import { pruneModel, type BlockPlan } from '../../src/vbp/surgery.js';

/** Test-only layer: keeps the units in `keep`, replaces the others by `mean` (last axis). */
class MeanReplace extends tf.layers.Layer {
  static className = 'LopperTestMeanReplace';
  readonly mean: number[];
  readonly keep: number[];
  constructor(args: { mean: number[]; keep: number[]; name?: string }) {
    super({ name: args.name });
    this.mean = args.mean;
    this.keep = args.keep;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const keep = tf.tensor1d(this.keep);
      return tf.add(tf.mul(x, keep), tf.mul(tf.tensor1d(this.mean), tf.sub(1, keep)));
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mean: this.mean, keep: this.keep };
  }
}
tf.serialization.registerClass(MeanReplace);

/** A copy of `model` in which fc2 of every plan sees kept units as they are and pruned ones as their means. */
export async function meanReplacedCopy(model: tf.LayersModel, plans: BlockPlan[]): Promise<tf.LayersModel> {
  const topology = model.toJSON(null, false) as any;
  const layers: any[] = topology.config.layers;
  const functional = layers.some((l) => Array.isArray(l.inbound_nodes));
  for (const plan of plans) {
    const keep = new Array<number>(plan.block.hidden).fill(0);
    plan.kept.forEach((i) => (keep[i] = 1));
    const name = `mean_replace_${plan.block.fc2}`;
    const at = layers.findIndex((l) => (l.config.name ?? l.name) === plan.block.fc2);
    const fc2 = layers[at];
    const entry: any = { class_name: MeanReplace.className, config: { name, mean: Array.from(plan.mean!), keep }, name };
    if (functional) {
      entry.inbound_nodes = fc2.inbound_nodes;
      fc2.inbound_nodes = [[[name, 0, 0, {}]]];
    }
    layers.splice(at, 0, entry);
  }
  const copy = await tf.models.modelFromJSON(topology);
  for (const layer of model.layers) copy.getLayer(layer.name).setWeights(layer.getWeights());
  return copy;
}

export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

export interface PruneCheck {
  search: BlockSearch;
  stats: BlockStatistics[];
  plans: BlockPlan[];
  pruned: tf.LayersModel;
  /** max |pruned(x) − meanReplaced(x)| */
  diff: number;
}

/** Statistics, `ratio` pruning with mean shift, and the mean-replacement comparison on `x`. */
export async function pruneAndCompare(
  model: tf.LayersModel,
  x: tf.Tensor,
  ratio: number,
  criterion: Criterion = 'variance',
): Promise<PruneCheck> {
  const search = findBlocks(model);
  const data = { x: (await x.data()) as Float32Array, n: x.shape[0], sampleShape: x.shape.slice(1) };
  const stats = await collectStatistics(model, search.blocks, data, { batchSize: 7 });
  const scores = await scoreNeurons(criterion, model, search.blocks, stats, 3);
  const kept = selectKept(scores, ratio, 'global');
  const plans = search.blocks.map((block, i) => ({ block, kept: kept[i], mean: stats[i].mean }));
  const pruned = await pruneModel(model, plans);
  const reference = await meanReplacedCopy(model, plans);
  const expected = reference.predict(x) as tf.Tensor;
  const actual = pruned.predict(x) as tf.Tensor;
  const diff = await maxAbsDiff(expected, actual);
  tf.dispose([expected, actual]);
  reference.dispose();
  return { search, stats, plans, pruned, diff };
}

/** Saves to memory and loads back with plain tf.loadLayersModel; asserts identical outputs. */
export async function reloadPlain(model: tf.LayersModel, x: tf.Tensor): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const artifacts = JSON.parse(JSON.stringify({ ...saved!, weightData: undefined }));
  const reloaded = await tf.loadLayersModel(tf.io.fromMemory({ ...artifacts, weightData: saved!.weightData }));
  const a = model.predict(x) as tf.Tensor;
  const b = reloaded.predict(x) as tf.Tensor;
  assert.equal(await maxAbsDiff(a, b), 0, 'reloaded model computes the same outputs');
  tf.dispose([a, b]);
  return reloaded;
}

/** One distillation step of `student` towards `teacher` on x; returns how many trainable weights changed. */
export async function fineTuneOneStep(
  teacher: tf.LayersModel,
  student: tf.LayersModel,
  x: tf.Tensor,
): Promise<{ changed: string[]; unchanged: string[] }> {
  const n = x.shape[0];
  const logits = tf.tidy(() => toLogits(teacher.predict(x) as tf.Tensor, outputsAreProbabilities(teacher)));
  const teacherLogits = (await logits.data()) as Float32Array;
  logits.dispose();
  const before = student.trainableWeights.map((w) => w.read().dataSync().slice());
  const data = { x: (await x.data()) as Float32Array, n, sampleShape: x.shape.slice(1), y: null };
  const result = await fineTune(student, data, teacherLogits, {
    epochs: 1,
    batchSize: n,
    learningRate: 1e-2,
    weightDecay: 0.01,
    temperature: 1,
    distillWeight: 1,
    seed: 1,
  });
  assert.equal(result.epochs.length, 1);
  assert.ok(Number.isFinite(result.epochs[0].loss), `finite loss, got ${result.epochs[0].loss}`);
  const changed: string[] = [];
  const unchanged: string[] = [];
  student.trainableWeights.forEach((w, i) => {
    const now = w.read().dataSync();
    (now.some((v, j) => v !== before[i][j]) ? changed : unchanged).push(w.originalName);
  });
  return { changed, unchanged };
}

export const blockSummary = (blocks: Block[]) => blocks.map((b) => [b.fc1, b.fc2, b.hidden, b.activation]);

/** Deterministic uniform [-1, 1) inputs. */
export function randomInput(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}
