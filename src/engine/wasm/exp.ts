// Exp: the stock wasm kernel calls libm's expf element by element (~10 ns each); in a ViT's
// training step it runs on every GELU activation (erf's gradient is 2/√π·exp(-x²)) and took as
// long as a whole Dense layer's matmul. This one is Cephes' expf four lanes at a time in a
// hand-assembled WebAssembly SIMD loop: n = round(x·log2 e), r = x − n·ln 2 (in two parts),
// exp(r) by a degree-6 polynomial, times 2^n built in the exponent bits. 2^n is applied as two
// halves so that results down to the denormals come out right; x above ln(FLT_MAX) gives +∞,
// NaN stays NaN. Max relative error ~2e-7 (1-2 ulp) against the exact value.
import { type VectorCode, type VectorLoop, elementwiseKernel, vectorMapModule } from './elementwise.js';
import { replaceKernel, restoreKernel } from './registry.js';
import { kernelLoader, op } from './wasm-writer.js';

const LOG2E = 1.44269504088896341;
const LN2_HI = 0.693359375; // ln 2 = LN2_HI + LN2_LO, LN2_HI exact in a few bits so n·LN2_HI is exact
const LN2_LO = -2.12194440e-4;
const POLY = [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4];
const X_MAX = 88.72283935546875; // ln(FLT_MAX), rounded down to a float
const X_MIN = -104; // exp(-104) rounds to 0 in float32

/** The same steps in float32 arithmetic, for the last n mod 4 elements (and the tests). */
export function expApprox(v: number): number {
  const f = Math.fround;
  if (Number.isNaN(v)) return NaN;
  if (v > X_MAX) return Infinity;
  const x0 = Math.max(X_MIN, v);
  const n = roundHalfEven(f(x0 * f(LOG2E)));
  const x = f(f(x0 - f(n * f(LN2_HI))) - f(n * f(LN2_LO)));
  const z = f(x * x);
  let p = f(POLY[5]);
  for (let i = 4; i >= 0; i--) p = f(f(p * x) + f(POLY[i]));
  const y = f(f(f(p * z) + x) + 1);
  const n1 = n >> 1;
  return f(f(y * 2 ** n1) * 2 ** (n - n1));
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** exp of the vector in local x0; temps: clamped x then r, n, p. */
export const expCode: VectorCode = ([x0], [x, n, p], k) => {
  /** 2^k for the i32 lanes k on the stack: (k + 127) << 23, as float bits. */
  const pow2 = [...k.i32(127), ...op.i32x4add, ...op.i32(23), ...op.i32x4shl];
  return [
    // x = clamp(x0); n = nearest(x·log2 e); r = x − n·LN2_HI − n·LN2_LO
    ...op.get(x0), ...k.f32(X_MIN), ...op.vpmax, ...k.f32(X_MAX), ...op.vpmin, ...op.set(x),
    ...op.get(x), ...k.f32(LOG2E), ...op.vmul, ...op.vnearest, ...op.set(n),
    ...op.get(x), ...op.get(n), ...k.f32(LN2_HI), ...op.vmul, ...op.vsub,
    ...op.get(n), ...k.f32(LN2_LO), ...op.vmul, ...op.vsub, ...op.set(x),
    // p = poly(r) by Horner; y = p·r² + r + 1
    ...k.f32(POLY[5]), ...op.set(p),
    ...[4, 3, 2, 1, 0].flatMap((i) => [...op.get(p), ...op.get(x), ...op.vmul, ...k.f32(POLY[i]), ...op.vadd, ...op.set(p)]),
    ...op.get(p), ...op.get(x), ...op.get(x), ...op.vmul, ...op.vmul, ...op.get(x), ...op.vadd, ...k.f32(1), ...op.vadd, ...op.set(p),
    // n as i32 lanes; y · 2^(n>>1) · 2^(n − n>>1)
    ...op.get(n), ...op.vtruncSat, ...op.set(n),
    ...op.get(p), ...op.get(n), ...op.i32(1), ...op.i32x4shrS, ...pow2, ...op.vmul,
    ...op.get(n), ...op.get(n), ...op.i32(1), ...op.i32x4shrS, ...op.i32x4sub, ...pow2, ...op.vmul,
    // +∞ above X_MAX (the clamp made it finite); NaN lanes are NaN already.
    ...op.set(p), ...k.f32(Infinity), ...op.get(p), ...op.get(x0), ...k.f32(X_MAX), ...op.vgt, ...op.vbitselect,
  ];
};

const simdExp = kernelLoader<VectorLoop>(() => vectorMapModule('exp', 1, 3, expCode), 'exp');

export function registerExp(): void {
  replaceKernel('Exp', () => elementwiseKernel('Exp', ['x'], simdExp, expApprox));
}

export function restoreExp(): void {
  restoreKernel('Exp');
}
