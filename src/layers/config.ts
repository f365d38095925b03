// Shared helpers for Lopper's Keras-compatible layers: reading Keras configs as tfjs hands them
// over (keys and string values already camelCased by tfjs's convertPythonicToTs), and writing
// them back so that a saved model reloads.
import * as tf from '@tensorflow/tfjs';

export type LayerArgs = ConstructorParameters<typeof tf.layers.Layer>[0];
export type Kwargs = Record<string, any>;
type Initializer = ReturnType<typeof tf.initializers.zeros>;
type Factory = (args?: any) => Initializer;

const FACTORIES = tf.initializers as unknown as Record<string, Factory>;

function factory(name: string): Factory | undefined {
  const wanted = name.replace(/_/g, '').toLowerCase();
  const key = Object.keys(FACTORIES).find((k) => k.toLowerCase() === wanted);
  return key ? FACTORIES[key] : undefined;
}

/**
 * An initializer from what a Keras / tfjs config holds: null (use `fallback`), an identifier
 * ("glorot_uniform", "glorotUniform"), a serialized {className, config} object, or an instance.
 */
export function toInitializer(spec: unknown, fallback: string): Initializer {
  if (spec == null) return toInitializer(fallback, fallback);
  if (typeof spec === 'object' && typeof (spec as Initializer).apply === 'function') return spec as Initializer;
  if (typeof spec === 'string') {
    const make = factory(spec);
    if (!make) throw new Error(`unknown initializer "${spec}"`);
    return make({});
  }
  const { className, config } = spec as { className?: string; config?: Record<string, unknown> };
  const make = className ? factory(className) : undefined;
  if (!make) throw new Error(`unknown initializer ${JSON.stringify(spec)}`);
  return make({ ...(config ?? {}) });
}

/** The serialized form tfjs writes for an initializer ({className, config}). */
export function serializeInitializer(init: Initializer): tf.serialization.ConfigDict {
  return { className: init.getClassName(), config: init.getConfig() };
}

/** Base Layer arguments out of a Keras config (Keras 3 writes dtype as a policy object). */
export function baseArgs(args: Record<string, any>): LayerArgs {
  const base: Record<string, unknown> = {};
  if (args.name != null) base.name = args.name;
  if (args.trainable != null) base.trainable = args.trainable;
  if (typeof args.dtype === 'string') base.dtype = args.dtype;
  return base as LayerArgs;
}

/**
 * tfjs-layers' toCamelCase, which convertPythonicToTs applies to every config key and to most
 * string values (layer names inside Keras kwargs included) before a layer sees its config.
 */
export function toCamelCase(s: string): string {
  if (s.length <= 1 || !s.includes('_')) return s;
  return s.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase());
}

/** A Keras tensor reference [layer name, node index, tensor index], as Keras writes one into call kwargs. */
export const isKerasRef = (v: unknown): v is [string, number, number] =>
  Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'number' && typeof v[2] === 'number';

export const product = (dims: readonly (number | null)[]): number => dims.reduce<number>((a, d) => a * (d ?? 1), 1);

/** One shape, or the first of a list of shapes. */
export function firstShape(shape: tf.Shape | tf.Shape[]): tf.Shape {
  return Array.isArray(shape[0]) ? (shape[0] as tf.Shape) : (shape as tf.Shape);
}

export function firstTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}
