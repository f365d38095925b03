// Lopper's layer-norm op (src/engine/ops/layer-norm.ts) as two wasm kernels over x viewed as
// [rows, d]. Each row (d floats, in L1) is read a few times in a hand-assembled WebAssembly SIMD
// loop, where the portable path runs ~8 ops forward and ~13 backward over the whole activation:
//   LopperLayerNorm:     mean, then var of x − mean (two passes, as tf.moments), then
//                        y = (x − mean)·rstd·γ + β
//   LopperLayerNormGrad: mean and rstd again, then per row Σg and Σg·x̂ (g = dy·γ) while adding
//                        dy·x̂ and dy into dγ and dβ, then dx = rstd·(g − Σg/d − x̂·Σg·x̂/d)
// d must be a multiple of 4 (transformer widths are); other widths run the same steps in
// JavaScript.
import { LAYER_NORM, LAYER_NORM_GRAD } from '../ops/layer-norm.js';
import { type Info, type KernelArgs, addKernel, memoryOf, offsetOf, removeKernel } from './registry.js';
import { F32, I32, V128, forLoop, kernelLoader, moduleWithFunction, op } from './wasm-writer.js';

type Fwd = (x: number, gamma: number, beta: number, y: number, rows: number, vectors: number, epsBits: number) => void;
type Bwd = (x: number, gamma: number, dy: number, dx: number, dgamma: number, dbeta: number, rows: number, vectors: number, epsBits: number) => void;

/** Code shared by both kernels; `p` and `l` name parameter and local indices. */
function rowCode(p: { VECS: number; EPS: number }, l: Record<string, number>) {
  const hsum = (v: number) => [...op.get(v), ...op.vextract(0), ...op.get(v), ...op.vextract(1), ...op.f32add, ...op.get(v), ...op.vextract(2), ...op.f32add, ...op.get(v), ...op.vextract(3), ...op.f32add];
  const xAt = [...op.get(l.XR), ...op.get(l.OFF), ...op.add, ...op.vload()];
  const eachVector = (body: number[]) => forLoop(l.V, op.get(p.VECS), [...op.get(l.V), ...op.i32(16), ...op.mul, ...op.set(l.OFF), ...body]);
  /** MEAN, RSTD (f32) and their splats VMEAN, VRSTD for the row at XR. */
  const stats = [
    ...op.vzero, ...op.set(l.ACC),
    ...eachVector([...op.get(l.ACC), ...xAt, ...op.vadd, ...op.set(l.ACC)]),
    ...hsum(l.ACC), ...op.get(l.INV_D), ...op.f32mul, ...op.set(l.MEAN),
    ...op.get(l.MEAN), ...op.splat, ...op.set(l.VMEAN),
    ...op.vzero, ...op.set(l.ACC),
    ...eachVector([...xAt, ...op.get(l.VMEAN), ...op.vsub, ...op.set(l.T), ...op.get(l.ACC), ...op.get(l.T), ...op.get(l.T), ...op.vmul, ...op.vadd, ...op.set(l.ACC)]),
    ...op.f32const(1), ...hsum(l.ACC), ...op.get(l.INV_D), ...op.f32mul, ...op.get(p.EPS), ...op.f32fromBits, ...op.f32add, ...op.f32sqrt, ...op.f32div, ...op.set(l.RSTD),
    ...op.get(l.RSTD), ...op.splat, ...op.set(l.VRSTD),
  ];
  /** x̂ of the vector at OFF, on the stack. */
  const xhat = [...xAt, ...op.get(l.VMEAN), ...op.vsub, ...op.get(l.VRSTD), ...op.vmul];
  const setup = [...op.f32const(1), ...op.get(p.VECS), ...op.i32(4), ...op.mul, ...op.f32fromI32, ...op.f32div, ...op.set(l.INV_D)]; // 1/d
  return { hsum, stats, xhat, eachVector, setup };
}

function forwardModule(): Uint8Array {
  const p = { X: 0, GAMMA: 1, BETA: 2, Y: 3, ROWS: 4, VECS: 5, EPS: 6 };
  let n = 7;
  const l = { R: n++, V: n++, OFF: n++, XR: n++, MEAN: n++, RSTD: n++, INV_D: n++, ACC: n++, VMEAN: n++, VRSTD: n++, T: n++ };
  const c = rowCode(p, l);
  const at = (base: number) => [...op.get(base), ...op.get(l.OFF), ...op.add];
  const body = [
    ...c.setup,
    ...forLoop(l.R, op.get(p.ROWS), [
      ...op.get(p.X), ...op.get(l.R), ...op.get(p.VECS), ...op.i32(16), ...op.mul, ...op.mul, ...op.add, ...op.set(l.XR),
      ...c.stats,
      ...c.eachVector([
        ...op.get(p.Y), ...op.get(l.XR), ...op.get(p.X), ...op.sub, ...op.add, ...op.get(l.OFF), ...op.add, // y row = x row's offset in y
        ...c.xhat, ...at(p.GAMMA), ...op.vload(), ...op.vmul, ...at(p.BETA), ...op.vload(), ...op.vadd,
        ...op.vstore(),
      ]),
    ]),
    ...op.end,
  ];
  return moduleWithFunction('lnFwd', 7, [[3, I32], [1, I32], [3, F32], [4, V128]], body);
}

