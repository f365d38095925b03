// Keras's MultiHeadAttention for TensorFlow.js Layers. tfjs-layers 4.22's Node bundle does not
// register it (its nlp variant uses einsum, which has no gradient in tfjs), so a model converted
// from Keras would not load, let alone fine-tune. This layer reads the same config keys and holds
// the same weights, named and shaped as Keras names and shapes them:
//   query|key|value/kernel [dim, heads, key_dim|value_dim], query|key|value/bias [heads, key_dim|value_dim],
//   attention_output/kernel [heads, value_dim, ...output_shape], attention_output/bias [...output_shape],
// and computes the same function with reshapes, transposes and matMuls of at most 4-D:
//   Q = x_q Wq + bq,  K = x_k Wk + bk,  V = x_v Wv + bv       (per head)
//   A = softmax(Q Kᵀ / √key_dim)  (dropout on A while training)
//   out = concat_h(A V) Wo + bo
// Attention runs over every axis between batch and features (Keras's default attention_axes);
// a 4-D [batch, h, w, c] query attends over h·w positions.
//
// Calls: tfjs saves a call as a positional input list, [query] for self-attention,
// [query, value] or [query, value, key]. tensorflowjs_converter instead writes Keras's form,
// one inbound node holding the query with the other tensors as kwargs:
//   [["ln", 0, 0, {"value": ["ln", 0, 0]}]]
// and tfjs 4.22 hands those kwargs to apply() unresolved (a [layer, node, tensor] triple whose
// layer name tfjs has camelCased). apply() resolves them among the query's ancestors and turns
// them into positional inputs, so the graph records the dependency and later saves are plain tfjs.
import * as tf from '@tensorflow/tfjs';
import { baseArgs, firstShape, isKerasRef, type Kwargs, product, serializeInitializer, toCamelCase, toInitializer } from './config.js';

export interface MultiHeadAttentionArgs {
  numHeads: number;
  keyDim: number;
  valueDim?: number | null;
  dropout?: number;
  useBias?: boolean;
  /** Output feature shape; null: the query's last dimension. */
  outputShape?: number | number[] | null;
  /** null, or every axis between batch and features (the only layout supported). */
  attentionAxes?: number | number[] | null;
  kernelInitializer?: unknown;
  biasInitializer?: unknown;
  /** Refused unless null (see UNSUPPORTED): Keras writes all five, null by default. */
  kernelRegularizer?: unknown;
  biasRegularizer?: unknown;
  activityRegularizer?: unknown;
  kernelConstraint?: unknown;
  biasConstraint?: unknown;
  name?: string;
  trainable?: boolean;
  dtype?: unknown;
  [key: string]: unknown;
}

// This layer applies no regularizer or constraint. Loading a config that sets one would train it
// without (and a save would pass on a promise it never kept), so such a config is refused by name.
const UNSUPPORTED = {
  kernelRegularizer: 'kernel_regularizer',
  biasRegularizer: 'bias_regularizer',
  activityRegularizer: 'activity_regularizer',
  kernelConstraint: 'kernel_constraint',
  biasConstraint: 'bias_constraint',
} as const;

type Shape = (number | null)[];
type Initializer = ReturnType<typeof toInitializer>;

/** The symbolic tensor a Keras kwargs reference [layer, node, tensor] names, among `from`'s ancestors. */
function resolveRef(ref: unknown, from: tf.SymbolicTensor, owner: string, what: string): tf.SymbolicTensor {
  const r = Array.isArray(ref) && ref.length === 1 && isKerasRef(ref[0]) ? ref[0] : ref;
  if (!isKerasRef(r)) throw new Error(`MultiHeadAttention ${owner}: cannot read its "${what}" input ${JSON.stringify(ref)}`);
  const [name, nodeIndex, tensorIndex] = r;
  const seen = new Set<tf.layers.Layer>();
  const queue: tf.layers.Layer[] = [from.sourceLayer as tf.layers.Layer];
  while (queue.length) {
    const layer = queue.shift()!;
    if (seen.has(layer)) continue;
    seen.add(layer);
    if (layer.name === name || toCamelCase(layer.name) === name) {
      const node = (layer as any).inboundNodes[nodeIndex];
      const tensor = node?.outputTensors?.[tensorIndex] as tf.SymbolicTensor | undefined;
      if (tensor) return tensor;
    }
    for (const node of (layer as any).inboundNodes) queue.push(...(node.inboundLayers as tf.layers.Layer[]));
  }
  throw new Error(
    `MultiHeadAttention ${owner}: its "${what}" input ${name}[${nodeIndex}][${tensorIndex}] is not computed before its query ` +
      '(only inputs upstream of the query can be resolved from a Keras kwargs call)',
  );
}

