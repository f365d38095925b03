// Slice, Unpack and SplitV. The stock wasm Slice first copies its whole input out of the wasm
// heap (backend.readSync) and then copies the slice; Unpack and SplitV call it once per output,
// so unstacking attention's [3, batch, heads, tokens, dim] q|k|v copies the whole tensor three
// times over, and AdamW's split of its flat update into ~60 weights copied it ~60 times (38 ms).
// These kernels read the input in place and copy only the sliced elements, one contiguous run at
// a time.
import { type Info, type KernelArgs, type WasmBackend, replaceKernel, restoreKernel, sizeOf, stockKernel } from './registry.js';
import * as tf from '@tensorflow/tfjs';

type Arr = Float32Array | Int32Array | Uint8Array;

/** Copies the box [begin, begin+size) of a row-major `shape` array into `out`, run by run. */
export function copyBox(src: Arr, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Arr): void {
  const r = shape.length;
  if (r === 0) {
    out[0] = src[0];
    return;
  }
  const strides = new Array<number>(r);
  strides[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  // The innermost contiguous run: trailing axes taken whole, plus the next one out.
  let j = r - 1;
  let run = size[j];
  while (j > 0 && size[j] === shape[j]) {
    j--;
    run *= size[j];
  }
  let base = 0;
  for (let i = 0; i < r; i++) base += begin[i] * strides[i];
  const outer = sizeOf(size.slice(0, j));
  const idx = new Array<number>(j).fill(0);
  let o = 0;
  let off = base;
  for (let n = 0; n < outer; n++) {
    if (run > 16) out.set(src.subarray(off, off + run), o);
    else for (let e = 0; e < run; e++) out[o + e] = src[off + e];
    o += run;
    // Odometer over the outer axes 0..j-1.
    for (let a = j - 1; a >= 0; a--) {
      idx[a]++;
      off += strides[a];
      if (idx[a] < size[a]) break;
      off -= idx[a] * strides[a];
      idx[a] = 0;
    }
  }
}

function sliceInfo(backend: WasmBackend, x: Info, begin: number[], size: number[]): Info {
  const out = backend.makeOutput(size, x.dtype);
  if (sizeOf(size) > 0) copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

function slice(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  if (x.dtype === 'string' || x.dtype === 'complex64') return stockKernel('Slice')(args);
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin, attrs.size);
  return sliceInfo(backend, x, begin, size);
}

function unpack(args: KernelArgs): Info[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.value!;
  if (x.dtype === 'string' || x.dtype === 'complex64') return stockKernel('Unpack')(args) as unknown as Info[];
  const rank = x.shape.length;
  const axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
  const outShape = x.shape.filter((_, i) => i !== axis);
  const size = x.shape.slice();
  size[axis] = 1;
  const begin = new Array<number>(rank).fill(0);
  const outs: Info[] = [];
  for (let i = 0; i < x.shape[axis]; i++) {
    begin[axis] = i;
    const o = sliceInfo(backend, x, begin, size);
    o.shape = outShape.slice();
    backend.dataIdMap.get(o.dataId).shape = o.shape;
    outs.push(o);
  }
  return outs;
}

function splitV(args: KernelArgs): Info[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  if (x.dtype === 'string' || x.dtype === 'complex64') return stockKernel('SplitV')(args) as unknown as Info[];
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceInfo(backend, x, begin, size);
    begin[axis] += s;
    return out;
  });
}

export function registerSlice(): void {
  replaceKernel('Slice', () => slice);
  replaceKernel('Unpack', () => unpack as unknown as (a: KernelArgs) => Info);
  replaceKernel('SplitV', () => splitV as unknown as (a: KernelArgs) => Info);
}

export function restoreSlice(): void {
  restoreKernel('Slice');
  restoreKernel('Unpack');
  restoreKernel('SplitV');
}
