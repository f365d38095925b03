// LayerNormalization with a closed-form gradient. tfjs-layers 4.22 normalizes with tf.moments,
// tiles mean, variance, gamma and beta to the full activation shape (a workaround for
// batchNormalization's gradient, tfjs issue #2120) and calls batchNorm; autodiff of that is ~50
// kernels per layer per training step, each tile and its gradient the size of the activation.
// A ViT has two per block, so on GPUs (where every launch costs ~100 µs of host time) and on
// wasm alike they were a large share of a training step. This class normalizes over trailing
// axes in 8 kernels forward and 13 backward (the usual
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ), with broadcasting instead of tiles.
// It is registered under tfjs' class name, so loaded and rebuilt models use it; the config, the
// weights and the outputs (to float rounding) are tfjs'. It also trains layers without gamma or
// beta (Keras center=False / scale=False), whose gradient tfjs 4.22 fails to compute. Axes that
// are not the trailing ones in order (rare) use tfjs' own implementation.
import * as tf from '@tensorflow/tfjs';

const TfjsLayerNormalization = tf.serialization.SerializationMap.getMap().classNameMap.LayerNormalization[0] as unknown as typeof tf.layers.Layer;

/** y = (x − mean)·rsqrt(var + ε)·γ + β over the last `dims` axes (γ, β optional), with its own gradient. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, dims: number, epsilon: number): tf.Tensor {
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

export class LayerNormalization extends TfjsLayerNormalization {
  static className = 'LayerNormalization';
  declare axis: number[]; // resolved to non-negative axes by tfjs' build
  declare epsilon: number;
  declare gamma: tf.LayerVariable | null;
  declare beta: tf.LayerVariable | null;

  constructor(args: Parameters<typeof tf.layers.layerNormalization>[0] = {}) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const dims = this.axis.length;
    // gamma's shape follows the order of `axis`, so only [.., rank − 1] in order is the fast case.
    const trailing = x.rank > dims && this.axis.every((a, i) => a === x.rank - dims + i);
    if (!trailing) return super.call(inputs, kwargs) as tf.Tensor;
    return tf.tidy(() => layerNorm(x, this.gamma?.read() ?? null, this.beta?.read() ?? null, dims, this.epsilon));
  }
}

tf.serialization.registerClass(LayerNormalization);
