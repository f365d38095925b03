// Inference over a whole array in large batches: statistics, evaluation and teacher outputs all go
// through here, so batch size is chosen for throughput, independent of the training batch size.
import * as tf from '@tensorflow/tfjs';

export const INFERENCE_BATCH = 512;

/** Rows [start, end) of a flat sample array as a tensor of shape [end-start, ...sampleShape]. */
export function sliceBatch(x: Float32Array, sampleShape: number[], start: number, end: number): tf.Tensor {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  return tf.tensor(x.subarray(start * size, end * size), [end - start, ...sampleShape], 'float32');
}

/**
 * Runs `model` on n samples and returns its (single) output as one flat Float32Array.
 * The per-batch download is the result itself, so nothing else is synchronised.
 */
export async function predictAll(
  model: tf.LayersModel,
  x: Float32Array,
  sampleShape: number[],
  n: number,
  batchSize = INFERENCE_BATCH,
): Promise<{ data: Float32Array; shape: number[] }> {
  let out: Float32Array | null = null;
  let rowSize = 0;
  let outShape: number[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    // predict() would split the batch again into its default batchSize of 32 (slice, run, concat):
    // pass the batch size so the whole batch runs as one pass.
    const y = tf.tidy(() => model.predict(sliceBatch(x, sampleShape, start, end), { batchSize: end - start }) as tf.Tensor);
    if (!out) {
      outShape = y.shape.slice(1);
      rowSize = outShape.reduce((a, b) => a * b, 1);
      out = new Float32Array(n * rowSize);
    }
    out.set((await y.data()) as Float32Array, start * rowSize);
    y.dispose();
  }
  return { data: out ?? new Float32Array(0), shape: [n, ...outShape] };
}

/** Index of the largest value in each row of a [n, k] array. */
export function argmaxRows(data: Float32Array, k: number): Int32Array {
  const n = data.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (data[i * k + j] > data[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}
