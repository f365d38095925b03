// BatchMatMul and _FusedMatMul: tfjs-backend-wasm hands a matmul to XNNPACK only when both
// operands have batch size 1 and neither is transposed; everything else (the transposed matmuls
// of every Dense layer's backward pass, [B,M,K]x[K,N] on 3-D activations, attention's batched
// products) runs in a scalar loop at ~1 GFLOP/s.
// - Plain products (no transpose, unbatched right operand: every forward pass) go to XNNPACK,
//   a batched left operand folded into rows of one 2-D matmul. XNNPACK caches its packed copy of
//   the weights, so inference pays the packing once.
// - Transposed and batched BatchMatMuls go to a WebAssembly SIMD kernel (simd-bmm.ts) that reads
//   a transposed left operand in place and needs no packing (the backward pass's operands are new
//   every step); a transposed right operand is transposed explicitly first.
// - Transposed _FusedMatMuls are transposed explicitly and go to XNNPACK (bias/activation fused).
// What is left (batch axes broadcast inside a batch) goes to the stock kernel. The route depends
// only on shapes and attributes, so a given call always gives the same bits.
import * as tf from '@tensorflow/tfjs';
import {
  type Info,
  type KernelArgs,
  type WasmBackend,
  memoryOf,
  offsetOf,
  replaceKernel,
  restoreKernel,
  sizeOf,
  stockKernel,
  syncRecordShape,
  view,
  withShape,
  release,
} from './registry.js';
import { simdBmm } from './simd-bmm.js';
import { transposeInfo } from './transpose.js';

