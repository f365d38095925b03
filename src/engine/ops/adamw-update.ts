// One AdamW step over flat vectors (src/train/adamw.ts keeps all weights, gradients and moments
// as one vector each):
//   m' = β1·m + (1−β1)·g,   v' = β2·v + (1−β2)·g²,
//   w' = w − decay·mask·w − step·m'/(√v' + ε)
// (step and ε carry the bias corrections, decay = lr·wd). Where the backend has Lopper's kernel
// (wasm: src/engine/wasm/adamw.ts) it is one pass over memory; elsewhere 13 elementwise ops,
// which on wasm took ~5 ms of a 10 ms MLP training step at batch 32.
import * as tf from '@tensorflow/tfjs';

export const ADAMW_UPDATE = 'LopperAdamWUpdate';

export interface AdamWStep {
  beta1: number;
  beta2: number;
  /** lr·√bc2/bc1 */
  stepSize: number;
  /** ε·√bc2 */
  epsilon: number;
  /** lr·wd, applied where mask is 1; 0 (or no mask) for none */
  decay: number;
}

/** [w', m', v']. */
export function adamwUpdate(
  w: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  mask: tf.Tensor | null,
  s: AdamWStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const decays = mask != null && s.decay > 0;
  if (tf.getKernel(ADAMW_UPDATE, tf.getBackend()) && [w, g, m, v].every((t) => t.dtype === 'float32')) {
    const inputs: tf.NamedTensorMap = decays ? { w, g, m, v, mask: mask! } : { w, g, m, v };
    const attrs = { ...s, decay: decays ? s.decay : 0 };
    return tf.engine().runKernel(ADAMW_UPDATE, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
    const v2 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
    const update = tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), s.epsilon)), s.stepSize);
    const decayed = decays ? tf.sub(w, tf.mul(tf.mul(w, mask!), s.decay)) : w;
    return [tf.sub(decayed, update), m2, v2] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
