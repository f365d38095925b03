// The "gelu" activation, computed by Lopper's GELU op (src/engine/ops/gelu.ts): one kernel each
// way on wasm, a closed-form gradient elsewhere, instead of tfjs-layers' five ops and their
// autodiff. Registered under tfjs' class name, so Dense(activation: "gelu") in a loaded or
// rebuilt model uses it; the function (exact erf GELU) and the config are tfjs'.
import * as tf from '@tensorflow/tfjs';
import { gelu } from '../engine/ops/gelu.js';

type ActivationClass = new () => { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };

/** tfjs-layers' own class (for before/after comparisons). */
export const TfjsGelu = tf.serialization.SerializationMap.getMap().classNameMap.gelu[0] as unknown as ActivationClass;

export class Gelu extends TfjsGelu {
  static readonly className = 'gelu';

  override apply(x: tf.Tensor): tf.Tensor {
    return gelu(x);
  }
}

tf.serialization.registerClass(Gelu as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
