// Gradient of Tile. tfjs-core's version adds one slice of dy per repetition (reps[0]·…·reps[r-1]
// slice+add pairs, ~40k kernel launches per step for a tiny ViT's LayerNormalizations, which tile
// gamma/beta to [batch, tokens, 1]) and stops at rank 4. Here dy is viewed as
// [reps0, x0, reps1, x1, …] (size-1 axes dropped, neighbours of the same kind merged) and summed
// over the repetition axes: one reshape and one reduction, on every backend and any rank.
import * as tf from '@tensorflow/tfjs';

/** Shape of dy split into (repetition, data) axes, simplified, and which axes are repetitions. */
export function tileGradientPlan(xShape: readonly number[], reps: readonly number[]): { shape: number[]; sumAxes: number[] } {
  const shape: number[] = [];
  const isRep: boolean[] = [];
  const push = (size: number, rep: boolean) => {
    if (size === 1) return;
    const last = shape.length - 1;
    if (last >= 0 && isRep[last] === rep) shape[last] *= size;
    else {
      shape.push(size);
      isRep.push(rep);
    }
  };
  for (let i = 0; i < xShape.length; i++) {
    push(reps[i], true);
    push(xShape[i], false);
  }
  return { shape, sumAxes: isRep.flatMap((r, i) => (r ? [i] : [])) };
}

export function tileGradient(dy: tf.Tensor, xShape: number[], reps: number[]): tf.Tensor {
  const { shape, sumAxes } = tileGradientPlan(xShape, reps);
  if (sumAxes.length === 0) return tf.reshape(dy, xShape);
  return tf.reshape(tf.sum(tf.reshape(dy, shape), sumAxes), xShape);
}

let stockGrad: tf.GradConfig | null = null;

/** Registers the gradient (for all backends: it replaces thousands of launches with one reduction). */
export function registerTileGradient(): void {
  const current = tf.getGradient('Tile');
  if (current && (current as { lopper?: boolean }).lopper) return;
  stockGrad = current ?? null;
  const config: tf.GradConfig & { lopper: true } = {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    lopper: true,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const reps = Array.from((attrs as { reps: number[] }).reps);
      return { x: () => tileGradient(dy as tf.Tensor, x.shape, reps) };
    },
  };
  tf.registerGradient(config);
}

/** Puts tfjs-core's gradient back (before/after measurements and tests). */
export function restoreTileGradient(): void {
  if (stockGrad) tf.registerGradient(stockGrad);
}
