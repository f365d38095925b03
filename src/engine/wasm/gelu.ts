// Lopper's GELU op (src/engine/ops/gelu.ts) as two wasm kernels, one pass over memory each:
//   LopperGelu:     y  = x·½(1 + erf(x/√2))
//   LopperGeluGrad: dx = dy·(½(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π))
// built from the SIMD erf and exp of erf.ts and exp.ts. Without them, the op's portable path
// costs 5 kernels forward and 7 backward over the activation.
import { GELU, GELU_GRAD } from '../ops/gelu.js';
import { elementwiseKernel, type VectorCode, type VectorLoop, type VectorLoop2, vectorMapModule } from './elementwise.js';
import { erfApprox, erfCode } from './erf.js';
import { expApprox, expCode } from './exp.js';
import { type Info, type KernelArgs, addKernel, memoryOf, offsetOf, removeKernel, sizeOf } from './registry.js';
import { kernelLoader, op } from './wasm-writer.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const f = Math.fround;

/** Φ(x) = ½(1 + erf(x/√2)) of local x into local `cdf`, using u and three more temps. */
const cdfInto = (x: number, cdf: number, [u, t1, t2, t3]: number[]) => [
  ...op.get(x), ...op.vconst(SQRT1_2), ...op.vmul, ...op.set(u),
  ...erfCode([u], [t1, t2, t3]), ...op.vconst(0.5), ...op.vmul, ...op.vconst(0.5), ...op.vadd, ...op.set(cdf),
];

const geluCode: VectorCode = ([x], [cdf, ...t]) => [...cdfInto(x, cdf, t), ...op.get(x), ...op.get(cdf), ...op.vmul];

const geluGradCode: VectorCode = ([x, dy], [cdf, e, ...t]) => [
  ...cdfInto(x, cdf, t),
  // e = −x²/2; exp(e)·x/√(2π) + Φ(x), times dy
  ...op.get(x), ...op.get(x), ...op.vmul, ...op.vconst(-0.5), ...op.vmul, ...op.set(e),
  ...expCode([e], t.slice(1)), ...op.get(x), ...op.vmul, ...op.vconst(INV_SQRT_2PI), ...op.vmul,
  ...op.get(cdf), ...op.vadd, ...op.get(dy), ...op.vmul,
];

/** The same steps in float32, for the last n mod 4 elements (and the tests). */
export function geluApprox(x: number): number {
  const cdf = f(f(erfApprox(f(x * f(SQRT1_2))) * 0.5) + 0.5);
  return f(x * cdf);
}

export function geluGradApprox(x: number, dy: number): number {
  const cdf = f(f(erfApprox(f(x * f(SQRT1_2))) * 0.5) + 0.5);
  const e = f(f(x * x) * -0.5);
  return f(f(f(f(expApprox(e) * x) * f(INV_SQRT_2PI)) + cdf) * dy);
}

const simdGelu = kernelLoader<VectorLoop>(() => vectorMapModule('gelu', 1, 5, geluCode), 'gelu');
const simdGeluGrad = kernelLoader<VectorLoop2>(() => vectorMapModule('geluGrad', 2, 6, geluGradCode), 'geluGrad');

function geluGrad(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const x = inputs.x!;
  const dy = inputs.dy!;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const n = sizeOf(x.shape);
  const kernel = simdGeluGrad(memoryOf(backend));
  const vectors = kernel ? n >> 2 : 0;
  if (kernel) kernel(offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), vectors);
  const [xs, dys, o] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dy), backend.typedArrayFromHeap(out)];
  for (let i = vectors * 4; i < n; i++) o[i] = geluGradApprox(xs[i], dys[i]);
  return out;
}

export function registerGelu(): void {
  addKernel(GELU, elementwiseKernel(GELU, simdGelu, geluApprox)); // the op sends only float32 here
  addKernel(GELU_GRAD, geluGrad);
}

export function restoreGelu(): void {
  removeKernel(GELU);
  removeKernel(GELU_GRAD);
}
