// The position-embedding and class-token layers that Keras ViTs are built from, none of which
// tfjs-layers 4.22 registers. Each holds its weight under the name its Keras library gives it,
// so tensorflowjs_converter's weight names load into it:
//   PositionEmbedding (keras_nlp / keras_hub): "embeddings" [sequence_length, dim]; returns the
//     embeddings broadcast to the input's shape (the model adds them with an Add layer).
//   AddPositionEmbs (vit-keras): "pos_embedding" [1, tokens, dim]; returns input + embedding.
//   ClassToken (vit-keras): "cls" [1, 1, dim]; prepends the learned token: [b, t, d] → [b, t+1, d].
import * as tf from '@tensorflow/tfjs';
import { baseArgs, firstShape, firstTensor, serializeInitializer, toInitializer } from './config.js';

type Initializer = ReturnType<typeof toInitializer>;

export class PositionEmbedding extends tf.layers.Layer {
  static className = 'PositionEmbedding';
  readonly sequenceLength: number;
  private readonly initializer: Initializer;
  private embeddings: tf.LayerVariable | null = null;

  constructor(args: { sequenceLength: number; initializer?: unknown; name?: string; trainable?: boolean; dtype?: unknown }) {
    super(baseArgs(args));
    if (!Number.isInteger(args.sequenceLength) || args.sequenceLength <= 0) {
      throw new Error(`PositionEmbedding: sequence_length must be a positive integer, got ${args.sequenceLength}`);
    }
    this.sequenceLength = args.sequenceLength;
    this.initializer = toInitializer(args.initializer, 'glorotUniform');
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = firstShape(inputShape);
    this.embeddings = this.addWeight('embeddings', [this.sequenceLength, s[s.length - 1]!], 'float32', this.initializer, undefined, true);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstTensor(inputs);
      const t = x.shape[x.shape.length - 2];
      if (t > this.sequenceLength)
        throw new Error(`PositionEmbedding ${this.name}: ${t} positions but sequence_length is ${this.sequenceLength}`);
      let pe = this.embeddings!.read();
      if (t < this.sequenceLength) pe = tf.slice(pe, [0, 0], [t, -1]);
      // Broadcast by addition: its gradient sums over the batch, with no Tile kernel involved.
      return tf.add(tf.zerosLike(x), pe);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), sequenceLength: this.sequenceLength, initializer: serializeInitializer(this.initializer) };
  }
}

export class AddPositionEmbs extends tf.layers.Layer {
  static className = 'AddPositionEmbs';
  private pe: tf.LayerVariable | null = null;

  constructor(args: { name?: string; trainable?: boolean; dtype?: unknown } = {}) {
    super(baseArgs(args));
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = firstShape(inputShape);
    if (s.length !== 3 || s[1] == null || s[2] == null)
      throw new Error(`AddPositionEmbs ${this.name}: needs a [batch, tokens, dim] input with known sizes, got [${s}]`);
    this.pe = this.addWeight('pos_embedding', [1, s[1], s[2]], 'float32', tf.initializers.randomNormal({ stddev: 0.06 }), undefined, true);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(firstTensor(inputs), this.pe!.read()));
  }
}

export class ClassToken extends tf.layers.Layer {
  static className = 'ClassToken';
  private cls: tf.LayerVariable | null = null;

  constructor(args: { name?: string; trainable?: boolean; dtype?: unknown } = {}) {
    super(baseArgs(args));
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = firstShape(inputShape);
    if (s.length !== 3 || s[2] == null) throw new Error(`ClassToken ${this.name}: needs a [batch, tokens, dim] input, got [${s}]`);
    this.cls = this.addWeight('cls', [1, 1, s[2]], 'float32', tf.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = firstShape(inputShape);
    return [s[0], s[1] == null ? null : s[1] + 1, s[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstTensor(inputs);
      const token = tf.add(tf.zeros([x.shape[0], 1, x.shape[2]!]), this.cls!.read());
      return tf.concat([token, x], 1);
    });
  }
}

tf.serialization.registerClass(PositionEmbedding);
tf.serialization.registerClass(AddPositionEmbs);
tf.serialization.registerClass(ClassToken);
