// Latency of the original vs the pruned model: median of repeated forward passes at a fixed batch
// size, after warm-up (kernel compilation, weight packing). The two models are timed in alternation
// so that machine noise (other processes, frequency changes) hits both alike.
import * as tf from '@tensorflow/tfjs';

export interface LatencyResult {
  batch: number;
  beforeMs: number;
  afterMs: number;
  speedup: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeOnce(model: tf.LayersModel, input: tf.Tensor): Promise<number> {
  const start = performance.now();
  const out = model.predict(input) as tf.Tensor;
  await out.data(); // forces completion on asynchronous backends (webgpu) too
  const elapsed = performance.now() - start;
  out.dispose();
  return elapsed;
}

export async function compareLatency(
  before: tf.LayersModel,
  after: tf.LayersModel,
  sampleShape: number[],
  batches: number[] = [1, 32],
  runs = 20,
  warmup = 3,
): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const batch of batches) {
    const input = tf.randomUniform([batch, ...sampleShape], 0, 1, 'float32', 7);
    for (let i = 0; i < warmup; i++) {
      await timeOnce(before, input);
      await timeOnce(after, input);
    }
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await timeOnce(before, input));
      b.push(await timeOnce(after, input));
    }
    input.dispose();
    const beforeMs = median(a);
    const afterMs = median(b);
    results.push({ batch, beforeMs, afterMs, speedup: afterMs > 0 ? beforeMs / afterMs : 1 });
  }
  return results;
}
