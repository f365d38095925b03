// A batched matmul for many small matrices (attention's [batch·heads, tokens, tokens] products),
// where tfjs-backend-wasm has only a scalar loop (~1 GFLOP/s) and XNNPACK has no batched entry
// point: the WebAssembly SIMD function of wat/bmm.wat, which imports tfjs-backend-wasm's own
// memory, so it reads and writes tensors in place:
//   out[b] = A[b] · B[b],  A[b]: [M, K], B[b]: [K, N], all row-major float32,
// with a batch stride of 0 for a broadcast operand, and a transposed A read in place through its
// strides. With `accumulate` set it adds to `out` instead of overwriting it, so that a long K can
// be done in slices that stay in cache (see matmul.ts).
import { kernel } from './modules.js';

/**
 * a, b, out: byte offsets; aStride, bStride: bytes per batch item (0: broadcast); aRow, aCol:
 * bytes between A[m, k] and A[m+1, k], and A[m, k+1]; accumulate: 0 (out = A·B) or 1 (out += A·B).
 */
export type BmmFn = (
  a: number,
  b: number,
  out: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  aStride: number,
  bStride: number,
  aRow: number,
  aCol: number,
  accumulate: number,
) => void;

/** The kernel bound to `memory` (tfjs-backend-wasm's), or null where WebAssembly SIMD is unavailable. */
export const simdBmm = kernel<BmmFn>('bmm', 'bmm');
