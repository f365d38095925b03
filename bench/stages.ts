// The per-stage figures of a prune job on one model: statistics, fine-tuning (training) at a
// given batch size, evaluation, all on synthetic data (throughput does not depend on the values).
import * as tf from '@tensorflow/tfjs';
import { agreementRate, topOne } from '../src/measure/accuracy.js';
import { INFERENCE_BATCH, predictAll } from '../src/measure/predict.js';
import { fineTune } from '../src/train/fine-tune.js';
import { findBlocks } from '../src/vbp/blocks.js';
import { collectStatistics } from '../src/vbp/statistics.js';
import { rate, type Rate } from './measure.js';

export interface Synthetic {
  x: Float32Array;
  y: Int32Array;
  n: number;
  sampleShape: number[];
  classes: number;
}

export function syntheticData(n: number, sampleShape: number[], classes: number, seed = 7): Synthetic {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * size);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 4294967296 - 0.5;
  }
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = (i * 7 + 3) % classes;
  return { x, y, n, sampleShape, classes };
}

const slice = (d: Synthetic, n: number): Synthetic => {
  const size = d.sampleShape.reduce((a, b) => a * b, 1);
  return { ...d, n, x: d.x.subarray(0, n * size), y: d.y.subarray(0, n) };
};

/**
 * Runs `work(n)` (which processes n samples and returns the seconds it measured) with n grown
 * until one run takes at least `minSeconds` (capped at the data size), then `reps` more times.
 */
async function throughput(
  work: (n: number) => Promise<number>,
  start: number,
  max: number,
  minSeconds: number,
  reps: number,
): Promise<Rate & { samples: number }> {
  let n = Math.min(start, max);
  let secs = await work(n); // also the warm-up
  while (secs < minSeconds && n < max) {
    n = Math.min(max, Math.ceil((n * Math.min(8, (minSeconds * 1.2) / Math.max(secs, 1e-3))) / 32) * 32);
    secs = await work(n);
  }
  const runs: number[] = [];
  for (let r = 0; r < reps; r++) runs.push(n / (await work(n)));
  return { ...rate(runs), samples: n };
}

export async function statisticsRate(model: tf.LayersModel, data: Synthetic, minSeconds: number, reps: number) {
  const { blocks } = findBlocks(model);
  if (blocks.length === 0) throw new Error('no prunable block in the benchmark model');
  return throughput(
    async (n) => {
      const t0 = performance.now();
      await collectStatistics(model, blocks, slice(data, n));
      return (performance.now() - t0) / 1000;
    },
    INFERENCE_BATCH * 2,
    data.n,
    minSeconds,
    reps,
  );
}

export async function evaluationRate(model: tf.LayersModel, data: Synthetic, minSeconds: number, reps: number) {
  return throughput(
    async (n) => {
      const t0 = performance.now();
      const { data: out, shape } = await predictAll(model, data.x, data.sampleShape, n);
      agreementRate(topOne(out, shape[shape.length - 1]), data.y.subarray(0, n));
      return (performance.now() - t0) / 1000;
    },
    INFERENCE_BATCH * 2,
    data.n,
    minSeconds,
    reps,
  );
}

/** Fine-tuning throughput at `batch`: epochs of fineTune (AdamW, distillation loss) on n samples. */
export async function trainingRate(
  model: tf.LayersModel,
  data: Synthetic,
  batch: number,
  minSeconds: number,
  reps: number,
  maxSamples = data.n,
) {
  const teacher = new Float32Array(data.n * data.classes);
  for (let i = 0; i < teacher.length; i++) teacher[i] = ((i * 37) % 11) / 11 - 0.5;
  return throughput(
    async (n) => {
      const sub = slice(data, n);
      const { epochs } = await fineTune(
        model,
        { x: sub.x, n, sampleShape: data.sampleShape, y: sub.y },
        teacher.subarray(0, n * data.classes),
        {
          epochs: 1,
          batchSize: batch,
          learningRate: 1e-5,
          weightDecay: 0.01,
          temperature: 1,
          distillWeight: 0.5,
          seed: 0,
        },
      );
      return epochs[0].seconds;
    },
    batch * 2,
    Math.min(maxSamples, data.n),
    minSeconds,
    reps,
  );
}
