// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay. TensorFlow.js ships only Adam,
// whose L2 penalty (if any) would go through the adaptive denominator; VBP fine-tunes with AdamW.
import * as tf from '@tensorflow/tfjs';

export interface AdamWConfig {
  learningRate: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

// tfjs does not export its NamedTensor type; take the parameter type from the base class.
type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamW extends tf.Optimizer {
  static className = 'AdamW';

  learningRate: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  // PyTorch's default (1e-8), not tfjs Adam's backend epsilon (1e-7), so runs match the paper's.
  readonly epsilon: number;
  // Keyed by variable name rather than by position (tfjs Adam keys by position, which silently
  // mixes up moments if the gradient list ever arrives in a different order or length).
  private moments = new Map<string, Moments>();

  constructor({ learningRate, weightDecay = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 }: AdamWConfig) {
    super();
    this.learningRate = learningRate;
    this.weightDecay = weightDecay;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }

  /** A schedule sets this before each step; the next applyGradients uses it. */
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  applyGradients(variableGradients: VariableGradients): void {
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const t = this.iterations + 1;
    // Bias corrections as plain numbers: the step count lives on the host, so no extra variables.
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const lr = this.learningRate;
    tf.tidy(() => {
      // Per-step constants as tensors made once per step, not once per weight: on a GPU backend
      // every number operand is a separate upload, and each op a kernel launch. Folding the bias
      // corrections into one step size,
      //   lr·m̂/(√v̂ + ε) = (lr·√bc2/bc1) · m/(√v + ε·√bc2),
      // and the decay into one factor, w·(1 − lr·wd) − update, keeps it to 12 ops per weight.
      const beta1 = tf.scalar(this.beta1);
      const beta2 = tf.scalar(this.beta2);
      const oneMinusBeta1 = tf.scalar(1 - this.beta1);
      const oneMinusBeta2 = tf.scalar(1 - this.beta2);
      const stepSize = tf.scalar((lr * Math.sqrt(bc2)) / bc1);
      const epsilon = tf.scalar(this.epsilon * Math.sqrt(bc2));
      const keep = tf.scalar(1 - lr * this.weightDecay);
      for (const [name, grad] of entries) {
        // A weight that does not reach the loss has no gradient: leave it (and its decay) alone.
        if (grad == null) continue;
        const value = tf.engine().registeredVariables[name];
        if (!value) throw new Error(`AdamW: no variable named "${name}"`);
        let mom = this.moments.get(name);
        if (!mom) {
          mom = {
            m: tf.tidy(() => tf.zerosLike(value).variable(false)),
            v: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
          this.moments.set(name, mom);
        }
        const m = tf.add(tf.mul(mom.m, beta1), tf.mul(grad, oneMinusBeta1));
        const v = tf.add(tf.mul(mom.v, beta2), tf.mul(tf.square(grad), oneMinusBeta2));
        mom.m.assign(m);
        mom.v.assign(v);
        const update = tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), stepSize);
        // Decoupled decay on the pre-step weight, only for rank ≥ 2 tensors (dense/conv kernels,
        // embeddings): biases and LayerNorm/BatchNorm scales and offsets are rank 1 and are not
        // decayed, which is timm's convention and what the paper's fine-tuning used.
        const decayed = value.rank >= 2 && this.weightDecay > 0 ? tf.mul(value, keep) : value;
        value.assign(tf.sub(decayed, update));
      }
    });
    this.incrementIterations();
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
    super.dispose();
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      weightDecay: this.weightDecay,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // The constructor takes one config object, unlike tfjs' positional optimizers.
    return new cls(config as unknown as AdamWConfig);
  }
}

tf.serialization.registerClass(AdamW);
