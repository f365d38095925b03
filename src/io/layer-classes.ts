// Explains a failed model build: tfjs stops at the first unknown class, but a user porting a
// Keras model wants the whole list of what TF.js lacks, so walk the topology and collect them all.
import * as tf from '@tensorflow/tfjs';

// Keys whose values are layers (or lists of layers), including nested models and wrappers.
const LAYER_KEYS = new Set(['layers', 'layer', 'forward_layer', 'backward_layer', 'cell', 'cells']);

/** Class names tfjs has not registered, split into layers and other objects (initializers, ...). */
export function findUnknownClasses(modelTopology: unknown): { layers: string[]; others: string[] } {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const layers = new Set<string>();
  const others = new Set<string>();
  const walk = (node: unknown, isLayer: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, isLayer);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    const cls = obj.class_name ?? obj.className;
    if (typeof cls === 'string' && !(cls in known)) (isLayer ? layers : others).add(cls);
    for (const [key, value] of Object.entries(obj)) {
      // Old Sequential configs are a bare list of layers under "config".
      walk(value, LAYER_KEYS.has(key) || (key === 'config' && Array.isArray(value)));
    }
  };
  const topo = modelTopology as Record<string, unknown> | null;
  walk(topo?.model_config ?? topo, true);
  return { layers: [...layers], others: [...others] };
}
