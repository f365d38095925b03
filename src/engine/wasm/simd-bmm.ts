// A batched matmul for many small matrices (attention's [batch·heads, tokens, tokens] products),
// where tfjs-backend-wasm has only a scalar loop (~1 GFLOP/s) and XNNPACK has no batched entry
// point. The kernel is a hand-assembled WebAssembly SIMD function (below, ~100 instructions) that
// imports tfjs-backend-wasm's own memory, so it reads and writes tensors in place:
//   out[b] = A[b] · B[b],  A[b]: [M, K], B[b]: [K, N], all row-major float32,
// with a batch stride of 0 for a broadcast operand. Each output row is computed 16 columns at a
// time in four f32x4 accumulators (then 4 at a time, then scalars), two rows per pass so that
// each B load feeds two multiply-adds. No packing, so unlike XNNPACK it costs nothing per new
// weight tensor, and a transposed A is read in place through its strides. With `accumulate` set
// it adds to `out` instead of overwriting it, so that a long K can be done in slices that stay in
// cache (see matmul.ts).

import { F32, I32, V128, forLoop, kernelLoader, moduleWithFunction, op } from './wasm-writer.js';

// Parameters: a, b, out (byte offsets), batch, M, K, N, aStride, bStride (bytes per batch item),
// aRow, aCol (bytes between A[m, k] and A[m+1, k], and A[m, k+1]: a transposed A needs no copy),
// accumulate (0: out = A·B, 1: out += A·B).
const P = { A: 0, B: 1, OUT: 2, BATCH: 3, M: 4, K: 5, N: 6, ASTRIDE: 7, BSTRIDE: 8, AROWB: 9, ACOLB: 10, ACCUMULATE: 11 };
const PARAMS = 12;
let nextLocal = PARAMS;
const i32Local = () => nextLocal++;
const L = {
  BI: i32Local(), MI: i32Local(), NI: i32Local(), KI: i32Local(), BP: i32Local(), NB: i32Local(),
  AB: i32Local(), BB: i32Local(), OB: i32Local(), AK: i32Local(),
  AROW: [i32Local(), i32Local()], OROW: [i32Local(), i32Local()],
};
const I32_LOCALS = nextLocal - PARAMS;
const V = { ACC: Array.from({ length: 8 }, () => nextLocal++), AV: [nextLocal++, nextLocal++], BV: nextLocal++ };
const V128_LOCALS = 11;
const S = { ACC: [nextLocal++, nextLocal++] };
const F32_LOCALS = 2;

/** Address of A[row r, k = KI]: AROW_r + KI·aCol (AK holds KI·aCol). */
const aElem = (r: number) => [...op.get(L.AROW[r]), ...op.get(L.AK), ...op.add, ...op.f32load()];
const stepK = [...op.get(L.BP), ...op.get(L.NB), ...op.add, ...op.set(L.BP), ...op.get(L.AK), ...op.get(P.ACOLB), ...op.add, ...op.set(L.AK)];
const outAddr = (r: number) => [...op.get(L.OROW[r]), ...op.get(L.NI), ...op.i32(4), ...op.mul, ...op.add];
const setBp = [...op.get(L.BB), ...op.get(L.NI), ...op.i32(4), ...op.mul, ...op.add, ...op.set(L.BP), ...op.i32(0), ...op.set(L.AK)];

/** Columns [NI, NI + 4·lanes) of `rows` output rows at a time, while they fit. */
function vectorColumns(rows: number, lanes: number): number[] {
  const acc = (r: number, j: number) => V.ACC[r * lanes + j];
  const width = 4 * lanes;
  const inner = [
    ...Array.from({ length: rows }, (_, r) => [...aElem(r), ...op.splat, ...op.set(V.AV[r])]).flat(),
    ...Array.from({ length: lanes }, (_, j) => [
      ...op.get(L.BP), ...op.vload(16 * j), ...op.set(V.BV),
      ...Array.from({ length: rows }, (_, r) => [...op.get(acc(r, j)), ...op.get(V.AV[r]), ...op.get(V.BV), ...op.vmul, ...op.vadd, ...op.set(acc(r, j))]).flat(),
    ]).flat(),
    ...stepK,
  ];
  const all = Array.from({ length: rows * lanes }, (_, i) => V.ACC[i]);
  return [
    ...op.block, ...op.loop,
    ...op.get(L.NI), ...op.i32(width), ...op.add, ...op.get(P.N), ...op.gtu, ...op.brIf(1),
    ...op.get(P.ACCUMULATE), ...op.if,
    ...Array.from({ length: rows }, (_, r) => Array.from({ length: lanes }, (_, j) => [...outAddr(r), ...op.vload(16 * j), ...op.set(acc(r, j))]).flat()).flat(),
    ...op.else,
    ...all.flatMap((a) => [...op.vzero, ...op.set(a)]),
    ...op.end,
    ...setBp,
    ...forLoop(L.KI, op.get(P.K), inner),
    ...Array.from({ length: rows }, (_, r) => Array.from({ length: lanes }, (_, j) => [...outAddr(r), ...op.get(acc(r, j)), ...op.vstore(16 * j)]).flat()).flat(),
    ...op.get(L.NI), ...op.i32(width), ...op.add, ...op.set(L.NI),
    ...op.br(0), ...op.end, ...op.end,
  ];
}

