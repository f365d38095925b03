// Read-only views of a TF.js Layers graph: who feeds whom, shapes and configs. tfjs exposes the
// graph through each layer's inbound/outbound nodes for Sequential and functional models alike.
import type * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;
type Shape = (number | null)[];

export function config(layer: Layer): Record<string, any> {
  return layer.getConfig() as Record<string, any>;
}

/** Layers that consume this layer's output (one entry per call). */
export function consumers(layer: Layer): Layer[] {
  return (layer as any).outboundNodes.map((node: any) => node.outboundLayer as Layer);
}

/** How many times the layer is called in the graph (shared layers are called more than once). */
export function callCount(layer: Layer): number {
  return (layer as any).inboundNodes.length;
}

export function inputShapeOf(layer: Layer): Shape {
  const shapes = (layer as any).inboundNodes[0]?.inputShapes;
  const shape = Array.isArray(shapes?.[0]) ? shapes[0] : shapes;
  return (shape ?? []) as Shape;
}

export function outputShapeOf(layer: Layer): Shape {
  const shapes = (layer as any).inboundNodes[0]?.outputShapes;
  const shape = Array.isArray(shapes?.[0]) ? shapes[0] : shapes;
  return (shape ?? []) as Shape;
}

export function modelOutputLayers(model: tf.LayersModel): Set<string> {
  return new Set(model.outputs.map((t) => t.sourceLayer.name));
}

/** Activation name of a layer's own activation ('linear' when it has none). */
export function ownActivation(layer: Layer): string {
  const activation = config(layer).activation;
  if (!activation) return 'linear';
  return typeof activation === 'string' ? activation : String(activation.class_name ?? activation);
}
