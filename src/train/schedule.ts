// Cosine annealing over the whole run (per step, not per epoch), as in the VBP fine-tuning recipe.

/** lr at `step` of `totalSteps`: baseLr at step 0, minLr at step totalSteps, half-way at the midpoint. */
export function cosineLr(step: number, totalSteps: number, baseLr: number, minLr = 0): number {
  // A zero-length schedule has no decay to do.
  if (totalSteps <= 0) return baseLr;
  const progress = Math.min(Math.max(step / totalSteps, 0), 1);
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
