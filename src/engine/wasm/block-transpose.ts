// Transposes that keep the innermost axis in place (attention's [B,T,3,H,d] → [3,B,H,T,d] and
// [B,T,H,d] → [B,H,T,d]) move whole rows of d floats. The stock 4-D transpose moves them one
// float at a time, and a 5-D one took two such passes (transpose.ts); this hand-assembled
// WebAssembly SIMD kernel copies each row as vectors, in one pass, writing the output in order:
//   for i0, i1, i2, i3 (the output's outer axes): out ← x[i0·s0 + i1·s1 + i2·s2 + i3·s3 .. + d]
import { I32, forLoop, kernelLoader, moduleWithFunction, op } from './wasm-writer.js';

// Parameters: x, out, n0..n3 (outer sizes, output order), s0..s3 (their byte strides in x), runVectors.
const P = { X: 0, OUT: 1, N: [2, 3, 4, 5], S: [6, 7, 8, 9], RUN: 10 };
const L = { I: [11, 12, 13, 14], SRC: [15, 16, 17, 18], O: 19, V: 20 };

function moduleBytes(): Uint8Array {
  // Innermost: copy RUN vectors from SRC3 to O.
  let body = forLoop(L.V, op.get(P.RUN), [
    ...op.get(L.O), ...op.get(L.SRC[3]), ...op.get(L.V), ...op.i32(16), ...op.mul, ...op.add, ...op.vload(), ...op.vstore(),
    ...op.get(L.O), ...op.i32(16), ...op.add, ...op.set(L.O),
  ]);
  // Outer loops, innermost first: SRC_k = SRC_{k-1} + i_k·s_k (SRC_{-1} = x).
  for (let k = 3; k >= 0; k--) {
    const base = k === 0 ? op.get(P.X) : op.get(L.SRC[k - 1]);
    body = forLoop(L.I[k], op.get(P.N[k]), [...base, ...op.get(L.I[k]), ...op.get(P.S[k]), ...op.mul, ...op.add, ...op.set(L.SRC[k]), ...body]);
  }
  return moduleWithFunction('blockTranspose', 11, [[10, I32]], [...op.get(P.OUT), ...op.set(L.O), ...body, ...op.end]);
}

type Fn = (x: number, out: number, n0: number, n1: number, n2: number, n3: number, s0: number, s1: number, s2: number, s3: number, runVectors: number) => void;
const simdBlockTranspose = kernelLoader<Fn>(moduleBytes, 'blockTranspose');

/**
 * The kernel's arguments for a simplified permutation, or null when it does not apply: the last
 * axis must stay last with a length that is a multiple of 4, and at most 4 axes come before it.
 */
export function blockPlan(shape: readonly number[], perm: readonly number[]): { n: number[]; strides: number[]; runVectors: number } | null {
  const r = shape.length;
  if (r < 2 || perm[r - 1] !== r - 1 || shape[r - 1] % 4 !== 0 || r - 1 > 4) return null;
  const elemStrides = new Array<number>(r);
  elemStrides[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) elemStrides[i] = elemStrides[i + 1] * shape[i + 1];
  const outer = perm.slice(0, r - 1);
  const pad = 4 - outer.length;
  return {
    n: [...new Array<number>(pad).fill(1), ...outer.map((a) => shape[a])],
    strides: [...new Array<number>(pad).fill(0), ...outer.map((a) => elemStrides[a] * 4)],
    runVectors: shape[r - 1] / 4,
  };
}

/** Runs the plan on tfjs-backend-wasm's heap; false where WebAssembly SIMD is missing. */
export function runBlockTranspose(memory: WebAssembly.Memory, x: number, out: number, plan: NonNullable<ReturnType<typeof blockPlan>>): boolean {
  const fn = simdBlockTranspose(memory);
  if (!fn) return false;
  const [n0, n1, n2, n3] = plan.n;
  const [s0, s1, s2, s3] = plan.strides;
  fn(x, out, n0, n1, n2, n3, s0, s1, s2, s3, plan.runVectors);
  return true;
}
