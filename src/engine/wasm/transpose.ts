// Transpose: tfjs-backend-wasm has fast 2-D/3-D/4-D transposes but a generic N-D loop that is
// ~300x slower (hit by attention's [B,T,3,H,d] -> [3,B,H,T,d]). This kernel first simplifies the
// permutation (drops size-1 axes, merges axes that stay adjacent). When the last axis stays last
// (a row of floats moves as a whole) a SIMD row copy does it in one pass (block-transpose.ts);
// otherwise, when more than 4 axes are left, it is a sequence of moves of one axis each, every
// one a <= 4-D transpose.
import { blockPlan, runBlockTranspose } from './block-transpose.js';
import {
  type Info,
  type KernelArgs,
  type WasmBackend,
  memoryOf,
  offsetOf,
  replaceKernel,
  restoreKernel,
  stockKernel,
  view,
  withShape,
  release,
} from './registry.js';

/** Drops size-1 axes and merges runs of input axes that stay adjacent and in order under `perm`. */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((d) => d !== 1);
  const renumber: number[] = [];
  let next = 0;
  for (let i = 0; i < shape.length; i++) renumber[i] = keep[i] ? next++ : -1;
  const s = shape.filter((_, i) => keep[i]);
  const p = perm.filter((a) => keep[a]).map((a) => renumber[a]);
  // Group consecutive output positions whose input axes are consecutive.
  const groups: number[][] = [];
  for (const a of p) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === a) last.push(a);
    else groups.push([a]);
  }
  // Groups, in input order, become the new axes.
  const byInput = [...groups].sort((g, h) => g[0] - h[0]);
  const newShape = byInput.map((g) => g.reduce((acc, a) => acc * s[a], 1));
  const newPerm = groups.map((g) => byInput.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

const isIdentity = (perm: readonly number[]) => perm.every((a, i) => a === i);

/** The permutation steps (each moving one axis) that realise `perm`; each simplifies to <= 4 axes. */
export function permutationMoves(perm: readonly number[]): number[][] {
  const n = perm.length;
  const cur = Array.from({ length: n }, (_, i) => i);
  const moves: number[][] = [];
  for (let t = 0; t < n; t++) {
    const p = cur.indexOf(perm[t]);
    if (p === t) continue;
    // Move the axis at position p to position t: [0..t-1, p, t..p-1, p+1..n-1].
    const step = [
      ...Array.from({ length: t }, (_, i) => i),
      p,
      ...Array.from({ length: p - t }, (_, i) => t + i),
      ...Array.from({ length: n - p - 1 }, (_, i) => p + 1 + i),
    ];
    moves.push(step);
    const moved = cur.splice(p, 1)[0];
    cur.splice(t, 0, moved);
  }
  return moves;
}

function transposeOnce(backend: WasmBackend, x: Info, perm: number[]): Info {
  const outShape = perm.map((a) => x.shape[a]);
  const simple = simplifyPermutation(x.shape, perm);
  if (isIdentity(simple.perm)) return view(backend, x, outShape);
  if (simple.perm.length > 4) throw new Error(`transposeOnce: ${simple.perm.length}-D after simplification`);
  const xs = { dataId: x.dataId, shape: simple.shape, dtype: x.dtype };
  const out = stockKernel('Transpose')({ inputs: { x: xs }, backend, attrs: { perm: simple.perm } });
  return withShape(backend, out, outShape);
}

/** Transposes x by perm on the wasm backend, never through the generic N-D loop when avoidable. */
export function transposeInfo(backend: WasmBackend, x: Info, perm: number[]): Info {
  const simple = simplifyPermutation(x.shape, perm);
  const plan = x.dtype === 'float32' && !isIdentity(simple.perm) ? blockPlan(simple.shape, simple.perm) : null;
  if (plan) {
    const outShape = perm.map((a) => x.shape[a]);
    const out = backend.makeOutput(outShape, 'float32');
    if (runBlockTranspose(memoryOf(backend), offsetOf(backend, x), offsetOf(backend, out), plan)) return out;
    backend.disposeData(out.dataId);
  }
  if (simple.perm.length <= 4 || x.dtype === 'string') {
    if (simple.perm.length > 4) return stockKernel('Transpose')({ inputs: { x }, backend, attrs: { perm } });
    return transposeOnce(backend, x, perm);
  }
  // Work on the simplified tensor, one axis move at a time.
  let cur: Info = view(backend, x, simple.shape);
  for (const step of permutationMoves(simple.perm)) {
    const next = transposeOnce(backend, cur, step);
    release(backend, cur);
    cur = next;
  }
  const outShape = perm.map((a) => x.shape[a]);
  const out = view(backend, cur, outShape);
  release(backend, cur);
  return out;
}

function transpose({ inputs, backend, attrs }: KernelArgs): Info {
  return transposeInfo(backend, inputs.x!, Array.from(attrs.perm as number[]));
}

export function registerTranspose(): void {
  replaceKernel('Transpose', () => transpose);
}

export function restoreTranspose(): void {
  restoreKernel('Transpose');
}
