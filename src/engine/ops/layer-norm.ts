// Layer normalization over the trailing axes as an op of its own:
//   y = (x − mean)·rsqrt(var + ε)·γ + β,   dx = rstd·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ.
// Where the backend has Lopper's kernels for it (wasm: src/engine/wasm/layer-norm.ts) forward and
// backward are one kernel each, a pass over each row in cache; elsewhere (webgpu, tensorflow,
// cpu) it is 8 broadcasting ops forward and 13 backward, with no tiles.
import * as tf from '@tensorflow/tfjs';

export const LAYER_NORM = 'LopperLayerNorm';
/** Inputs x [rows, d], gamma [d], dy; attrs epsilon; outputs dx, dgamma, dbeta. */
export const LAYER_NORM_GRAD = 'LopperLayerNormGrad';

tf.registerGradient({
  kernelName: LAYER_NORM,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [dx, dgamma, dbeta] = tf
      .engine()
      .runKernel(
        LAYER_NORM_GRAD,
        { x: saved[0], gamma: saved[1], dy: dy as tf.Tensor },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
});

const hasKernels = () => tf.getKernel(LAYER_NORM, tf.getBackend()) != null && tf.getKernel(LAYER_NORM_GRAD, tf.getBackend()) != null;

/** y = (x − mean)·rsqrt(var + ε)·γ + β over the last `dims` axes (γ, β optional), with its own gradient. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, dims: number, epsilon: number): tf.Tensor {
  if (gamma && beta && x.dtype === 'float32' && hasKernels()) {
    const d = x.shape.slice(x.rank - dims).reduce((a, b) => a * b, 1);
    const x2 = tf.reshape(x, [-1, d]);
    const y = tf
      .engine()
      .runKernel(LAYER_NORM, { x: x2, gamma: tf.reshape(gamma, [d]), beta: tf.reshape(beta, [d]) }, { epsilon }) as tf.Tensor;
    return tf.reshape(y, x.shape);
  }
  return portableLayerNorm(x, gamma, beta, dims, epsilon);
}

/** The portable path: broadcasting ops with a closed-form gradient (γ, β optional). */
function portableLayerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, dims: number, epsilon: number): tf.Tensor {
  const axes = Array.from({ length: dims }, (_, i) => x.rank - dims + i);
  const leading = Array.from({ length: x.rank - dims }, (_, i) => i);
  const paramShape = x.shape.slice(x.rank - dims);
  const params = [gamma, beta].filter((p): p is tf.Tensor => p != null);
  // customGrad passes the inputs, then the save function, as one argument list.
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const g = gamma ? tf.reshape(args[1] as tf.Tensor, paramShape) : null;
    const b = beta ? tf.reshape(args[gamma ? 2 : 1] as tf.Tensor, paramShape) : null;
    const xc = tf.sub(input, tf.mean(input, axes, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axes, true), epsilon));
    const xhat = tf.mul(xc, rstd);
    save(g ? [xhat, rstd, g] : [xhat, rstd]);
    let y = g ? tf.mul(xhat, g) : xhat;
    if (b) y = tf.add(y, b);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gm] = saved;
        const gdy = gm ? tf.mul(dy, gm) : dy;
        const dx = tf.mul(r, tf.sub(tf.sub(gdy, tf.mean(gdy, axes, true)), tf.mul(xh, tf.mean(tf.mul(gdy, xh), axes, true))));
        const grads = [dx];
        if (gamma) grads.push(tf.reshape(tf.sum(tf.mul(dy, xh), leading), gamma.shape));
        if (beta) grads.push(tf.reshape(tf.sum(dy, leading), beta.shape));
        return grads;
      },
    };
  });
  return f(x, ...params);
}
