// Transposes that keep the innermost axis in place (attention's [B,T,3,H,d] → [3,B,H,T,d] and
// [B,T,H,d] → [B,H,T,d]) move whole rows of d floats. The stock 4-D transpose moves them one
// float at a time, and a 5-D one took two such passes (transpose.ts); this WebAssembly SIMD kernel
// (wat/block-transpose.wat) copies each row as vectors, in one pass, writing the output in order:
//   for i0, i1, i2, i3 (the output's outer axes): out ← x[i0·s0 + i1·s1 + i2·s2 + i3·s3 .. + d]
import { kernel } from './modules.js';

type Fn = (
  x: number,
  out: number,
  n0: number,
  n1: number,
  n2: number,
  n3: number,
  s0: number,
  s1: number,
  s2: number,
  s3: number,
  runVectors: number,
) => void;
const simdBlockTranspose = kernel<Fn>('block-transpose', 'blockTranspose');

/**
 * The kernel's arguments for a simplified permutation, or null when it does not apply: the last
 * axis must stay last with a length that is a multiple of 4, and at most 4 axes come before it.
 */
export function blockPlan(
  shape: readonly number[],
  perm: readonly number[],
): { n: number[]; strides: number[]; runVectors: number } | null {
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
export function runBlockTranspose(
  memory: WebAssembly.Memory,
  x: number,
  out: number,
  plan: NonNullable<ReturnType<typeof blockPlan>>,
): boolean {
  const fn = simdBlockTranspose(memory);
  if (!fn) return false;
  const [n0, n1, n2, n3] = plan.n;
  const [s0, s1, s2, s3] = plan.strides;
  fn(x, out, n0, n1, n2, n3, s0, s1, s2, s3, plan.runVectors);
  return true;
}
