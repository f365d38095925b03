// Lopper's layer classes, registered with tfjs's serialization map on import, so that every path
// that loads a model (src/io/model-files.ts imports this module) knows Keras classes that
// tfjs-layers 4.22 lacks. A model that uses them reloads elsewhere with plain
// tf.loadLayersModel once this module has been imported. It also maps activation names tfjs
// writes but cannot read back ("gelu_new") onto their classes: see activations.ts.
import './activations.js';
import './gelu.js'; // replaces tfjs' gelu activation (same function, one kernel each way on wasm)
import './layer-normalization.js'; // replaces tfjs' LayerNormalization (same config and weights, fewer kernels)
import { MultiHeadAttention } from './multi-head-attention.js';
import { AddPositionEmbs, ClassToken, PositionEmbedding } from './position-embedding.js';

export { LayerNormalization } from './layer-normalization.js';
export { MultiHeadAttention } from './multi-head-attention.js';
export { AddPositionEmbs, ClassToken, PositionEmbedding } from './position-embedding.js';

/** Class names Lopper registers on top of tfjs-layers. */
export const LOPPER_LAYERS: readonly string[] = [MultiHeadAttention, PositionEmbedding, AddPositionEmbs, ClassToken].map(
  (c) => c.className,
);