interface Dims {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

function matmulDims(a: Info, b: Info, transposeA: boolean, transposeB: boolean): Dims | null {
  const ar = a.shape.length;
  const br = b.shape.length;
  if (ar < 2 || br < 2) return null;
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (k !== kb || m * k * n === 0) return null;
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  return { batchA: sizeOf(a.shape.slice(0, -2)), batchB: sizeOf(b.shape.slice(0, -2)), m, k, n, outShape: [...outer, m, n] };
}

/** a as [batchA, m, k] laid out row-major (transposed explicitly when needed), viewed as [1, batchA*m, k]. */
function leftOperand(backend: WasmBackend, a: Info, d: Dims, transposeA: boolean): Info {
  if (!transposeA) return view(backend, a, [1, d.batchA * d.m, d.k]);
  const a3 = view(backend, a, [d.batchA, d.k, d.m]);
  const t = transposeInfo(backend, a3, [0, 2, 1]);
  release(backend, a3);
  const out = view(backend, t, [1, d.batchA * d.m, d.k]);
  release(backend, t);
  return out;
}

/** An unbatched b as [1, k, n] (transposed explicitly when needed). */
function rightOperand(backend: WasmBackend, b: Info, d: Dims, transposeB: boolean): Info {
  if (!transposeB) return view(backend, b, [1, d.k, d.n]);
  const b2 = view(backend, b, [d.n, d.k]);
  const t = transposeInfo(backend, b2, [1, 0]);
  release(backend, b2);
  const out = view(backend, t, [1, d.k, d.n]);
  release(backend, t);
  return out;
}

/**
 * K per kernel call. Measured on the 2-core EPYC for weight gradients [4096, 64]ᵀ·[4096, 256]
 * and the like: 16 GFLOP/s in one call, 25-33 GFLOP/s in slices of 32 to 512 (128 in the middle).
 */
const K_SLICE = 128;

/**
 * bmm over K in slices of K_SLICE, accumulating into `out` after the first: each pass over the
 * output tiles then reads only a slice of A and B, which stays in cache (a weight gradient xᵀ·dy
 * has K = batch·tokens: whole operands of megabytes). aCol is A's byte step along K; B is
 * row-major [K, n] per batch item.
 */
function slicedBmm(
  bmm: NonNullable<ReturnType<typeof simdBmm>>,
  aOff: number,
  bOff: number,
  outOff: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  aStride: number,
  bStride: number,
  aRow: number,
  aCol: number,
): void {
  for (let k0 = 0; k0 < k; k0 += K_SLICE) {
    bmm(aOff + k0 * aCol, bOff + k0 * n * 4, outOff, batch, m, Math.min(K_SLICE, k - k0), n, aStride, bStride, aRow, aCol, k0 > 0 ? 1 : 0);
  }
}

/**
 * The product on the SIMD kernel, or null where it does not apply (no SIMD, or batch axes that
 * broadcast other than "equal, or one side unbatched"). A transposed A is read in place; a
 * transposed B is transposed explicitly (the kernel loads B rows as vectors).
 */
function simdMatMul(backend: WasmBackend, a: Info, b: Info, d: Dims, transposeA: boolean, transposeB: boolean): Info | null {
  const outBatch = sizeOf(d.outShape.slice(0, -2));
  if ((d.batchA !== outBatch && d.batchA !== 1) || (d.batchB !== outBatch && d.batchB !== 1)) return null;
  const bmm = simdBmm(memoryOf(backend));
  if (!bmm) return null;
  let b2 = b;
  if (transposeB) {
    const b3 = view(backend, b, [d.batchB, d.n, d.k]);
    b2 = transposeInfo(backend, b3, [0, 2, 1]);
    release(backend, b3);
  }
  const out = backend.makeOutput(d.outShape, 'float32');
  const [aOff, bOff, outOff] = [offsetOf(backend, a), offsetOf(backend, b2), offsetOf(backend, out)];
  const aRow = transposeA ? 4 : d.k * 4;
  const aCol = transposeA ? d.m * 4 : 4;
  const folded = d.batchB === 1 && d.batchA > 1 && !transposeA; // [batchA·m, k] x [k, n] in one go: more rows per pass over B
  const [batch, m] = folded ? [1, d.batchA * d.m] : [outBatch, d.m];
  const aStride = !folded && d.batchA > 1 ? d.m * d.k * 4 : 0;
  const bStride = !folded && d.batchB > 1 ? d.k * d.n * 4 : 0;
  slicedBmm(bmm, aOff, bOff, outOff, batch, m, d.k, d.n, aStride, bStride, aRow, aCol);
  if (b2 !== b) release(backend, b2);
  return out;
}

/**
 * Rows of the left operand (batch folded in) for which fewRowsMatMul is used: a Dense layer in
 * training at batch 32. Below 8 the transposed product would have fewer than 8 columns (scalar
 * tails); above 96 XNNPACK and the plain SIMD route are as fast (measured at 32-256 rows against
 * [784, 512] and [512, 512] weights).
 */
const SMALL_ROWS = [8, 96] as const;

/**
 * A·op(B) for a few rows of A as (op(B)ᵀ·Aᵀ)ᵀ. In training every step brings new weights, so
 * XNNPACK packs B on every call (measured: 2.2 ms for [32,784]x[784,512], of which ~1.2 ms is
 * packing) and the SIMD kernel with a few rows streams all of B once per pair of rows. Swapped,
 * B is the left operand (read in place, transposed or not) and only the small A and the small
 * result are transposed: 2.1x faster forward and 1.3-2.2x for the input gradient dy·Wᵀ at 32 rows.
 */
function fewRowsMatMul(backend: WasmBackend, a: Info, b: Info, d: Dims, transposeB: boolean): Info | null {
  const bmm = simdBmm(memoryOf(backend));
  if (!bmm) return null;
  const rows = d.batchA * d.m;
  const a2 = view(backend, a, [rows, d.k]);
  const at = transposeInfo(backend, a2, [1, 0]); // [k, rows]
  const outT = backend.makeOutput([d.n, rows], 'float32');
  // op(B)ᵀ is [n, k]: B itself when transposeB, else B read transposed in place.
  const [aRow, aCol] = transposeB ? [d.k * 4, 4] : [4, d.n * 4];
  const [bOff, atOff, outOff] = [offsetOf(backend, b), offsetOf(backend, at), offsetOf(backend, outT)];
  slicedBmm(bmm, bOff, atOff, outOff, 1, d.n, d.k, rows, 0, 0, aRow, aCol);
  const out = transposeInfo(backend, outT, [1, 0]);
  release(backend, a2, at, outT);
  return withShape(backend, out, d.outShape);
}

function batchMatMul(args: KernelArgs): Info {
  const stock = stockKernel('BatchMatMul');
  const { inputs, backend, attrs } = args;
  const a = inputs.a!;
  const b = inputs.b!;
  const transposeA = !!attrs.transposeA;
  const transposeB = !!attrs.transposeB;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
  const d = matmulDims(a, b, transposeA, transposeB);
  if (!d) return stock(args);
  // A plain product ([.., m, k] x [k, n], the forward pass) stays on XNNPACK, which caches its
  // packed weights (and gives the same bits as the stock kernel); the transposed products of the
  // backward pass and batched products go to the SIMD kernel, which needs no packing; so do
  // products of a few rows against an unbatched matrix (see fewRowsMatMul). The choice depends
  // only on the shapes, so the same call always gives the same result.
  const plain = !transposeA && !transposeB && d.batchB === 1;
  const rows = d.batchA * d.m;
  if (d.batchB === 1 && !transposeA && rows >= SMALL_ROWS[0] && rows <= SMALL_ROWS[1]) {
    const out = fewRowsMatMul(backend, a, b, d, transposeB);
    if (out) return out;
  }
  if (!plain) {
    const out = simdMatMul(backend, a, b, d, transposeA, transposeB);
    if (out) return out;
  }
  if (d.batchB === 1) {
    // One 2-D matmul on XNNPACK: [batchA*m, k] x [k, n].
    const a2 = leftOperand(backend, a, d, transposeA);
    const b2 = rightOperand(backend, b, d, transposeB);
    const out = stock({ inputs: { a: a2, b: b2 }, backend, attrs: { transposeA: false, transposeB: false } });
    release(backend, a2, b2);
    return withShape(backend, out, d.outShape);
  }
  if (d.batchA === 1) {
    // out[i] = a · b[i]: one 2-D matmul a[m,k] x B'[k, batchB*n], B' = b arranged as [k, batchB, n].
    const a2 = leftOperand(backend, a, d, transposeA);
    const b3 = view(backend, b, transposeB ? [d.batchB, d.n, d.k] : [d.batchB, d.k, d.n]);
    const bt = transposeInfo(backend, b3, transposeB ? [2, 0, 1] : [1, 0, 2]);
    const b2 = view(backend, bt, [1, d.k, d.batchB * d.n]);
    const prod = stock({ inputs: { a: a2, b: b2 }, backend, attrs: { transposeA: false, transposeB: false } });
    const p3 = view(backend, prod, [d.m, d.batchB, d.n]);
    const out = transposeInfo(backend, p3, [1, 0, 2]);
    release(backend, a2, b3, bt, b2, prod, p3);
    return withShape(backend, out, d.outShape);
  }
  return simdMatMul(backend, a, b, d, transposeA, transposeB) ?? stock(args);
}

function fusedMatMul(args: KernelArgs): Info {
  const stock = stockKernel('_FusedMatMul');
  const { inputs, backend, attrs } = args;
  const { a, b, bias, preluActivationWeights } = inputs as Record<string, Info>;
  const transposeA = !!attrs.transposeA;
  const transposeB = !!attrs.transposeB;
  syncRecordShape(backend, bias);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) return stock(args);
  const d = matmulDims(a, b, transposeA, transposeB);
  if (!d || d.batchB !== 1) return stock(args);
  if (d.batchA === 1 && !transposeA && !transposeB) return stock(args); // already the fast path
  // Folding the batch into rows keeps a per-channel PReLU alpha's meaning, not a per-element one.
  // (The stock kernel's batched path also gets bias + PReLU wrong; folding avoids it.)
  if (preluActivationWeights && d.batchA > 1 && sizeOf(preluActivationWeights.shape) !== d.n) return stock(args);
  const a2 = leftOperand(backend, a, d, transposeA);
  const b2 = rightOperand(backend, b, d, transposeB);
  const out = stock({
    inputs: { a: a2, b: b2, ...(bias ? { bias } : {}), ...(preluActivationWeights ? { preluActivationWeights } : {}) },
    backend,
    attrs: { ...attrs, transposeA: false, transposeB: false },
  });
  release(backend, a2, b2);
  return withShape(backend, out, d.outShape);
}

export function registerMatMul(): void {
  replaceKernel('BatchMatMul', () => batchMatMul);
  replaceKernel('_FusedMatMul', () => fusedMatMul);
}

export function restoreMatMul(): void {
  restoreKernel('BatchMatMul');
  restoreKernel('_FusedMatMul');
}
