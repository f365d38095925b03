// Erf (GELU's core: tfjs-layers computes gelu(x) = x·½(1 + erf(x/√2))). The stock wasm kernel
// calls libm's erf element by element; this one evaluates Eigen's float rational approximation
// (x clamped to [-4, 4], odd degree-13 numerator over even degree-8 denominator, max abs error
// ~3.5e-7) four lanes at a time in a WebAssembly SIMD loop (wat/erf.inc.wat), in place on the heap.
import { type VectorLoop, elementwiseKernel } from './elementwise.js';
import { kernel } from './modules.js';
import { replaceKernel, restoreKernel } from './registry.js';

// The coefficients of wat/elementwise.wat ($erf_a*, $erf_b*); the tests check that both sides
// give the same bits.

const ALPHA = [
  -1.60960333262415e-2, -2.95459980854025e-3, -7.34990630326855e-4, -5.69250639462346e-5, -2.10102402082508e-6, 2.77068142495902e-8,
  -2.72614225801306e-10,
];
const BETA = [-1.42647390514189e-2, -7.37332916720468e-3, -1.68282697438203e-3, -2.13374055278905e-4, -1.45660718464996e-5];

/** The same approximation in float32 steps, for the last n mod 4 elements (and the tests). */
export function erfApprox(v: number): number {
  const f = Math.fround;
  const x = Math.min(4, Math.max(-4, v));
  const x2 = f(x * x);
  let p = f(ALPHA[6]);
  for (let i = 5; i >= 0; i--) p = f(f(p * x2) + f(ALPHA[i]));
  p = f(p * x);
  let q = f(BETA[4]);
  for (let i = 3; i >= 0; i--) q = f(f(q * x2) + f(BETA[i]));
  return f(p / q);
}

const simdErf = kernel<VectorLoop>('elementwise', 'erf');

export function registerErf(): void {
  replaceKernel('Erf', () => elementwiseKernel('Erf', ['x'], simdErf, erfApprox));
}

export function restoreErf(): void {
  restoreKernel('Erf');
}
