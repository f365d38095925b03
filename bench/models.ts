// The two reference models of the benchmark: the MNIST MLP 784-512-512-10 and a tiny ViT
// (16 tokens of 7×7 patches, dim 64, 4 heads, 4 blocks, MLP 256, GELU, LayerNormalization),
// whose attention is built from matMul and transposes in a weightless layer between Dense layers.
import * as tf from '@tensorflow/tfjs';
import { LayerNormalization } from '../src/layers/index.js';
import { TfjsGelu } from '../src/layers/gelu.js';

export const VIT = { tokens: 16, patch: 49, dim: 64, heads: 4, blocks: 4, mlp: 256, classes: 10 } as const;
export const MLP = { input: 784, hidden: [512, 512], classes: 10 } as const;

/** Adds a learned [tokens, dim] position embedding. */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'LopperPositionEmbedding';
  private pos: tf.LayerVariable | null = null;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = inputShape as tf.Shape;
    this.pos = this.addWeight('embeddings', [s[1]!, s[2]!], 'float32', tf.initializers.randomNormal({ stddev: 0.02 }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.add(x, this.pos!.read());
  }
}

/** Multi-head scaled dot-product attention on a packed [batch, tokens, 3·dim] q|k|v input. */
export class DotProductAttention extends tf.layers.Layer {
  static className = 'LopperDotProductAttention';
  readonly heads: number;

  constructor(config: { heads: number; name?: string }) {
    super(config);
    this.heads = config.heads;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    return [s[0], s[1], s[2]! / 3];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const qkv = Array.isArray(inputs) ? inputs[0] : inputs;
      const [b, t, d3] = qkv.shape;
      const d = d3 / 3;
      const h = this.heads;
      const hd = d / h;
      // [b, t, 3, h, hd] -> [3, b, h, t, hd]
      const parts = tf.transpose(tf.reshape(qkv, [b, t, 3, h, hd]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(parts, 0);
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd));
      const out = tf.matMul(tf.softmax(scores), v); // [b, h, t, hd]
      return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, t, d]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

tf.serialization.registerClass(PositionEmbedding);
tf.serialization.registerClass(DotProductAttention);

export function buildMlp(seed = 1): tf.LayersModel {
  const init = (i: number) => tf.initializers.glorotUniform({ seed: seed + i });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [MLP.input], units: MLP.hidden[0], activation: 'relu', kernelInitializer: init(0), name: 'fc1' }),
      tf.layers.dense({ units: MLP.hidden[1], activation: 'relu', kernelInitializer: init(1), name: 'fc2' }),
      tf.layers.dense({ units: MLP.classes, activation: 'softmax', kernelInitializer: init(2), name: 'out' }),
    ],
  });
}

/**
 * The tiny ViT. Its LayerNormalization and GELU are Lopper's (what a job gets: loading a
 * model.json picks Lopper's classes) unless `layers` is 'tfjs', for the stock-vs-Lopper comparison.
 */
export function buildTinyVit(seed = 1, layers: 'lopper' | 'tfjs' = 'lopper'): tf.LayersModel {
  const { tokens, patch, dim, heads, blocks, mlp, classes } = VIT;
  const norm = (name: string) =>
    layers === 'lopper' ? new LayerNormalization({ epsilon: 1e-6, name }) : tf.layers.layerNormalization({ epsilon: 1e-6, name });
  let i = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed + i++ });
  const input = tf.input({ shape: [tokens, patch] });
  let x = tf.layers.dense({ units: dim, kernelInitializer: init(), name: 'patch_embed' }).apply(input) as tf.SymbolicTensor;
  x = new PositionEmbedding({ name: 'pos_embed' }).apply(x) as tf.SymbolicTensor;
  for (let blk = 0; blk < blocks; blk++) {
    const n1 = norm(`b${blk}_ln1`).apply(x) as tf.SymbolicTensor;
    const qkv = tf.layers.dense({ units: 3 * dim, kernelInitializer: init(), name: `b${blk}_qkv` }).apply(n1) as tf.SymbolicTensor;
    const att = new DotProductAttention({ heads, name: `b${blk}_attn` }).apply(qkv) as tf.SymbolicTensor;
    const proj = tf.layers.dense({ units: dim, kernelInitializer: init(), name: `b${blk}_proj` }).apply(att) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `b${blk}_res1` }).apply([x, proj]) as tf.SymbolicTensor;
    const n2 = norm(`b${blk}_ln2`).apply(x) as tf.SymbolicTensor;
    // A tfjs activation instance bypasses the class registry, where 'gelu' now names Lopper's.
    const activation = (layers === 'lopper' ? 'gelu' : new TfjsGelu()) as 'gelu';
    const fc1 = tf.layers.dense({ units: mlp, activation, kernelInitializer: init(), name: `b${blk}_fc1` }).apply(n2) as tf.SymbolicTensor;
    const fc2 = tf.layers.dense({ units: dim, kernelInitializer: init(), name: `b${blk}_fc2` }).apply(fc1) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `b${blk}_res2` }).apply([x, fc2]) as tf.SymbolicTensor;
  }
  x = norm('ln_f').apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: classes, activation: 'softmax', kernelInitializer: init(), name: 'head' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny_vit' });
}

/** Forward FLOPs per sample (multiply-adds × 2 of the matmuls; elementwise work not counted). */
export function forwardFlops(model: 'mlp' | 'vit'): number {
  if (model === 'mlp') {
    const dims = [MLP.input, ...MLP.hidden, MLP.classes];
    let f = 0;
    for (let i = 0; i + 1 < dims.length; i++) f += 2 * dims[i] * dims[i + 1];
    return f;
  }
  const { tokens: t, patch, dim: d, blocks, mlp, classes } = VIT;
  const perBlock = 2 * t * (d * 3 * d + d * d + 2 * d * mlp) + 2 * 2 * t * t * d;
  return 2 * t * patch * d + blocks * perBlock + 2 * d * classes;
}

/** The matmul shapes [m-per-sample, k, n] of one forward pass (m scales with the batch). */
export function layerShapes(model: 'mlp' | 'vit'): { name: string; rowsPerSample: number; k: number; n: number; count: number }[] {
  if (model === 'mlp') {
    const dims = [MLP.input, ...MLP.hidden, MLP.classes];
    return dims.slice(0, -1).map((k, i) => ({ name: `${k}x${dims[i + 1]}`, rowsPerSample: 1, k, n: dims[i + 1], count: 1 }));
  }
  const { tokens: t, patch, dim: d, blocks, mlp } = VIT;
  return [
    { name: 'embed', rowsPerSample: t, k: patch, n: d, count: 1 },
    { name: 'qkv', rowsPerSample: t, k: d, n: 3 * d, count: blocks },
    { name: 'proj', rowsPerSample: t, k: d, n: d, count: blocks },
    { name: 'fc1', rowsPerSample: t, k: d, n: mlp, count: blocks },
    { name: 'fc2', rowsPerSample: t, k: mlp, n: d, count: blocks },
  ];
}
