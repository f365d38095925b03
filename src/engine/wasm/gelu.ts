// Lopper's GELU op (src/engine/ops/gelu.ts) as two wasm kernels, one pass over memory each:
//   LopperGelu:     y  = x·Φ(x),  Φ(x) = ½(1 + erf(x/√2))
//   LopperGeluGrad: dx = dy·(Φ(x) + x·exp(−x²/2)/√(2π)),  Φ(x) = y/x (½ where |x| < 1e-20)
// the functions gelu and geluGrad of wat/elementwise.wat, built from the same SIMD erf and exp
// code as the Erf and Exp kernels. Taking Φ from the saved output spares the backward pass an erf
// (measured 4.7 → ~3 ms per [256,16,256]). Without these kernels, the op's portable path costs 5
// kernels forward and 7 backward over the activation.
import { GELU, GELU_GRAD } from '../ops/gelu.js';
import { elementwiseKernel, type VectorLoop } from './elementwise.js';
import { erfApprox } from './erf.js';
import { expApprox } from './exp.js';
import { kernel } from './modules.js';
import { addKernel, removeKernel } from './registry.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const f = Math.fround;

/** Below this |x|, y/x loses precision (y may be denormal) and Φ(x) is ½ to float precision. */
const TINY = 1e-20;

/** The same steps in float32, for the last n mod 4 elements (and the tests). */
export function geluApprox(x: number): number {
  const cdf = f(f(erfApprox(f(x * f(SQRT1_2))) * 0.5) + 0.5);
  return f(x * cdf);
}

export function geluGradApprox(x: number, y: number, dy: number): number {
  const cdf = Math.abs(x) < f(TINY) ? 0.5 : f(y / x);
  const e = f(f(x * x) * -0.5);
  return f(f(f(f(expApprox(e) * x) * f(INV_SQRT_2PI)) + cdf) * dy);
}

const simdGelu = kernel<VectorLoop>('elementwise', 'gelu');
const simdGeluGrad = kernel<VectorLoop>('elementwise', 'geluGrad');

export function registerGelu(): void {
  addKernel(GELU, elementwiseKernel(GELU, ['x'], simdGelu, geluApprox));
  addKernel(GELU_GRAD, elementwiseKernel(GELU_GRAD, ['x', 'y', 'dy'], simdGeluGrad, geluGradApprox));
}

export function restoreGelu(): void {
  removeKernel(GELU);
  removeKernel(GELU_GRAD);
}
