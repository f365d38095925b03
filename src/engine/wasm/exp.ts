// Exp: the stock wasm kernel calls libm's expf element by element (~10 ns each); in a ViT's
// training step it runs on every GELU activation (erf's gradient is 2/√π·exp(-x²)) and took as
// long as a whole Dense layer's matmul. This one is Cephes' expf four lanes at a time in a
// WebAssembly SIMD loop (wat/exp.inc.wat, which explains the steps): n = round(x·log2 e),
// r = x − n·ln 2 (in two parts), exp(r) by a degree-6 polynomial, times 2^n built in the exponent
// bits. Max relative error ~2e-7 (1-2 ulp) against the exact value.
import { type VectorLoop, elementwiseKernel } from './elementwise.js';
import { kernel } from './modules.js';
import { replaceKernel, restoreKernel } from './registry.js';

// The constants of wat/elementwise.wat ($exp_*); the tests check that both sides give the same bits.

const LOG2E = 1.44269504088896341;
const LN2_HI = 0.693359375; // ln 2 = LN2_HI + LN2_LO, LN2_HI exact in a few bits so n·LN2_HI is exact
const LN2_LO = -2.1219444e-4;
const POLY = [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.98756915e-4];
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

const simdExp = kernel<VectorLoop>('elementwise', 'exp');

export function registerExp(): void {
  replaceKernel('Exp', () => elementwiseKernel('Exp', ['x'], simdExp, expApprox));
}

export function restoreExp(): void {
  restoreKernel('Exp');
}
