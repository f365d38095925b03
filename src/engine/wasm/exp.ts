// Exp: the stock wasm kernel calls libm's expf element by element (~10 ns each); in a ViT's
// training step it runs on every GELU activation (erf's gradient is 2/√π·exp(-x²)) and took as
// long as a whole Dense layer's matmul. This one is Cephes' expf four lanes at a time in a
// hand-assembled WebAssembly SIMD loop: n = round(x·log2 e), r = x − n·ln 2 (in two parts),
// exp(r) by a degree-6 polynomial, times 2^n built in the exponent bits. 2^n is applied as two
// halves so that results down to the denormals come out right; x above ln(FLT_MAX) gives +∞,
// NaN stays NaN. Max relative error ~2e-7 (1-2 ulp) against the exact value.
import { elementwiseKernel, type VectorLoop } from './elementwise.js';
import { replaceKernel, restoreKernel } from './registry.js';
import { I32, V128, forLoop, kernelLoader, moduleWithFunction, op } from './wasm-writer.js';

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

// exp(x, out, vectors): out[i] = exp(x[i]) for i < 4·vectors. Locals: i, offset; x0, x, n, p.
const [X, OUT, COUNT, I, OFF, VX0, VX, VN, VP] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

function moduleBytes(): Uint8Array {
  /** 2^k for the i32 lanes k on the stack: (k + 127) << 23, as float bits. */
  const pow2 = [...op.vconstI32(127), ...op.i32x4add, ...op.i32(23), ...op.i32x4shl];
  const body = [
    ...forLoop(I, op.get(COUNT), [
      ...op.get(I), ...op.i32(16), ...op.mul, ...op.set(OFF),
      ...op.get(X), ...op.get(OFF), ...op.add, ...op.vload(), ...op.set(VX0),
      // x = clamp(x0); fn = nearest(x·log2 e); r = x − fn·LN2_HI − fn·LN2_LO
      ...op.get(VX0), ...op.vconst(X_MIN), ...op.vmax, ...op.vconst(X_MAX), ...op.vmin, ...op.set(VX),
      ...op.get(VX), ...op.vconst(LOG2E), ...op.vmul, ...op.vnearest, ...op.set(VN),
      ...op.get(VX), ...op.get(VN), ...op.vconst(LN2_HI), ...op.vmul, ...op.vsub,
      ...op.get(VN), ...op.vconst(LN2_LO), ...op.vmul, ...op.vsub, ...op.set(VX),
      // p = poly(r) by Horner; y = p·r² + r + 1
      ...op.vconst(POLY[5]), ...op.set(VP),
      ...[4, 3, 2, 1, 0].flatMap((i) => [...op.get(VP), ...op.get(VX), ...op.vmul, ...op.vconst(POLY[i]), ...op.vadd, ...op.set(VP)]),
      ...op.get(VP), ...op.get(VX), ...op.get(VX), ...op.vmul, ...op.vmul, ...op.get(VX), ...op.vadd, ...op.vconst(1), ...op.vadd, ...op.set(VP),
      // n as i32 lanes (reusing VN); y · 2^(n>>1) · 2^(n − n>>1)
      ...op.get(VN), ...op.vtruncSat, ...op.set(VN),
      ...op.get(OUT), ...op.get(OFF), ...op.add, // store address, under the value
      ...op.get(VP), ...op.get(VN), ...op.i32(1), ...op.i32x4shrS, ...pow2, ...op.vmul,
      ...op.get(VN), ...op.get(VN), ...op.i32(1), ...op.i32x4shrS, ...op.i32x4sub, ...pow2, ...op.vmul,
      // +∞ above X_MAX (the clamp made it finite); NaN lanes are NaN already.
      ...op.set(VP), ...op.vconst(Infinity), ...op.get(VP), ...op.get(VX0), ...op.vconst(X_MAX), ...op.vgt, ...op.vbitselect,
      ...op.vstore(),
    ]),
    ...op.end,
  ];
  return moduleWithFunction('exp', 3, [[2, I32], [4, V128]], body);
}

const simdExp = kernelLoader<VectorLoop>(moduleBytes, 'exp');

export function registerExp(): void {
  replaceKernel('Exp', () => elementwiseKernel('Exp', simdExp, expApprox));
}

export function restoreExp(): void {
  restoreKernel('Exp');
}
