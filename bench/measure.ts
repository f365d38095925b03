// Timing helpers for the benchmark. Every figure is measured `reps` times and reported as the best
// and the median run: the best is the machine's capability (this machine is shared and noisy),
// the median what a job would typically see.
import * as tf from '@tensorflow/tfjs';

export interface Rate {
  /** Best (highest) rate over the runs. */
  best: number;
  median: number;
  runs: number[];
}

export function rate(runs: number[]): Rate {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { best: sorted[sorted.length - 1], median, runs };
}

/** Waits until everything queued on the backend has run (a download of one small tensor). */
export async function settle(t: tf.Tensor): Promise<void> {
  await t.data();
}

/**
 * Calls `fn` repeatedly (each call returns a tensor; all but the last are disposed) until
 * `minMs` has passed, then waits for the last result. Returns milliseconds per call.
 */
export async function msPerCall(fn: () => tf.Tensor, minMs: number): Promise<number> {
  let calls = 0;
  let last: tf.Tensor | null = null;
  const t0 = performance.now();
  // Batches of calls between clock reads, so a GPU backend's queue stays full.
  let batch = 1;
  for (;;) {
    for (let i = 0; i < batch; i++) {
      last?.dispose();
      last = fn();
      calls++;
    }
    await settle(last!);
    const elapsed = performance.now() - t0;
    if (elapsed >= minMs) {
      last!.dispose();
      return elapsed / calls;
    }
    batch = Math.min(batch * 2, 64);
  }
}

export const median = (xs: number[]): number => rate(xs).median;

export function fmt(x: number | null | undefined, digits = 0): string {
  if (x == null || !Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 1e5) return Math.round(x).toLocaleString('en-US');
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
