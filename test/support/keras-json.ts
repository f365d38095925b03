// Writes model.json + weight shards the way tensorflowjs_converter (--input_format keras, from a
// TF 2.15 / Keras 2 .h5) lays them out: a Functional model_config with snake_case keys, initializers
// as {module, class_name, config, registered_name}, inbound_nodes whose kwargs carry the extra
// tensors of a MultiHeadAttention call, and weights named "<layer>/<sublayer>/<weight>".
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { converterFiles } from './converter-layout.js';

const init = (className: string, config: Record<string, unknown> = {}) => ({
  module: 'keras.initializers',
  class_name: className,
  config,
  registered_name: null,
});
const GLOROT = init('GlorotUniform', { seed: null });
const ZEROS = init('Zeros');
const ONES = init('Ones');
const NO_REG = {
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
};

type Ref = [string, number, number];
export interface Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Seeded uniform values in [-scale, scale) + offset (mulberry32). */
export function seededValues(n: number, seed: number, scale: number, offset = 0): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 * scale - scale + offset;
  }
  return out;
}

export class KerasModelJson {
  readonly layers: any[] = [];
  readonly weights: Weight[] = [];
  private seed = 11;
  private inputs: Ref[] = [];

  private add(
    className: string,
    name: string,
    config: Record<string, unknown>,
    inbound: unknown[][] | null,
    extra: Record<string, unknown> = {},
  ): string {
    this.layers.push({
      ...extra,
      class_name: className,
      config: { name, trainable: true, dtype: 'float32', ...config },
      name,
      inbound_nodes: inbound ?? [],
    });
    return name;
  }

  private weight(name: string, shape: number[], scale: number, offset = 0): void {
    const n = shape.reduce((a, b) => a * b, 1);
    this.weights.push({ name, shape, values: seededValues(n, this.seed++, scale, offset) });
  }

  input(name: string, shape: number[]): string {
    this.inputs.push([name, 0, 0]);
    return this.add('InputLayer', name, { batch_input_shape: [null, ...shape], sparse: false, ragged: false }, null);
  }

  /** A call on one input (or several, as for Add) with optional Keras kwargs. */
  private node(inputs: string[], kwargs: Record<string, unknown> = {}): unknown[][] {
    return [inputs.map((i) => [i, 0, 0, kwargs])];
  }

  dense(name: string, input: string, units: number, inDim: number, activation = 'linear', scale = 0.4): string {
    this.weight(`${name}/kernel`, [inDim, units], scale);
    this.weight(`${name}/bias`, [units], 0.1);
    return this.add(
      'Dense',
      name,
      { units, activation, use_bias: true, kernel_initializer: GLOROT, bias_initializer: ZEROS, ...NO_REG },
      this.node([input]),
    );
  }

  conv2d(name: string, input: string, filters: number, inChannels: number, kernel: number, stride: number, activation = 'linear'): string {
    this.weight(`${name}/kernel`, [kernel, kernel, inChannels, filters], 0.4);
    this.weight(`${name}/bias`, [filters], 0.1);
    return this.add(
      'Conv2D',
      name,
      {
        filters,
        kernel_size: [kernel, kernel],
        strides: [stride, stride],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        groups: 1,
        activation,
        use_bias: true,
        kernel_initializer: GLOROT,
        bias_initializer: ZEROS,
        ...NO_REG,
      },
      this.node([input]),
    );
  }

  reshape(name: string, input: string, target: number[]): string {
    return this.add('Reshape', name, { target_shape: target }, this.node([input]));
  }

  layerNorm(name: string, input: string, dim: number, axis: number): string {
    this.weight(`${name}/gamma`, [dim], 0.2, 1);
    this.weight(`${name}/beta`, [dim], 0.1);
    return this.add(
      'LayerNormalization',
      name,
      {
        axis: [axis],
        epsilon: 1e-6,
        center: true,
        scale: true,
        beta_initializer: ZEROS,
        gamma_initializer: ONES,
        beta_regularizer: null,
        gamma_regularizer: null,
        beta_constraint: null,
        gamma_constraint: null,
      },
      this.node([input]),
    );
  }

  dropout(name: string, input: string, rate: number): string {
    return this.add('Dropout', name, { rate, noise_shape: null, seed: null }, this.node([input]));
  }

  addLayer(name: string, inputs: string[]): string {
    return this.add('Add', name, {}, this.node(inputs));
  }

