// Step 1 of VBP: per-neuron mean and unbiased variance of each block's hidden activations over
// calibration data. One probe model returns every block's hidden tensor, so the network runs once
// per batch; each batch's moments are reduced on the device and merged on the host (Chan).
// Every token / spatial position counts as a sample: hidden tensors are flattened to [rows, H].
import * as tf from '@tensorflow/tfjs';
import { CancelledError } from '../errors.js';
import { INFERENCE_BATCH, sliceBatch } from '../measure/predict.js';
import type { Block } from './blocks.js';
import { RunningMoments } from './moments.js';

export interface BlockStatistics {
  mean: Float64Array;
  variance: Float64Array;
  /** Rows that contributed: samples × tokens (or positions). */
  count: number;
}

export interface Samples {
  x: Float32Array;
  n: number;
  sampleShape: number[];
}

export interface StatisticsOptions {
  /** 'post' (default, the paper's): after the activation; 'pre': fc1's linear output. */
  mode?: 'post' | 'pre';
  batchSize?: number;
  signal?: AbortSignal;
  onBatch?: (done: number, total: number) => void;
}

/** The symbolic tensor whose moments are tracked: fc2's input (post) or fc1's input (pre). */
function tap(model: tf.LayersModel, block: Block, mode: 'post' | 'pre'): tf.SymbolicTensor {
  const layer = model.getLayer(mode === 'post' ? block.fc2 : block.fc1);
  return layer.input as tf.SymbolicTensor;
}

/** fc1's kernel as [Din, H] and its bias, for computing pre-activations from fc1's input. */
function linearMap(model: tf.LayersModel, block: Block): { kernel: tf.Tensor2D; bias: tf.Tensor1D | null } {
  const [kernel, bias] = model.getLayer(block.fc1).getWeights();
  return { kernel: kernel.reshape([-1, block.hidden]) as tf.Tensor2D, bias: (bias as tf.Tensor1D) ?? null };
}

export async function collectStatistics(
  model: tf.LayersModel,
  blocks: Block[],
  data: Samples,
  options: StatisticsOptions = {},
): Promise<BlockStatistics[]> {
  const mode = options.mode ?? 'post';
  const batchSize = options.batchSize ?? INFERENCE_BATCH;
  const probe = tf.model({ inputs: model.inputs, outputs: blocks.map((b) => tap(model, b, mode)) });
  const maps = mode === 'pre' ? blocks.map((b) => linearMap(model, b)) : [];
  const moments = blocks.map((b) => new RunningMoments(b.hidden));
  try {
    for (let start = 0; start < data.n; start += batchSize) {
      if (options.signal?.aborted) throw new CancelledError();
      const end = Math.min(data.n, start + batchSize);
      const rows: number[] = [];
      // One download per batch: every block's mean and M2 concatenated.
      const packed = tf.tidy(() => {
        // batchSize: otherwise predict() splits the batch into 32s: 16x the kernel launches.
        const out = probe.predict(sliceBatch(data.x, data.sampleShape, start, end), { batchSize: end - start });
        const hidden = Array.isArray(out) ? out : [out];
        const parts: tf.Tensor[] = [];
        hidden.forEach((h, i) => {
          const inDim = h.shape[h.shape.length - 1]!;
          let rowsOf = h.reshape([-1, inDim]);
          if (mode === 'pre') {
            rowsOf = tf.matMul(rowsOf, maps[i].kernel);
            if (maps[i].bias) rowsOf = tf.add(rowsOf, maps[i].bias!);
          }
          rows.push(rowsOf.shape[0]);
          const { mean, variance } = tf.moments(rowsOf, 0);
          parts.push(mean, tf.mul(variance, rowsOf.shape[0]));
        });
        return tf.concat(parts);
      });
      const values = (await packed.data()) as Float32Array;
      packed.dispose();
      let offset = 0;
      blocks.forEach((b, i) => {
        moments[i].merge(rows[i], values.subarray(offset, offset + b.hidden), values.subarray(offset + b.hidden, offset + 2 * b.hidden));
        offset += 2 * b.hidden;
      });
      options.onBatch?.(end, data.n);
    }
  } finally {
    maps.forEach((m) => m.kernel.dispose());
  }
  return moments.map((m) => ({ mean: Float64Array.from(m.mean), variance: m.variance(), count: m.count }));
}

/** Share of a block's total variance held by its lowest-variance `fraction` of neurons. */
export function lowVarianceShare(variance: Float64Array, fraction = 0.6): number {
  const sorted = Float64Array.from(variance).sort();
  const k = Math.floor(sorted.length * fraction);
  let low = 0;
  let total = 0;
  sorted.forEach((v, i) => {
    total += v;
    if (i < k) low += v;
  });
  return total > 0 ? low / total : 0;
}
