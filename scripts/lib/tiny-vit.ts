// A tiny Vision Transformer for 28×28 images, built from the layers a Keras ViT converts to
// (patches by Reshape/Permute + Dense projection, PositionEmbedding + Add, LayerNormalization, Lopper's
// Keras-compatible MultiHeadAttention, GELU MLP blocks, residual Adds, pooled classifier), and its
// seeded training with plain tfjs. The results script prunes its MLP blocks.
import * as tf from '@tensorflow/tfjs';
import { MultiHeadAttention, PositionEmbedding } from '../../src/layers/index.js';

export interface VitSpec {
  patch: number;
  dim: number;
  heads: number;
  depth: number;
  mlp: number;
  classes: number;
  seed?: number;
}

export const TINY_VIT: VitSpec = { patch: 7, dim: 64, heads: 4, depth: 2, mlp: 256, classes: 10 };

export function buildTinyVit(spec: VitSpec = TINY_VIT): tf.LayersModel {
  let seed = spec.seed ?? 1;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const side = 28 / spec.patch;
  const tokens = side * side;
  // Flat 784-pixel input (the same .npz as the MLP's), cut into patches by reshapes and a permute,
  // then a Dense patch projection (what a Conv2D with kernel = stride = patch computes; the Dense
  // form trains ~2x faster on wasm, whose fused-conv gradient also computes an unused input gradient).
  const p = spec.patch;
  const input = tf.input({ shape: [784], name: 'pixels' });
  let x = tf.layers.reshape({ targetShape: [side, p, side, p], name: 'grid' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.permute({ dims: [1, 3, 2, 4], name: 'patch_order' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [tokens, p * p], name: 'patches' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: spec.dim, name: 'patch_embed', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  const pos = new PositionEmbedding({
    sequenceLength: tokens,
    name: 'position_embedding',
    initializer: tf.initializers.truncatedNormal({ stddev: 0.02, seed: seed++ }),
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'add_position' }).apply([x, pos]) as tf.SymbolicTensor;
  for (let b = 0; b < spec.depth; b++) {
    const n1 = tf.layers.layerNormalization({ epsilon: 1e-6, name: `block${b}_ln1` }).apply(x) as tf.SymbolicTensor;
    const att = new MultiHeadAttention({
      numHeads: spec.heads,
      keyDim: spec.dim / spec.heads,
      name: `block${b}_attention`,
      kernelInitializer: init(),
    }).apply(n1, { value: n1 }) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `block${b}_res1` }).apply([x, att]) as tf.SymbolicTensor;
    const n2 = tf.layers.layerNormalization({ epsilon: 1e-6, name: `block${b}_ln2` }).apply(x) as tf.SymbolicTensor;
    let h = tf.layers
      .dense({ units: spec.mlp, activation: 'gelu', name: `block${b}_mlp_fc1`, kernelInitializer: init() })
      .apply(n2) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: 0.1, name: `block${b}_mlp_drop`, seed: seed++ }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: spec.dim, name: `block${b}_mlp_fc2`, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `block${b}_res2` }).apply([x, h]) as tf.SymbolicTensor;
  }
  x = tf.layers.layerNormalization({ epsilon: 1e-6, name: 'final_ln' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: spec.classes, activation: 'softmax', name: 'head', kernelInitializer: init() })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny_vit' });
}

/** Plain tfjs training (Adam, cross-entropy), seeded initialisers, the data's own (seeded) order every epoch. */
export async function trainTinyVit(
  data: { x: Float32Array; y: Int32Array; n: number },
  epochs: number,
  opts: { batchSize?: number; learningRate?: number; spec?: VitSpec; onEpoch?: (epoch: number, loss: number, acc: number) => void } = {},
): Promise<tf.LayersModel> {
  const model = buildTinyVit(opts.spec);
  model.compile({ optimizer: tf.train.adam(opts.learningRate ?? 1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor2d(data.x, [data.n, 784]);
  const ys = tf.tensor1d(data.y, 'float32');
  await model.fit(xs, ys, {
    epochs,
    batchSize: opts.batchSize ?? 64,
    shuffle: false,
    verbose: 0, // data come in a seeded order: reproducible
    callbacks: { onEpochEnd: async (epoch, logs) => opts.onEpoch?.(epoch + 1, logs?.loss ?? NaN, logs?.acc ?? logs?.accuracy ?? NaN) },
  });
  tf.dispose([xs, ys]);
  return model;
}