  globalAveragePooling1d(name: string, input: string): string {
    return this.add('GlobalAveragePooling1D', name, { data_format: 'channels_last', keepdims: false }, this.node([input]));
  }

  /** keras_nlp / keras_hub PositionEmbedding (a registered custom object in Keras 2.13+). */
  positionEmbedding(name: string, input: string, sequenceLength: number, dim: number): string {
    this.weight(`${name}/embeddings`, [sequenceLength, dim], 0.5);
    return this.add('PositionEmbedding', name, { sequence_length: sequenceLength, initializer: GLOROT }, this.node([input]), {
      module: 'keras_nlp.src.layers.modeling.position_embedding',
      registered_name: 'keras_nlp>PositionEmbedding',
    });
  }

  /** vit-keras ClassToken. */
  classToken(name: string, input: string, dim: number): string {
    this.weight(`${name}/cls`, [1, 1, dim], 0.5);
    return this.add('ClassToken', name, {}, this.node([input]), { module: 'vit_keras.layers', registered_name: 'ClassToken' });
  }

  /** vit-keras AddPositionEmbs. */
  addPositionEmbs(name: string, input: string, tokens: number, dim: number): string {
    this.weight(`${name}/pos_embedding`, [1, tokens, dim], 0.5);
    return this.add('AddPositionEmbs', name, {}, this.node([input]), { module: 'vit_keras.layers', registered_name: 'AddPositionEmbs' });
  }

  /**
   * Keras MultiHeadAttention called as layer(query, value[, key]): the converter writes one inbound
   * node for the query and the other tensors as kwargs references.
   */
  mha(
    name: string,
    query: string,
    opts: {
      heads: number;
      keyDim: number;
      valueDim?: number;
      dim: number;
      tokens: number;
      value?: string;
      key?: string;
      attentionAxes?: number[] | null;
      dropout?: number;
    },
  ): string {
    const { heads, keyDim, dim, tokens } = opts;
    const valueDim = opts.valueDim ?? keyDim;
    for (const [sub, per] of [
      ['query', keyDim],
      ['key', keyDim],
      ['value', valueDim],
    ] as const) {
      this.weight(`${name}/${sub}/kernel`, [dim, heads, per], 0.5);
      this.weight(`${name}/${sub}/bias`, [heads, per], 0.1);
    }
    this.weight(`${name}/attention_output/kernel`, [heads, valueDim, dim], 0.4);
    this.weight(`${name}/attention_output/bias`, [dim], 0.1);
    const kwargs: Record<string, unknown> = { value: [opts.value ?? query, 0, 0] };
    if (opts.key) kwargs.key = [opts.key, 0, 0];
    const shape = [null, tokens, dim];
    return this.add(
      'MultiHeadAttention',
      name,
      {
        num_heads: heads,
        key_dim: keyDim,
        value_dim: valueDim,
        dropout: opts.dropout ?? 0.0,
        use_bias: true,
        output_shape: null,
        attention_axes: opts.attentionAxes ?? null,
        kernel_initializer: GLOROT,
        bias_initializer: ZEROS,
        ...NO_REG,
        query_shape: shape,
        key_shape: shape,
        value_shape: shape,
      },
      this.node([query], kwargs),
    );
  }

  /** Adds an arbitrary layer entry (e.g. a class tfjs does not know). */
  raw(className: string, name: string, config: Record<string, unknown>, inputs: string[]): string {
    return this.add(className, name, config, this.node(inputs));
  }

  /** model.json (converter layout) and its shards, as a basename → bytes map. */
  files(output: string, shards = 2): Map<string, Uint8Array> {
    const total = this.weights.reduce((a, w) => a + w.values.length, 0);
    const all = new Float32Array(total);
    let offset = 0;
    for (const w of this.weights) {
      all.set(w.values, offset);
      offset += w.values.length;
    }
    const modelConfig = {
      class_name: 'Functional',
      config: { name: 'model', trainable: true, layers: this.layers, input_layers: this.inputs, output_layers: [[output, 0, 0]] },
    };
    const specs = this.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' }));
    return converterFiles(modelConfig, specs, new Uint8Array(all.buffer), shards).files;
  }

  writeTo(dir: string, output: string): string {
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of this.files(output)) writeFileSync(join(dir, name), data);
    return join(dir, 'model.json');
  }

  weight_(name: string): Weight {
    const w = this.weights.find((x) => x.name === name);
    if (!w) throw new Error(`no weight ${name}`);
    return w;
  }
}
