// The ceiling: the backend's own plain matmul ([rows, k] x [k, n], weights unchanged between calls)
// at each layer shape of a model, and the FLOP-weighted rate of a whole pass at those rates.
import * as tf from '@tensorflow/tfjs';
import { msPerCall, rate, type Rate } from './measure.js';
import { layerShapes } from './models.js';

export interface LayerRate {
  name: string;
  m: number;
  k: number;
  n: number;
  gflops: Rate;
}

export interface Ceiling {
  batch: number;
  layers: LayerRate[];
  /** Total dense-layer FLOPs of one pass divided by the time the layers take at their plain rates. */
  gflops: number;
}

/**
 * The backend's best plain [m, k] x [k, n] matmul rate, weights unchanged between calls: the
 * faster of tf.matMul and tf.fused.matMul (on wasm, Lopper's SIMD kernel and XNNPACK with the
 * weights packed once), best of `reps` runs each.
 */
export async function matmulGflops(m: number, k: number, n: number, reps: number, minMs: number): Promise<Rate> {
  const a = tf.randomNormal([m, k]);
  const w = tf.randomNormal([k, n]);
  try {
    const variants = [() => tf.matMul(a, w), () => tf.fused.matMul({ a: a as tf.Tensor2D, b: w as tf.Tensor2D })];
    for (const f of variants) await msPerCall(f, Math.min(30, minMs)); // warm-up (kernel compilation, packing)
    const runs: number[] = [];
    for (let r = 0; r < reps; r++) {
      let best = 0;
      for (const f of variants) best = Math.max(best, (2 * m * k * n) / (await msPerCall(f, minMs)) / 1e6);
      runs.push(best);
    }
    return rate(runs);
  } finally {
    a.dispose();
    w.dispose();
  }
}

/**
 * The ceiling at `batch`. With `earlier` (the same batch, measured before the stage it is
 * compared with), each layer keeps the better of the two measurements: on a shared machine a
 * load spike during one measurement would otherwise make a stage look closer to the ceiling.
 */
export async function ceiling(model: 'mlp' | 'vit', batch: number, reps: number, minMs: number, earlier?: Ceiling): Promise<Ceiling> {
  const layers: LayerRate[] = [];
  let flops = 0;
  let seconds = 0;
  for (const s of layerShapes(model)) {
    const m = batch * s.rowsPerSample;
    let g = await matmulGflops(m, s.k, s.n, reps, minMs);
    const before = earlier?.layers.find((l) => l.name === s.name);
    if (before && before.gflops.best > g.best) g = before.gflops;
    layers.push({ name: s.name, m, k: s.k, n: s.n, gflops: g });
    const f = 2 * m * s.k * s.n * s.count;
    flops += f;
    seconds += f / (g.best * 1e9);
  }
  return { batch, layers, gflops: flops / seconds / 1e9 };
}
