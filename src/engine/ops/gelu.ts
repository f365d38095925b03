// GELU, x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)), as an op of its own. tfjs-layers builds it from
// div, erf, add and two muls, and autodiff of that is ~11 more kernels over the MLP's widest
// activation. Where the backend has Lopper's kernels for it (wasm: src/engine/wasm/gelu.ts) the
// forward and the backward pass are one kernel each; elsewhere (webgpu, tensorflow, cpu) it is 5
// ops forward and 7 backward, from the closed-form derivative Φ(x) + x·φ(x).
import * as tf from '@tensorflow/tfjs';

export const GELU = 'LopperGelu';
/**
 * Inputs x, y (the forward output) and dy: dy·(Φ(x) + x·φ(x)), with Φ(x) = y/x, so the backward
 * pass needs one exp and no erf (y is kept for the next layer's gradient anyway).
 */
export const GELU_GRAD = 'LopperGeluGrad';

tf.registerGradient({
  kernelName: GELU,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { x: saved[0], y: saved[1], dy: dy as tf.Tensor }) as tf.Tensor }),
});

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const portable = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const cdf = tf.add(tf.mul(tf.erf(tf.mul(x, SQRT1_2)), 0.5), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      const xPdf = tf.mul(tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), xs), INV_SQRT_2PI);
      return tf.mul(dy, tf.add(c, xPdf));
    },
  };
});

export function gelu(x: tf.Tensor): tf.Tensor {
  if (x.dtype === 'float32' && tf.getKernel(GELU, tf.getBackend()) && tf.getKernel(GELU_GRAD, tf.getBackend())) {
    return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
  }
  return portable(x);
}
