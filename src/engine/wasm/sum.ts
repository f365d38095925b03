// Sum and Mean over leading axes ([rows, cols] reduced over rows): every bias gradient of a
// Dense layer on 3-D activations, every LayerNormalization gamma/beta gradient, and the VBP
// statistics pass's per-neuron moments (tf.moments over all rows of a batch) are one. The stock
// wasm kernels reduce only innermost axes, so they first transpose x with the generic transpose
// (~1 ms for a [4096, 64] activation) and then reduce each row with a scalar loop. This kernel
// adds x's rows into the output four columns at a time in a WebAssembly SIMD loop (wat/colsum.wat),
// reading x once in memory order. Other reductions (innermost axes, axes in between) go to the
// stock kernels.
import * as tf from '@tensorflow/tfjs';
import { type Info, type KernelArgs, memoryOf, offsetOf, replaceKernel, restoreKernel, stockKernel } from './registry.js';
import { kernel } from './modules.js';

/** [rows, cols] when `axes` of `shape` are all before every kept axis of size > 1, else null. */
export function leadingReduction(shape: readonly number[], axes: readonly number[]): { rows: number; cols: number } | null {
  let rows = 1;
  let cols = 1;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    if (axes.includes(i)) {
      if (cols > 1) return null; // a reduced axis after a kept one
      rows *= shape[i];
    } else cols *= shape[i];
  }
  return { rows, cols };
}

const simdColSum = kernel<(x: number, out: number, rows: number, vectors: number, rowBytes: number) => void>('colsum', 'colsum');

/** Sum (or mean) over leading axes with the SIMD kernel, or null where it does not apply. */
function columnReduce(args: KernelArgs, mean: boolean): Info | null {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
  const plan = x.dtype === 'float32' ? leadingReduction(x.shape, axes) : null;
  if (!plan || plan.rows <= 1 || plan.cols < 4) return null;
  const simd = simdColSum(memoryOf(backend));
  if (!simd) return null;
  let outShape = tf.backend_util.computeOutAndReduceShapes(x.shape, axes)[0];
  if (attrs.keepDims) outShape = tf.backend_util.expandShapeToKeepDim(outShape, axes);
  const out = backend.makeOutput(outShape, 'float32');
  const { rows, cols } = plan;
  const vectors = cols >> 2;
  backend.typedArrayFromHeap(out).fill(0);
  simd(offsetOf(backend, x), offsetOf(backend, out), rows, vectors, cols * 4);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let c = vectors * 4; c < cols; c++) {
    let acc = 0;
    for (let r = 0, i = c; r < rows; r++, i += cols) acc = Math.fround(acc + src[i]);
    dst[c] = acc;
  }
  if (mean) for (let c = 0; c < cols; c++) dst[c] /= rows;
  return out;
}

const sum = (args: KernelArgs): Info => columnReduce(args, false) ?? stockKernel('Sum')(args);
const mean = (args: KernelArgs): Info => columnReduce(args, true) ?? stockKernel('Mean')(args);

export function registerSum(): void {
  replaceKernel('Sum', () => sum);
  replaceKernel('Mean', () => mean);
}

export function restoreSum(): void {
  restoreKernel('Sum');
  restoreKernel('Mean');
}
