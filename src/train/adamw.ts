// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay. TensorFlow.js ships only Adam,
// whose L2 penalty (if any) would go through the adaptive denominator; VBP fine-tunes with AdamW.
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate } from '../engine/ops/adamw-update.js';

export interface AdamWConfig {
  learningRate: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

// tfjs does not export its NamedTensor type; take the parameter type from the base class.
type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

/**
 * The optimizer state of one list of variables, flattened: m and v as one vector each, and which
 * elements are decayed. Updating every weight as one vector makes a step two concats, one update
 * (one kernel on wasm, 13 ops elsewhere) and one split, instead of 12 ops per weight: on a GPU each
 * op is a kernel launch (~100 µs of host time), which bounded training of small models.
 */
interface FlatState {
  names: string[];
  sizes: number[];
  m: tf.Variable;
  v: tf.Variable;
  /** 1 where the element belongs to a decayed (rank ≥ 2) weight, else 0; null when none is. */
  decayMask: tf.Tensor | null;
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
  private state: FlatState | null = null;

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
    // A weight that does not reach the loss has no gradient: leave it (and its decay) alone.
    const live = entries.filter((e): e is [string, tf.Tensor] => e[1] != null);
    const values = live.map(([name]) => {
      const value = tf.engine().registeredVariables[name];
      if (!value) throw new Error(`AdamW: no variable named "${name}"`);
      return value;
    });
    if (live.length === 0) return this.incrementIterations();
    const state = this.stateFor(values);
    const t = this.iterations + 1;
    // Bias corrections as plain numbers: the step count lives on the host, so no extra variables.
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const lr = this.learningRate;
    tf.tidy(() => {
      // Folding the bias corrections into one step size and ε,
      //   lr·m̂/(√v̂ + ε) = (lr·√bc2/bc1) · m/(√v + ε·√bc2),
      // and the decay into w − (lr·wd)·mask·w, a step is one op on the flat vectors
      // (src/engine/ops/adamw-update.ts). Decoupled decay applies to the pre-step weight, only
      // for rank ≥ 2 tensors (dense/conv kernels, embeddings): biases and LayerNorm/BatchNorm
      // scales and offsets are rank 1 and are not decayed, which is timm's convention and what
      // the paper's fine-tuning used.
      const flat = (ts: tf.Tensor[]) => (ts.length === 1 ? tf.reshape(ts[0], [-1]) : tf.concat(ts.map((x) => tf.reshape(x, [-1]))));
      const [next, m, v] = adamwUpdate(flat(values), flat(live.map(([, g]) => g)), state.m, state.v, state.decayMask, {
        beta1: this.beta1,
        beta2: this.beta2,
        stepSize: (lr * Math.sqrt(bc2)) / bc1,
        epsilon: this.epsilon * Math.sqrt(bc2),
        decay: lr * this.weightDecay,
      });
      state.m.assign(m);
      state.v.assign(v);
      const parts = values.length === 1 ? [next] : tf.split(next, state.sizes);
      values.forEach((value, i) => value.assign(tf.reshape(parts[i], value.shape)));
    });
    this.incrementIterations();
  }

  /**
   * The flat state for these variables, in this order. The list is normally the same every step;
   * when it changes, moments carry over by variable name and new variables start at zero.
   */
  private stateFor(values: tf.Variable[]): FlatState {
    const names = values.map((v) => v.name);
    const old = this.state;
    if (old && old.names.length === names.length && old.names.every((n, i) => n === names[i])) return old;
    const sizes = values.map((v) => v.size);
    // Variables survive tidy; everything else made here is released.
    const carried = (which: 'm' | 'v') =>
      tf.tidy(() => {
        const oldParts = old ? (old.names.length === 1 ? [old[which]] : tf.split(old[which], old.sizes)) : [];
        const parts = names.map((n, i) => {
          const at = old ? old.names.indexOf(n) : -1;
          return at >= 0 ? tf.reshape(oldParts[at], [-1]) : tf.zeros([sizes[i]]);
        });
        return (parts.length === 1 ? parts[0] : tf.concat(parts)).variable(false);
      });
    const mask = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    values.forEach((v, i) => {
      if (v.rank >= 2) mask.fill(1, offset, offset + sizes[i]);
      offset += sizes[i];
    });
    const state: FlatState = {
      names,
      sizes,
      m: carried('m'),
      v: carried('v'),
      decayMask: mask.includes(1) ? tf.keep(tf.tensor1d(mask)) : null,
    }; // kept: callers may step inside tf.tidy
    this.disposeState();
    this.state = state;
    return state;
  }

  /** m, v and the step count, for a checkpoint (null before the first step). */
  async exportState(): Promise<{ iterations: number; m: Float32Array; v: Float32Array } | null> {
    if (!this.state) return null;
    return { iterations: this.iterations, m: (await this.state.m.data()) as Float32Array, v: (await this.state.v.data()) as Float32Array };
  }

  /** Continues from exported state for `values` (the same variables, in the same order, as when exported). */
  importState(values: tf.Variable[], saved: { iterations: number; m: Float32Array; v: Float32Array }): void {
    const state = this.stateFor(values);
    if (saved.m.length !== state.m.size || saved.v.length !== state.v.size)
      throw new Error('AdamW: checkpointed state does not fit these variables');
    tf.tidy(() => {
      state.m.assign(tf.tensor1d(saved.m));
      state.v.assign(tf.tensor1d(saved.v));
    });
    this.iterations_ = saved.iterations;
  }

  private disposeState(): void {
    if (!this.state) return;
    tf.dispose([this.state.m, this.state.v, ...(this.state.decayMask ? [this.state.decayMask] : [])]);
    this.state = null;
  }

  override dispose(): void {
    this.disposeState();
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
