// LayerNormalization computed by Lopper's layer-norm op (src/engine/ops/layer-norm.ts: one kernel
// each way on wasm, a closed-form gradient in ~20 broadcasting ops elsewhere). tfjs-layers 4.22
// normalizes with tf.moments, tiles mean, variance, gamma and beta to the full activation shape
// (a workaround for batchNormalization's gradient, tfjs issue #2120) and calls batchNorm; autodiff
// of that is ~50 kernels per layer per training step, each tile and its gradient the size of the
// activation. A ViT has two per block, so on GPUs (where every launch costs ~100 µs of host time)
// and on wasm alike they were a large share of a training step.
// It is registered under tfjs' class name, so loaded and rebuilt models use it; the config, the
// weights and the outputs (to float rounding) are tfjs'. It also trains layers without gamma or
// beta (Keras center=False / scale=False), whose gradient tfjs 4.22 fails to compute. Axes that
// are not the trailing ones in order (rare) use tfjs' own implementation.
import * as tf from '@tensorflow/tfjs';
import { layerNorm } from '../engine/ops/layer-norm.js';

const TfjsLayerNormalization = tf.serialization.SerializationMap.getMap().classNameMap
  .LayerNormalization[0] as unknown as typeof tf.layers.Layer;

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
