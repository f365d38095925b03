// Lopper's layer-norm op (src/engine/ops/layer-norm.ts) as two wasm kernels over x viewed as
// [rows, d]. Each row (d floats, in L1) is read a few times in a WebAssembly SIMD loop
// (wat/layer-norm.wat), where the portable path runs ~8 ops forward and ~13 backward over the
// whole activation:
//   LopperLayerNorm:     mean, then var of x − mean (two passes, as tf.moments), then
//                        y = (x − mean)·rstd·γ + β
//   LopperLayerNormGrad: mean and rstd again, then per row Σg and Σg·x̂ (g = dy·γ) while adding
//                        dy·x̂ and dy into dγ and dβ, then dx = rstd·(g − Σg/d − x̂·Σg·x̂/d)
// d must be a multiple of 4 (transformer widths are); other widths run the same steps in
// JavaScript.
import { LAYER_NORM, LAYER_NORM_GRAD } from '../ops/layer-norm.js';
import { kernel } from './modules.js';
import { type Info, type KernelArgs, addKernel, memoryOf, offsetOf, removeKernel } from './registry.js';

type Fwd = (x: number, gamma: number, beta: number, y: number, rows: number, vectors: number, eps: number) => void;
type Bwd = (
  x: number,
  gamma: number,
  dy: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  rows: number,
  vectors: number,
  eps: number,
) => void;

const simdForward = kernel<Fwd>('layer-norm', 'lnFwd');
const simdBackward = kernel<Bwd>('layer-norm', 'lnBwd');

/** Mean and rstd of row r, in float32 steps like the SIMD code (per-lane partial sums, then lanes). */
function rowStats(x: Float32Array, r: number, d: number, eps: number): [number, number] {
  const f = Math.fround;
  const lanes = (fn: (i: number) => number) => {
    const acc = [0, 0, 0, 0];
    for (let i = 0; i < d; i++) acc[i % 4] = f(acc[i % 4] + fn(i));
    return f(f(f(acc[0] + acc[1]) + acc[2]) + acc[3]);
  };
  const invD = f(1 / d);
  const mean = f(lanes((i) => x[r * d + i]) * invD);
  const v = f(lanes((i) => f(f(x[r * d + i] - mean) * f(x[r * d + i] - mean))) * invD);
  return [mean, f(1 / f(Math.sqrt(f(v + f(eps)))))];
}

/** The forward pass in JavaScript (widths that are not a multiple of 4, and the tests). */
export function layerNormRows(x: Float32Array, gamma: Float32Array, beta: Float32Array, d: number, eps: number, y: Float32Array): void {
  const f = Math.fround;
  for (let r = 0; r < x.length / d; r++) {
    const [mean, rstd] = rowStats(x, r, d, eps);
    for (let i = 0; i < d; i++) y[r * d + i] = f(f(f(f(x[r * d + i] - mean) * rstd) * gamma[i]) + beta[i]);
  }
}

/** The backward pass in JavaScript; dgamma and dbeta must start at zero. */
export function layerNormGradRows(
  x: Float32Array,
  gamma: Float32Array,
  dy: Float32Array,
  d: number,
  eps: number,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const f = Math.fround;
  for (let r = 0; r < x.length / d; r++) {
    const [mean, rstd] = rowStats(x, r, d, eps);
    let sg = 0;
    let sgx = 0;
    for (let i = 0; i < d; i++) {
      const xh = f(f(x[r * d + i] - mean) * rstd);
      const g = f(dy[r * d + i] * gamma[i]);
      sg += g;
      sgx += g * xh;
      dgamma[i] = f(dgamma[i] + f(dy[r * d + i] * xh));
      dbeta[i] = f(dbeta[i] + dy[r * d + i]);
    }
    const m1 = f(sg / d);
    const m2 = f(sgx / d);
    for (let i = 0; i < d; i++) {
      const xh = f(f(x[r * d + i] - mean) * rstd);
      dx[r * d + i] = f(f(f(f(dy[r * d + i] * gamma[i]) - m1) - f(xh * m2)) * rstd);
    }
  }
}

function forward(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { x, gamma, beta } = inputs as Record<string, Info>;
  const [rows, d] = x.shape;
  const y = backend.makeOutput([rows, d], 'float32');
  const simd = d % 4 === 0 ? simdForward(memoryOf(backend)) : null;
  if (simd) {
    simd(offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, beta), offsetOf(backend, y), rows, d / 4, attrs.epsilon);
  } else {
    const h = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
    layerNormRows(h(x), h(gamma), h(beta), d, attrs.epsilon, h(y));
  }
  return y;
}

function backward(args: KernelArgs): Info[] {
  const { inputs, backend, attrs } = args;
  const { x, gamma, dy } = inputs as Record<string, Info>;
  const [rows, d] = x.shape;
  const dx = backend.makeOutput([rows, d], 'float32');
  const dgamma = backend.makeOutput([d], 'float32');
  const dbeta = backend.makeOutput([d], 'float32');
  const h = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  h(dgamma).fill(0);
  h(dbeta).fill(0);
  const simd = d % 4 === 0 ? simdBackward(memoryOf(backend)) : null;
  if (simd) {
    const o = (t: Info) => offsetOf(backend, t);
    simd(o(x), o(gamma), o(dy), o(dx), o(dgamma), o(dbeta), rows, d / 4, attrs.epsilon);
  } else {
    layerNormGradRows(h(x), h(gamma), h(dy), d, attrs.epsilon, h(dx), h(dgamma), h(dbeta));
  }
  return [dx, dgamma, dbeta];
}

export function registerLayerNorm(): void {
  addKernel(LAYER_NORM, forward);
  addKernel(LAYER_NORM_GRAD, backward as unknown as (a: KernelArgs) => Info);
}

export function restoreLayerNorm(): void {
  removeKernel(LAYER_NORM);
  removeKernel(LAYER_NORM_GRAD);
}
