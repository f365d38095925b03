// LayerNormalization with a closed-form gradient. tfjs-layers 4.22 normalizes with tf.moments,
// tiles mean, variance, gamma and beta to the full activation shape (a workaround for
// batchNormalization's gradient, tfjs issue #2120) and calls batchNorm; autodiff of that is ~50
// kernels per layer per training step, each tile and its gradient the size of the activation.
// A ViT has two per block, so on GPUs (where every launch costs ~100 µs of host time) and on
// wasm alike they were a large share of a training step. This class normalizes over trailing
// axes in 8 kernels forward and 13 backward (the usual
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ), with broadcasting instead of tiles.
// It is registered under tfjs' class name, so loaded and rebuilt models use it; the config, the
// weights and the outputs (to float rounding) are tfjs'. Axes that are not the trailing ones
// (rare) and a layer without gamma or beta use tfjs' own implementation.
import * as tf from '@tensorflow/tfjs';

const TfjsLayerNormalization = tf.serialization.SerializationMap.getMap().classNameMap.LayerNormalization[0] as unknown as typeof tf.layers.Layer;

/** y = (x − mean)·rsqrt(var + ε)·γ + β over the last `dims` axes, with its own gradient. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dims: number, epsilon: number): tf.Tensor {
  const axes = Array.from({ length: dims }, (_, i) => x.rank - dims + i);
  const leading = Array.from({ length: x.rank - dims }, (_, i) => i);
  const paramShape = x.shape.slice(x.rank - dims);
  // customGrad passes the inputs, then the save function, as one argument list.
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const gm = tf.reshape(g, paramShape);
    const xc = tf.sub(input, tf.mean(input, axes, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axes, true), epsilon));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, gm]);
    return {
      value: tf.add(tf.mul(xhat, gm), tf.reshape(b, paramShape)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gamma2] = saved;
        const gdy = tf.mul(dy, gamma2);
        const dx = tf.mul(r, tf.sub(tf.sub(gdy, tf.mean(gdy, axes, true)), tf.mul(xh, tf.mean(tf.mul(gdy, xh), axes, true))));
        return [dx, tf.reshape(tf.sum(tf.mul(dy, xh), leading), g.shape), tf.reshape(tf.sum(dy, leading), b.shape)];
      },
    };
  });
  return f(x, gamma, beta);
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
    if (!trailing || !this.gamma || !this.beta) return super.call(inputs, kwargs) as tf.Tensor;
    return tf.tidy(() => layerNorm(x, this.gamma!.read(), this.beta!.read(), dims, this.epsilon));
  }
}

tf.serialization.registerClass(LayerNormalization);
