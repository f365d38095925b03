// Running per-neuron mean and variance (Welford's algorithm generalised to batches by Chan et al.):
// each batch's count, mean and M2 (sum of squared deviations from the batch mean) are computed on
// the device, then merged here in float64. Merging batch moments instead of summing x and x² avoids
// the catastrophic cancellation of the naive formula when means are large relative to spreads.
export class RunningMoments {
  count = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;

  constructor(readonly size: number) {
    this.mean = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  /** Chan's parallel update with a batch of `n` samples whose per-feature mean and M2 are given. */
  merge(n: number, batchMean: ArrayLike<number>, batchM2: ArrayLike<number>): void {
    if (n === 0) return;
    const total = this.count + n;
    const wb = n / total;
    const cross = (this.count * n) / total;
    for (let i = 0; i < this.size; i++) {
      const delta = batchMean[i] - this.mean[i];
      this.mean[i] += delta * wb;
      this.m2[i] += batchM2[i] + delta * delta * cross;
    }
    this.count = total;
  }

  /** Classic one-sample Welford step; used for small host-side inputs and by tests. */
  push(sample: ArrayLike<number>): void {
    this.count += 1;
    for (let i = 0; i < this.size; i++) {
      const delta = sample[i] - this.mean[i];
      this.mean[i] += delta / this.count;
      this.m2[i] += delta * (sample[i] - this.mean[i]);
    }
  }

  /** Unbiased variance M2 / (N - 1); zero when fewer than two samples were seen. */
  variance(): Float64Array {
    const out = new Float64Array(this.size);
    if (this.count < 2) return out;
    for (let i = 0; i < this.size; i++) out[i] = Math.max(0, this.m2[i]) / (this.count - 1);
    return out;
  }
}