/** The last N mod 4 columns, one at a time. */
function scalarColumns(rows: number): number[] {
  const inner = [
    ...Array.from({ length: rows }, (_, r) => [
      ...op.get(S.ACC[r]), ...aElem(r), ...op.get(L.BP), ...op.f32load(), ...op.f32mul, ...op.f32add, ...op.set(S.ACC[r]),
    ]).flat(),
    ...stepK,
  ];
  return [
    ...op.block, ...op.loop,
    ...op.get(L.NI), ...op.get(P.N), ...op.geu, ...op.brIf(1),
    ...setBp,
    ...op.get(P.ACCUMULATE), ...op.if,
    ...Array.from({ length: rows }, (_, r) => [...outAddr(r), ...op.f32load(), ...op.set(S.ACC[r])]).flat(),
    ...op.else,
    ...Array.from({ length: rows }, (_, r) => [...op.f32zero, ...op.set(S.ACC[r])]).flat(),
    ...op.end,
    ...forLoop(L.KI, op.get(P.K), inner),
    ...Array.from({ length: rows }, (_, r) => [...outAddr(r), ...op.get(S.ACC[r]), ...op.f32store()]).flat(),
    ...op.get(L.NI), ...op.i32(1), ...op.add, ...op.set(L.NI),
    ...op.br(0), ...op.end, ...op.end,
  ];
}

/** Output rows MI .. MI+rows-1: set their row addresses, then all columns. */
function rowsBody(rows: number): number[] {
  return [
    ...Array.from({ length: rows }, (_, r) => [
      // AROW_r = AB + (MI + r)·aRow; OROW_r = OB + (MI + r)·N·4
      ...op.get(L.AB), ...op.get(L.MI), ...op.i32(r), ...op.add, ...op.get(P.AROWB), ...op.mul, ...op.add, ...op.set(L.AROW[r]),
      ...op.get(L.OB), ...op.get(L.MI), ...op.i32(r), ...op.add, ...op.get(L.NB), ...op.mul, ...op.add, ...op.set(L.OROW[r]),
    ]).flat(),
    ...op.i32(0), ...op.set(L.NI),
    ...vectorColumns(rows, 4),
    ...vectorColumns(rows, 1),
    ...scalarColumns(rows),
  ];
}

export function moduleBytes(): Uint8Array {
  const batchBody = [
    ...op.get(P.A), ...op.get(L.BI), ...op.get(P.ASTRIDE), ...op.mul, ...op.add, ...op.set(L.AB),
    ...op.get(P.B), ...op.get(L.BI), ...op.get(P.BSTRIDE), ...op.mul, ...op.add, ...op.set(L.BB),
    ...op.get(P.OUT), ...op.get(L.BI), ...op.get(P.M), ...op.get(L.NB), ...op.mul, ...op.mul, ...op.add, ...op.set(L.OB),
    // Pairs of rows, then the odd one.
    ...op.i32(0), ...op.set(L.MI),
    ...op.block, ...op.loop,
    ...op.get(L.MI), ...op.i32(2), ...op.add, ...op.get(P.M), ...op.gtu, ...op.brIf(1),
    ...rowsBody(2),
    ...op.get(L.MI), ...op.i32(2), ...op.add, ...op.set(L.MI),
    ...op.br(0), ...op.end, ...op.end,
    ...op.block,
    ...op.get(L.MI), ...op.get(P.M), ...op.geu, ...op.brIf(0),
    ...rowsBody(1),
    ...op.end,
  ];
  const body = [
    ...op.get(P.N), ...op.i32(4), ...op.mul, ...op.set(L.NB),
    ...forLoop(L.BI, op.get(P.BATCH), batchBody),
    ...op.end,
  ];
  return moduleWithFunction('bmm', PARAMS, [[I32_LOCALS, I32], [V128_LOCALS, V128], [F32_LOCALS, F32]], body);
}

export type BmmFn = (a: number, b: number, out: number, batch: number, m: number, k: number, n: number, aStride: number, bStride: number, aRow: number, aCol: number, accumulate: number) => void;

/** The kernel bound to `memory` (tfjs-backend-wasm's), or null where WebAssembly SIMD is unavailable. */
export const simdBmm = kernelLoader<BmmFn>(moduleBytes, 'bmm');
