// Tile: the stock wasm kernel walks every output element through a generic index computation
// (~50x slower than a broadcast add of the same size), and tfjs-layers' LayerNormalization tiles
// its mean, variance, gamma and beta to the full activation shape on every call. This kernel
// copies instead: it writes x's rows once and replicates each finished block with copyWithin
// (memcpy on the wasm heap), doubling the copied span each time.
import { type Info, type KernelArgs, replaceKernel, restoreKernel, stockKernel, sizeOf, withShape } from './registry.js';

/**
 * Merges axes so that tiling the simplified shape lays out memory identically: drops axes with
 * x = 1 and rep = 1; folds an axis into the next one when that one is not repeated (the block is
 * contiguous) or when the axis itself has size 1 (its repeats multiply the next one's).
 */
export function simplifyTile(shape: readonly number[], reps: readonly number[]): { x: number[]; reps: number[] } {
  const xs: number[] = [];
  const rs: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const x = shape[i];
    const r = reps[i];
    if (x === 1 && r === 1) continue;
    const j = xs.length - 1;
    if (j >= 0 && r === 1) {
      xs[j] *= x; // [.., a] reps [.., s] then [b] reps [1]: blocks of a*b repeated s times
    } else if (j >= 0 && xs[j] === 1) {
      xs[j] = x; // [1] reps [s] then [b] reps [r]: b repeated r*s times
      rs[j] *= r;
    } else {
      xs.push(x);
      rs.push(r);
    }
  }
  return { x: xs, reps: rs };
}

type Arr = Float32Array | Int32Array | Uint8Array;

/** Fills `out` (the tiled shape, flat) from `src` (shape xs). */
export function tileInto(src: Arr, out: Arr, xs: number[], rs: number[]): void {
  const n = xs.length;
  if (n === 0) {
    out[0] = src[0];
    return;
  }
  const outStride = new Array<number>(n);
  const xStride = new Array<number>(n);
  outStride[n - 1] = 1;
  xStride[n - 1] = 1;
  for (let k = n - 2; k >= 0; k--) {
    outStride[k] = outStride[k + 1] * xs[k + 1] * rs[k + 1];
    xStride[k] = xStride[k + 1] * xs[k + 1];
  }
  const fill = (k: number, xOff: number, oOff: number): void => {
    if (k === n - 1 && xs[k] === 1) {
      out.fill(src[xOff], oOff, oOff + rs[k]); // one value per row, broadcast along the last axis
      return;
    }
    if (k === n - 1 && xs[k] * rs[k] <= 64) {
      // Short rows: a plain loop beats typed-array calls.
      const len = xs[k];
      for (let r = 0, o = oOff; r < rs[k]; r++) for (let e = 0; e < len; e++) out[o++] = src[xOff + e];
      return;
    }
    if (k === n - 1) {
      out.set(src.subarray(xOff, xOff + xs[k]), oOff);
    } else {
      for (let j = 0; j < xs[k]; j++) fill(k + 1, xOff + j * xStride[k], oOff + j * outStride[k]);
    }
    const block = xs[k] * outStride[k];
    for (let have = 1; have < rs[k];) {
      const c = Math.min(have, rs[k] - have);
      out.copyWithin(oOff + have * block, oOff, oOff + c * block);
      have += c;
    }
  };
  fill(0, 0, 0);
}

function tile(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const reps = Array.from(attrs.reps as number[]);
  if (x.dtype === 'string' || reps.length !== x.shape.length) return stockKernel('Tile')(args);
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (sizeOf(outShape) === 0) return out;
  const s = simplifyTile(x.shape, reps);
  // Views are taken after makeOutput: an allocation can grow (and move) the wasm heap.
  tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), s.x, s.reps);
  return withShape(backend, out, outShape);
}

export function registerTile(): void {
  replaceKernel('Tile', () => tile);
}

export function restoreTile(): void {
  restoreKernel('Tile');
}
