// Importance scores, one per hidden neuron; the lowest scores are pruned first. Keeping the
// alternatives to variance here lets comparisons and ablations run through the same pipeline.
import type * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../io/random.js';
import type { Criterion } from '../request.js';
import type { Block } from './blocks.js';
import type { BlockStatistics } from './statistics.js';

/** L2 norm of each hidden neuron's incoming fc1 weights (kernel column, 1×1 conv included). */
async function magnitude(model: tf.LayersModel, block: Block): Promise<Float64Array> {
  const kernel = model.getLayer(block.fc1).getWeights()[0];
  const values = (await kernel.data()) as Float32Array;
  const h = block.hidden;
  const scores = new Float64Array(h);
  for (let i = 0; i < values.length; i++) scores[i % h] += values[i] * values[i];
  return scores.map(Math.sqrt);
}

/**
 * Squared L2 norm of each hidden neuron's outgoing fc2 weights (kernel row j, 1×1 conv included):
 * how much a unit change of neuron j moves fc2's output.
 */
async function outgoingNorms(model: tf.LayersModel, block: Block): Promise<Float64Array> {
  const kernel = model.getLayer(block.fc2).getWeights()[0];
  const outputs = kernel.shape[kernel.shape.length - 1];
  const values = (await kernel.data()) as Float32Array;
  const scores = new Float64Array(block.hidden);
  for (let i = 0; i < values.length; i++) scores[Math.floor(i / outputs) % block.hidden] += values[i] * values[i];
  return scores;
}

export async function scoreNeurons(
  criterion: Criterion,
  model: tf.LayersModel,
  blocks: Block[],
  stats: BlockStatistics[],
  seed: number,
): Promise<Float64Array[]> {
  switch (criterion) {
    case 'variance':
      return stats.map((s) => s.variance);
    // σ²ⱼ·‖W2[j,:]‖²: the expected squared error that replacing neuron j by its mean adds to fc2's
    // output (the paper's argument carried through fc2), so blocks whose activations live on
    // different scales compare fairly in the global ranking.
    case 'variance-output':
      return Promise.all(
        blocks.map(async (b, i) => {
          const norms = await outgoingNorms(model, b);
          return stats[i].variance.map((v, j) => v * norms[j]);
        }),
      );
    case 'magnitude':
      return Promise.all(blocks.map((b) => magnitude(model, b)));
    case 'random': {
      const random = seededRandom(seed);
      return blocks.map((b) => Float64Array.from({ length: b.hidden }, () => random()));
    }
  }
}