export class MultiHeadAttention extends tf.layers.Layer {
  static className = 'MultiHeadAttention';

  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  private readonly outShape: number[] | null;
  private readonly attentionAxes: number[] | null;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  /** Set from a call's use_causal_mask kwarg (kept in the call's saved kwargs too). */
  private causal = false;
  private weightsOf: Record<string, tf.LayerVariable> = {};

  constructor(args: MultiHeadAttentionArgs) {
    super(baseArgs(args));
    if (!Number.isInteger(args.numHeads) || args.numHeads <= 0)
      throw new Error(`MultiHeadAttention: num_heads must be a positive integer, got ${args.numHeads}`);
    if (!Number.isInteger(args.keyDim) || args.keyDim <= 0)
      throw new Error(`MultiHeadAttention: key_dim must be a positive integer, got ${args.keyDim}`);
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    this.outShape = args.outputShape == null ? null : Array.isArray(args.outputShape) ? args.outputShape.slice() : [args.outputShape];
    this.attentionAxes =
      args.attentionAxes == null ? null : Array.isArray(args.attentionAxes) ? args.attentionAxes.slice() : [args.attentionAxes];
    this.kernelInitializer = toInitializer(args.kernelInitializer, 'glorotUniform');
    this.biasInitializer = toInitializer(args.biasInitializer, 'zeros');
    for (const [key, keras] of Object.entries(UNSUPPORTED)) {
      if (args[key] != null) {
        throw new Error(
          `MultiHeadAttention ${this.name}: ${keras} ${JSON.stringify(args[key])} is not supported (this layer applies no regularizers or constraints)`,
        );
      }
    }
  }

