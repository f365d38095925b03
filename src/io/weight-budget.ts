// Bounds the weights TensorFlow.js creates while it builds a model, before it allocates them.
// In tfjs-layers 4.22 every weight of every layer (tfjs's own, Lopper's in src/layers, the inner
// layers of wrappers and nested models) is made by tf.layers.Layer.prototype.addWeight, which
// allocates its initial value; so while a build runs, that method counts first and refuses a
// weight that would take the model past its budget. Builds are told apart by AsyncLocalStorage:
// overlapping loads in one process each count their own weights, and other code building layers
// meanwhile is not counted.
import { AsyncLocalStorage } from 'node:async_hooks';
import * as tf from '@tensorflow/tfjs';
import { InputError, quoted } from '../errors.js';

export interface WeightBudget {
  /** Weight elements the model may create. */
  limit: number;
  /** What the limit is, for the message: "the limit of …", "the … values its manifest holds". */
  what: string;
}

type AddWeight = (this: tf.layers.Layer, name: string, shape: tf.Shape, ...rest: unknown[]) => tf.LayerVariable;
interface Build extends WeightBudget {
  used: number;
  created: tf.LayerVariable[];
}

const layerPrototype = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
const builds = new AsyncLocalStorage<Build>();
let original: AddWeight | null = null;
let running = 0;

function countedAddWeight(this: tf.layers.Layer, name: string, shape: tf.Shape, ...rest: unknown[]): tf.LayerVariable {
  const build = builds.getStore();
  if (!build) return original!.call(this, name, shape, ...rest);
  const where = `model.json: layer ${quoted(this.name)}: weight ${quoted(name)}`;
  const dims = JSON.stringify(shape)?.slice(0, 60);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new InputError('model.json', `${where} gets the shape ${dims}, which is not a list of sizes (is an input dimension unknown?)`);
  }
  const size = shape.reduce<number>((n, d) => n * (d as number), 1);
  if (build.used + size > build.limit) {
    throw new InputError('model.json', `${where} ${dims} brings the model to ${build.used + size} weight values, more than ${build.what}`);
  }
  build.used += size;
  const variable = original!.call(this, name, shape, ...rest);
  build.created.push(variable);
  return variable;
}

/** Runs `load` (a tfjs model load) with the weights its build creates capped by `budget`. */
export async function withWeightBudget<T>(budget: WeightBudget, load: () => Promise<T>): Promise<T> {
  if (running++ === 0) {
    original = layerPrototype.addWeight;
    layerPrototype.addWeight = countedAddWeight;
  }
  const build: Build = { ...budget, used: 0, created: [] };
  try {
    return await builds.run(build, load);
  } catch (e) {
    // tfjs leaves a failed build's variables registered with the engine; a refused upload
    // should not keep them.
    for (const v of build.created) v.dispose();
    throw e;
  } finally {
    if (--running === 0) {
      layerPrototype.addWeight = original!;
      original = null;
    }
  }
}
