// Finds the prunable MLP blocks of a Layers model: fc1 → (per-channel norm | elementwise activation
// | dropout)* → fc2, where fc1 and fc2 act on the last (channel) axis — Dense on 2-D/3-D/4-D input,
// or a 1×1 Conv2D. Pruning a hidden unit deletes fc1's output column and fc2's input row; the mean
// shift into fc2's bias is exact only when nothing else sees the hidden activations, so any other
// consumer makes the block not prunable, and the reason is reported.
import type * as tf from '@tensorflow/tfjs';
import { callCount, config, consumers, inputShapeOf, modelOutputLayers, ownActivation } from './graph.js';

type Layer = tf.layers.Layer;

export interface Block {
  fc1: string;
  fc2: string;
  hidden: number;
  /** The nonlinearity between fc1 and fc2 ('linear' when there is none). */
  activation: string;
  /** BatchNormalization layers on the hidden units, pruned along with them. */
  norms: string[];
}

export interface NotPrunable {
  layer: string;
  reason: string;
}

export interface BlockSearch {
  blocks: Block[];
  notPrunable: NotPrunable[];
}

/** Activations applied elementwise, so that a hidden unit's value depends on that unit alone. */
const ELEMENTWISE = new Set([
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'gelu',
  'gelu_new',
  'swish',
  'silu',
  'mish',
  'sigmoid',
  'hard_sigmoid',
  'hardSigmoid',
  'tanh',
  'softplus',
  'softsign',
  'exponential',
]);
const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'GaussianDropout', 'AlphaDropout', 'GaussianNoise']);
const ACTIVATION_LAYERS = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU']);

/** Dense, or Conv2D with a 1×1 kernel, stride 1, channels last: a matmul over the channel axis. */
export function isChannelLinear(layer: Layer): boolean {
  const cls = layer.getClassName();
  if (cls === 'Dense') return true;
  if (cls !== 'Conv2D') return false;
  // tfjs's getConfig() spells keys in camelCase (kernelSize); snake_case kept for raw Keras configs.
  const c = config(layer);
  const ones = (v: unknown) => (Array.isArray(v) ? v : [v]).every((x) => x === 1);
  const format = c.dataFormat ?? c.data_format ?? 'channelsLast';
  return (
    ones(c.kernelSize ?? c.kernel_size) &&
    ones(c.strides) &&
    ones(c.dilationRate ?? c.dilation_rate ?? 1) &&
    (format === 'channelsLast' || format === 'channels_last')
  );
}

export function hiddenUnits(layer: Layer): number {
  const c = config(layer);
  return layer.getClassName() === 'Dense' ? c.units : c.filters;
}

function activationName(layer: Layer): string {
  const cls = layer.getClassName();
  if (cls === 'Activation') return ownActivation(layer);
  return cls === 'ReLU' ? 'relu' : cls.toLowerCase();
}

function isLastAxisNorm(layer: Layer): boolean {
  // Keras writes a built layer's axis as a list ([3]); tfjs as a number (-1).
  const raw = config(layer).axis;
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  const rank = inputShapeOf(layer).length;
  return axis === -1 || (typeof axis === 'number' && axis === rank - 1);
}

/** Follows fc1's output to fc2, or explains why the path is not a prunable block. */
function traceBlock(fc1: Layer, outputs: Set<string>): Block | NotPrunable {
  const fail = (reason: string): NotPrunable => ({ layer: fc1.name, reason });
  if (callCount(fc1) !== 1) return fail('layer is shared (called more than once)');
  if (outputs.has(fc1.name)) return fail('its output is a model output');
  const own = ownActivation(fc1);
  if (!ELEMENTWISE.has(own)) return fail(`its activation "${own}" mixes hidden units`);
  const activations = own === 'linear' ? [] : [own];
  const norms: string[] = [];
  let current: Layer = fc1;
  for (;;) {
    if (outputs.has(current.name)) {
      return fail(current === fc1 ? 'its output is a model output' : `hidden output reaches the model output through ${current.name}`);
    }
    const next = consumers(current);
    if (next.length === 0) return fail('its output is not consumed');
    if (next.length > 1) {
      return fail(`hidden output of ${current.name} also goes to ${next.map((l) => l.name).join(', ')}`);
    }
    const layer = next[0];
    const cls = layer.getClassName();
    if (callCount(layer) !== 1) return fail(`${layer.name} is shared (called more than once)`);
    if (isChannelLinear(layer)) {
      return { fc1: fc1.name, fc2: layer.name, hidden: hiddenUnits(fc1), activation: activations.join('+') || 'linear', norms };
    }
    if (PASS_THROUGH.has(cls)) {
      // identity at inference
    } else if (ACTIVATION_LAYERS.has(cls)) {
      const name = activationName(layer);
      if (cls === 'Activation' && !ELEMENTWISE.has(name)) return fail(`${layer.name} applies "${name}", which mixes hidden units`);
      activations.push(name);
    } else if (cls === 'BatchNormalization') {
      if (!isLastAxisNorm(layer)) return fail(`${layer.name} normalizes an axis other than the hidden units`);
      norms.push(layer.name);
    } else if (cls === 'LayerNormalization') {
      return fail(`${layer.name} (LayerNormalization) normalizes across hidden units, so removing one changes the others`);
    } else {
      return fail(`hidden output goes to ${layer.name} (${cls}), not to a Dense or 1×1 Conv2D`);
    }
    current = layer;
  }
}

export function findBlocks(model: tf.LayersModel): BlockSearch {
  const outputs = modelOutputLayers(model);
  const blocks: Block[] = [];
  const notPrunable: NotPrunable[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'Sequential' || cls === 'Model' || cls === 'Functional') {
      notPrunable.push({ layer: layer.name, reason: 'nested model: blocks inside it are not searched' });
      continue;
    }
    if (!isChannelLinear(layer)) continue;
    const found = traceBlock(layer, outputs);
    if ('fc2' in found) blocks.push(found);
    else notPrunable.push(found);
  }
  return { blocks, notPrunable };
}
