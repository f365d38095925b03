// Activation names that tfjs-layers 4.22 fails to read back. tfjs camelCases every string in a
// model config it loads, so a Dense layer saved with activation "gelu_new" (tfjs's own name for the
// tanh-approximated GELU) comes back as "geluNew", which nothing is registered under: any model using
// it could be saved but not reloaded or pruned (surgery rebuilds the model from its config). Keras 3
// writes "silu" for swish. Both names are mapped onto the registered classes here.
import * as tf from '@tensorflow/tfjs';

const ALIASES: Record<string, string> = { geluNew: 'gelu_new', silu: 'swish' };

export function registerActivationAliases(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, unknown>;
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (!(alias in map) && name in map) map[alias] = map[name];
  }
}

registerActivationAliases();
