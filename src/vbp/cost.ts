// Model cost from the layer graph: parameters and multiply-accumulates per sample. MACs count the
// matrix work (Dense, convolutions, and custom layers that report their own via macsPerSample);
// elementwise ops, normalisation and pooling are negligible next to it and are not counted.
import type * as tf from '@tensorflow/tfjs';
import { config, inputShapeOf, outputShapeOf } from './graph.js';

type Layer = tf.layers.Layer;
const product = (dims: (number | null)[]) => dims.reduce<number>((a, d) => a * (d ?? 1), 1);

/** A layer class may report its own MACs (e.g. attention); Lopper's custom layers do. */
export interface CountsMacs {
  macsPerSample(inputShapes: (number | null)[][]): number;
}

function layerMacs(layer: Layer): number {
  const custom = layer as unknown as Partial<CountsMacs>;
  if (typeof custom.macsPerSample === 'function') {
    const shapes = (layer as any).inboundNodes[0]?.inputShapes ?? [];
    return custom.macsPerSample(Array.isArray(shapes[0]) ? shapes : [shapes]);
  }
  const cls = layer.getClassName();
  const c = config(layer);
  const input = inputShapeOf(layer);
  const output = outputShapeOf(layer);
  const spatial = () => product(output.slice(1, -1));
  const channelsIn = input[input.length - 1] ?? 0;
  // tfjs's getConfig() spells keys in camelCase (kernelSize, depthMultiplier).
  const size = c.kernelSize ?? c.kernel_size;
  const kernel = () => product(Array.isArray(size) ? size : [size]);
  const multiplier = c.depthMultiplier ?? c.depth_multiplier ?? 1;
  switch (cls) {
    case 'Dense':
      return product(input.slice(1, -1)) * channelsIn * c.units;
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
    case 'Conv2DTranspose':
      return kernel() * (channelsIn / (c.groups ?? 1)) * c.filters * (cls === 'Conv2DTranspose' ? product(input.slice(1, -1)) : spatial());
    case 'DepthwiseConv2D':
      return kernel() * channelsIn * multiplier * spatial();
    case 'SeparableConv2D':
      return spatial() * (kernel() * channelsIn * multiplier + channelsIn * multiplier * c.filters);
    default:
      return 'layers' in layer ? countMacs(layer as unknown as tf.LayersModel) : 0;
  }
}

export function countMacs(model: tf.LayersModel): number {
  return model.layers.reduce((sum, layer) => sum + layerMacs(layer), 0);
}

export function countParams(model: tf.LayersModel): number {
  return model.countParams();
}