  /** Resolves Keras-style kwargs inputs (value, key) into positional inputs; see the file comment. */
  override apply(
    inputs: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[],
    kwargs?: Kwargs,
  ): tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[] {
    const { value, key, attentionMask, returnAttentionScores, useCausalMask, ...rest } = kwargs ?? {};
    if (attentionMask != null) throw new Error(`MultiHeadAttention ${this.name}: attention_mask is not supported`);
    if (returnAttentionScores) throw new Error(`MultiHeadAttention ${this.name}: return_attention_scores is not supported`);
    if (useCausalMask) {
      this.causal = true;
      rest.useCausalMask = true; // saved with the call, so a reload sets it again
    }
    if (value == null && key == null) return super.apply(inputs as any, rest);
    if (Array.isArray(inputs) && inputs.length > 1)
      throw new Error(`MultiHeadAttention ${this.name}: value given both positionally and as a keyword`);
    const query = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.SymbolicTensor | tf.Tensor;
    const symbolic = query instanceof tf.SymbolicTensor;
    const get = (v: unknown, what: string) =>
      v instanceof tf.SymbolicTensor || v instanceof tf.Tensor
        ? v
        : symbolic
          ? resolveRef(v, query as tf.SymbolicTensor, this.name, what)
          : null;
    const v = value == null ? query : get(value, 'value');
    const k = key == null ? v : get(key, 'key');
    if (!v || !k) throw new Error(`MultiHeadAttention ${this.name}: value/key must be tensors`);
    const list = k !== v ? [query, v, k] : v !== query ? [query, v] : [query];
    return super.apply((list.length === 1 ? list[0] : list) as any, rest);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const list = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const query = list[0];
    const value = list[1] ?? query;
    const key = list[2] ?? value;
    for (const [what, s] of [
      ['query', query],
      ['value', value],
      ['key', key],
    ] as const) {
      if (s.length < 3) throw new Error(`MultiHeadAttention ${this.name}: ${what} must be at least 3-D [batch, ..., features], got [${s}]`);
      if (s[s.length - 1] == null) throw new Error(`MultiHeadAttention ${this.name}: ${what}'s feature dimension must be known`);
    }
    if (this.attentionAxes) {
      const rank = query.length;
      const axes = this.attentionAxes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
      const all = Array.from({ length: rank - 2 }, (_, i) => i + 1);
      if (axes.join() !== all.join()) {
        throw new Error(
          `MultiHeadAttention ${this.name}: attention_axes ${JSON.stringify(this.attentionAxes)} not supported (only attention over every axis between batch and features)`,
        );
      }
    }
    const h = this.numHeads;
    const out = this.outShape ?? [query[query.length - 1]!];
    const add = (name: string, shape: number[], init: Initializer) => {
      this.weightsOf[name] = this.addWeight(name, shape, 'float32', init, undefined, true);
    };
    const proj = (name: string, dim: number, per: number) => {
      add(`${name}/kernel`, [dim, h, per], this.kernelInitializer);
      if (this.useBias) add(`${name}/bias`, [h, per], this.biasInitializer);
    };
    proj('query', query[query.length - 1]!, this.keyDim);
    proj('key', key[key.length - 1]!, this.keyDim);
    proj('value', value[value.length - 1]!, this.valueDim);
    add('attention_output/kernel', [h, this.valueDim, ...out], this.kernelInitializer);
    if (this.useBias) add('attention_output/bias', out, this.biasInitializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const query = firstShape(inputShape);
    return [...query.slice(0, -1), ...(this.outShape ?? [query[query.length - 1]])];
  }

  /** [batch, tokens, features] → [batch·heads, tokens, per] through a [features, heads·per] matmul. */
  private project(x: tf.Tensor, name: string, per: number): tf.Tensor3D {
    const b = x.shape[0];
    const c = x.shape[x.shape.length - 1];
    const t = x.size / (b * c);
    const h = this.numHeads;
    let y = tf.matMul(
      tf.reshape(x, [b * t, c]) as tf.Tensor2D,
      tf.reshape(this.weightsOf[`${name}/kernel`].read(), [c, h * per]) as tf.Tensor2D,
    ) as tf.Tensor;
    if (this.useBias) y = tf.add(y, tf.reshape(this.weightsOf[`${name}/bias`].read(), [h * per]));
    return tf.reshape(tf.transpose(tf.reshape(y, [b, t, h, per]), [0, 2, 1, 3]), [b * h, t, per]) as tf.Tensor3D;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const query = list[0];
      const value = list[1] ?? query;
      const key = list[2] ?? value;
      const b = query.shape[0];
      const h = this.numHeads;
      const tq = query.size / (b * query.shape[query.shape.length - 1]);
      const q = tf.mul(this.project(query, 'query', this.keyDim), 1 / Math.sqrt(this.keyDim));
      const k = this.project(key, 'key', this.keyDim);
      const v = this.project(value, 'value', this.valueDim);
      let scores: tf.Tensor = tf.matMul(q as tf.Tensor3D, k, false, true); // [b·h, tq, tk]
      if (this.causal) {
        const tk = k.shape[1];
        const mask = new Float32Array(tq * tk);
        for (let i = 0; i < tq; i++) for (let j = i + 1; j < tk; j++) mask[i * tk + j] = -1e9;
        scores = tf.add(scores, tf.tensor2d(mask, [tq, tk]));
      }
      let probs = tf.softmax(scores);
      if (kwargs?.training === true && this.dropout > 0) probs = tf.dropout(probs, this.dropout);
      const heads = tf.matMul(probs as tf.Tensor3D, v); // [b·h, tq, dv]
      const merged = tf.reshape(tf.transpose(tf.reshape(heads, [b, h, tq, this.valueDim]), [0, 2, 1, 3]), [b * tq, h * this.valueDim]);
      const kernel = this.weightsOf['attention_output/kernel'].read();
      const outDims = kernel.shape.slice(2);
      let out = tf.matMul(merged as tf.Tensor2D, tf.reshape(kernel, [h * this.valueDim, product(outDims)]) as tf.Tensor2D) as tf.Tensor;
      if (this.useBias) out = tf.add(out, tf.reshape(this.weightsOf['attention_output/bias'].read(), [product(outDims)]));
      return tf.reshape(out, [...query.shape.slice(0, -1), ...outDims]);
    });
  }

  /** Multiply-accumulates per sample: the four projections and the two attention matmuls. */
  macsPerSample(inputShapes: (number | null)[][]): number {
    const query = inputShapes[0];
    const value = inputShapes[1] ?? query;
    const key = inputShapes[2] ?? value;
    const tokens = (s: Shape) => product(s.slice(1, -1));
    const feat = (s: Shape) => s[s.length - 1] ?? 0;
    const h = this.numHeads;
    const tq = tokens(query);
    const tk = tokens(key);
    const out = product(this.outShape ?? [feat(query)]);
    return (
      tq * feat(query) * h * this.keyDim +
      tk * feat(key) * h * this.keyDim +
      tokens(value) * feat(value) * h * this.valueDim +
      h * tq * tk * this.keyDim +
      h * tq * tk * this.valueDim +
      tq * h * this.valueDim * out
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      dropout: this.dropout,
      useBias: this.useBias,
      outputShape: this.outShape,
      attentionAxes: this.attentionAxes,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
      biasInitializer: serializeInitializer(this.biasInitializer),
    };
  }
}

tf.serialization.registerClass(MultiHeadAttention);