function backwardModule(): Uint8Array {
  const p = { X: 0, GAMMA: 1, DY: 2, DX: 3, DGAMMA: 4, DBETA: 5, ROWS: 6, VECS: 7, EPS: 8 };
  let n = 9;
  const l = {
    R: n++, V: n++, OFF: n++, XR: n++, SHIFT: n++,
    MEAN: n++, RSTD: n++, INV_D: n++,
    ACC: n++, VMEAN: n++, VRSTD: n++, T: n++, SG: n++, SGX: n++, G: n++, XH: n++, DYV: n++,
  };
  const c = rowCode(p, l);
  const at = (base: number) => [...op.get(base), ...op.get(l.OFF), ...op.add];
  const rowAt = (base: number) => [...op.get(base), ...op.get(l.SHIFT), ...op.add, ...op.get(l.OFF), ...op.add]; // same row in another [rows, d] tensor
  const body = [
    ...c.setup,
    ...forLoop(l.R, op.get(p.ROWS), [
      ...op.get(l.R), ...op.get(p.VECS), ...op.i32(16), ...op.mul, ...op.mul, ...op.set(l.SHIFT),
      ...op.get(p.X), ...op.get(l.SHIFT), ...op.add, ...op.set(l.XR),
      ...c.stats,
      ...op.vzero, ...op.set(l.SG), ...op.vzero, ...op.set(l.SGX),
      ...c.eachVector([
        ...c.xhat, ...op.set(l.XH),
        ...rowAt(p.DY), ...op.vload(), ...op.set(l.DYV),
        ...op.get(l.DYV), ...at(p.GAMMA), ...op.vload(), ...op.vmul, ...op.set(l.G),
        ...op.get(l.SG), ...op.get(l.G), ...op.vadd, ...op.set(l.SG),
        ...op.get(l.SGX), ...op.get(l.G), ...op.get(l.XH), ...op.vmul, ...op.vadd, ...op.set(l.SGX),
        ...at(p.DGAMMA), ...at(p.DGAMMA), ...op.vload(), ...op.get(l.DYV), ...op.get(l.XH), ...op.vmul, ...op.vadd, ...op.vstore(),
        ...at(p.DBETA), ...at(p.DBETA), ...op.vload(), ...op.get(l.DYV), ...op.vadd, ...op.vstore(),
      ]),
      // SG, SGX become the splatted means Σg/d and Σg·x̂/d
      ...c.hsum(l.SG), ...op.get(l.INV_D), ...op.f32mul, ...op.splat, ...op.set(l.SG),
      ...c.hsum(l.SGX), ...op.get(l.INV_D), ...op.f32mul, ...op.splat, ...op.set(l.SGX),
      ...c.eachVector([
        ...rowAt(p.DX),
        ...rowAt(p.DY), ...op.vload(), ...at(p.GAMMA), ...op.vload(), ...op.vmul,
        ...op.get(l.SG), ...op.vsub,
        ...c.xhat, ...op.get(l.SGX), ...op.vmul, ...op.vsub,
        ...op.get(l.VRSTD), ...op.vmul,
        ...op.vstore(),
      ]),
    ]),
    ...op.end,
  ];
  return moduleWithFunction('lnBwd', 9, [[5, I32], [3, F32], [9, V128]], body);
}

const simdForward = kernelLoader<Fwd>(forwardModule, 'lnFwd');
const simdBackward = kernelLoader<Bwd>(backwardModule, 'lnBwd');

const epsBits = (eps: number) => new Int32Array(new Float32Array([eps]).buffer)[0];

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
export function layerNormGradRows(x: Float32Array, gamma: Float32Array, dy: Float32Array, d: number, eps: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void {
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
  const kernel = simdForward(memoryOf(backend));
  if (kernel && d % 4 === 0) {
    kernel(offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, beta), offsetOf(backend, y), rows, d / 4, epsBits(attrs.epsilon));
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
  const kernel = simdBackward(memoryOf(backend));
  if (kernel && d % 4 === 0) {
    const o = (t: Info) => offsetOf(backend, t);
    kernel(o(x), o(gamma), o(dy), o(dx), o(dgamma), o(dbeta), rows, d / 4, epsBits(attrs.epsilon));
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

/** For the tests: whether the SIMD kernels compiled (a malformed module would fall back silently). */
export const layerNormSimdAvailable = (): boolean => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  return simdForward(memory) != null && simdBackward(memory) != null;
};
