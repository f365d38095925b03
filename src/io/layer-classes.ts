// Explains a failed model build: tfjs stops at the first unknown class, but a user porting a
// Keras model wants the whole list of what TF.js lacks, so walk the topology and collect them all.
import * as tf from '@tensorflow/tfjs';

/** Keys whose values are layers (or lists of layers), including nested models and wrappers. */
export const LAYER_KEYS: ReadonlySet<string> = new Set(['layers', 'layer', 'forward_layer', 'backward_layer', 'cell', 'cells']);

/** Class names tfjs has not registered, split into layers and other objects (initializers, ...). */
export function findUnknownClasses(modelTopology: unknown): { layers: string[]; others: string[] } {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const layers = new Set<string>();
  const others = new Set<string>();
  const topo = modelTopology as Record<string, unknown> | null;
  // An explicit stack, as an upload can nest deeper than the call stack goes. Children are pushed
  // last-first so that classes are listed in document order.
  const stack: [unknown, boolean][] = [[topo?.model_config ?? topo, true]];
  while (stack.length) {
    const [node, isLayer] = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], isLayer]);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const obj = node as Record<string, unknown>;
    const cls = obj.class_name ?? obj.className;
    if (typeof cls === 'string' && !(cls in known)) (isLayer ? layers : others).add(cls);
    const entries = Object.entries(obj);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, value] = entries[i];
      // Old Sequential configs are a bare list of layers under "config".
      stack.push([value, LAYER_KEYS.has(key) || (key === 'config' && Array.isArray(value))]);
    }
  }
  return { layers: [...layers], others: [...others] };
}
