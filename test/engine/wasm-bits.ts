// The inputs of the wasm kernel tests, run through every WebAssembly module Lopper ships, with a
// digest of each case's output bits. wasm-modules.test.ts compares the digests with the ones the
// hex-assembled kernels gave before the kernels were rewritten as WAT: the same arithmetic in the
// same order must give the same bits, so any reordering, wrong constant or wrong lane shows up.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate } from '../../src/engine/ops/adamw-update.js';
import { GELU, GELU_GRAD, gelu } from '../../src/engine/ops/gelu.js';
import { layerNorm } from '../../src/engine/ops/layer-norm.js';
import { size, values } from './helpers.js';

/**
 * sha256 (first 16 hex digits) of the outputs' shapes and float32 bits. NaNs are written as one
 * canonical NaN: WebAssembly leaves the payload of a computed NaN to the engine.
 */
export function digest(outputs: { data: ArrayLike<number>; shape: number[] }[]): string {
  const h = createHash('sha256');
  for (const { data, shape } of outputs) {
    h.update(JSON.stringify(shape));
    const bits = Float32Array.from(data);
    for (let i = 0; i < bits.length; i++) if (Number.isNaN(bits[i])) bits[i] = NaN;
    h.update(new Uint8Array(bits.buffer));
  }
  return h.digest('hex').slice(0, 16);
}

/** Runs on the current backend (wasm with Lopper's kernels) and returns the outputs' values. */
export function outputs(fn: () => tf.Tensor | tf.Tensor[]): { data: Float32Array; shape: number[] }[] {
  return tf.tidy(() => {
    const out = fn();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape.slice() }));
  });
}

/**
 * Case name → the computation, and the SIMD function ("module.function", see simdUses in
 * src/engine/wasm/modules.ts) that must run in it, or null where the JavaScript twin does all.
 */
export const BIT_CASES: Record<string, { simd: string | null; run: () => tf.Tensor | tf.Tensor[] }> = {};

const SIMD: Record<string, string> = {
  exp: 'elementwise.exp',
  erf: 'elementwise.erf',
  gelu: 'elementwise.gelu',
  'layer-norm': 'layer-norm.lnFwd',
  adamw: 'adamw.adamw',
  colsum: 'colsum.colsum',
  bmm: 'bmm.bmm',
  'block-transpose': 'block-transpose.blockTranspose',
};
const add = (kernel: string, name: string, run: () => tf.Tensor | tf.Tensor[], simd = true) => {
  BIT_CASES[`${kernel}: ${name}`] = { simd: simd ? SIMD[kernel] : null, run };
};

// exp and erf (wasm-exp-sum and wasm-slice-erf tests): edge values, every length mod 4, gradients.
add('exp', 'edge values', () => {
  const xs = Float32Array.from([...values(1001, 9)].map((v) => v * 90));
  xs.set([88.8, -110, NaN, Infinity, -Infinity, -100, 0, 88.72, -87.5], 0);
  return tf.exp(tf.tensor(xs));
});
for (const n of [1, 2, 3, 4, 5, 7, 64, 1001]) {
  add('exp', `n=${n}`, () => {
    const x = tf.mul(tf.tensor(values(n, n)), 12);
    return [tf.exp(x), tf.grad((v: tf.Tensor) => tf.sum(tf.exp(v)))(x)];
  });
  add('erf', `n=${n}`, () => {
    const x = tf.mul(tf.tensor(values(n, n)), 5);
    return [tf.erf(x), tf.grad((v: tf.Tensor) => tf.sum(tf.erf(v)))(x)];
  });
}

// GELU (wasm-gelu-layernorm tests): the kernels directly on edge values, and the op with its gradient.
add('gelu', 'edge values', () => {
  const xs = Float32Array.from(values(64, 3), (v) => v * 8);
  xs.set([0, -0, 1e-30, -1e-25, 30, -30], 0);
  const x = tf.tensor(xs);
  const dy = tf.tensor(values(64, 4));
  const y = tf.engine().runKernel(GELU, { x }) as tf.Tensor;
  return [y, tf.engine().runKernel(GELU_GRAD, { x, y, dy }) as tf.Tensor];
});
for (const n of [1, 3, 4, 7, 1001]) {
  add('gelu', `n=${n}`, () => {
    const x = tf.mul(tf.tensor(values(n, n)), 6);
    const dy = tf.tensor(values(n, n + 1));
    return [gelu(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), dy)))(x)];
  });
}

// Layer norm: SIMD rows (d a multiple of 4) and JavaScript rows.
for (const shape of [
  [64, 64],
  [3, 16, 12],
  [5, 6],
  [2, 3, 1],
]) {
  add(
    'layer-norm',
    JSON.stringify(shape),
    () => {
      const d = shape.at(-1)!;
      const x = tf.add(tf.mul(tf.tensor(values(size(shape), 1), shape), 3), 1.5);
      const g = tf.add(tf.tensor(values(d, 2)), 1);
      const b = tf.tensor(values(d, 3));
      const dy = tf.tensor(values(size(shape), 4), shape);
      const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, gg, bb, 1, 1e-3), dy));
      return [layerNorm(x, g, b, 1, 1e-3), ...tf.grads(f)([x, g, b])];
    },
    shape.at(-1)! % 4 === 0,
  );
}

// AdamW update, with and without decay, every length mod 4 (wasm-adamw.test.ts uses the same inputs).
export const ADAMW_LENGTHS = [1, 3, 4, 9, 1001];
const STEP = { beta1: 0.9, beta2: 0.999, stepSize: 0.0123, epsilon: 1e-8 * Math.sqrt(0.001999), decay: 1.5e-5 * 0.01 };
export function adamwCase(n: number, decay: boolean): tf.Tensor[] {
  const w = tf.tensor(values(n, 1));
  const g = tf.mul(tf.tensor(values(n, 2)), 0.01);
  const m = tf.mul(tf.tensor(values(n, 3)), 0.001);
  const v = tf.abs(tf.mul(tf.tensor(values(n, 4)), 1e-5));
  const mask = decay ? tf.tensor(Float32Array.from(values(n, 5), (x) => (x > 0 ? 1 : 0))) : null;
  return adamwUpdate(w, g, m, v, mask, STEP);
}
for (const n of ADAMW_LENGTHS) {
  for (const decay of [true, false]) add('adamw', `n=${n}${decay ? ' decay' : ''}`, () => adamwCase(n, decay));
}

// Column sums over leading axes, with the gradient and moments.
const SUMS: [number[], number[], boolean][] = [
  [[4096, 64], [0], false],
  [[32, 16, 192], [0, 1], false],
  [[32, 16, 192], [0, 1], true],
  [[7, 10], [0], false],
  [[9, 5], [0], true],
  [[1, 50, 1, 8], [0, 1, 2], false],
];
for (const [shape, axes, keepDims] of SUMS) {
  add('colsum', `${JSON.stringify(shape)} over ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''}`, () => {
    const x = tf.tensor(values(size(shape), 5), shape);
    const { mean, variance } = tf.moments(x, axes, keepDims);
    return [tf.sum(x, axes, keepDims), mean, variance];
  });
}

// Matmuls on the SIMD kernel (wasm-matmul tests): every case and transpose, forward and gradients.
const MATMULS: [number[], number[]][] = [
  [
    [5, 7],
    [7, 3],
  ],
  [
    [1, 9, 6],
    [1, 6, 4],
  ],
  [
    [3, 5, 7],
    [7, 4],
  ],
  [
    [2, 3, 5, 7],
    [1, 7, 4],
  ],
  [
    [5, 7],
    [3, 7, 4],
  ],
  [
    [1, 5, 7],
    [2, 3, 7, 4],
  ],
  [
    [3, 5, 7],
    [3, 7, 4],
  ],
  [
    [3, 5, 7],
    [3, 7, 9],
  ],
  [
    [2, 17, 16],
    [2, 16, 37],
  ],
  [
    [2, 4, 16, 16],
    [2, 4, 16, 16],
  ],
  [
    [2, 3, 5, 7],
    [1, 3, 7, 4],
  ],
  [
    [1, 5, 7],
    [4, 7, 4],
  ],
  [
    [2, 3, 5, 7],
    [2, 1, 7, 4],
  ],
  [
    [6, 300],
    [300, 21],
  ],
  [
    [2, 5, 257],
    [2, 257, 9],
  ],
  [
    [32, 300],
    [300, 21],
  ],
  [
    [4, 8, 130],
    [130, 9],
  ],
];
/** Batch axes that broadcast inside the batch (neither equal nor one side unbatched): the stock loop. */
const stockLoop = (as: number[], bs: number[]) => {
  const [ba, bb] = [size(as.slice(0, -2)), size(bs.slice(0, -2))];
  return ba > 1 && bb > 1 && ba !== bb;
};
const tr = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
for (const [as, bs] of MATMULS) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      add(
        'bmm',
        `${JSON.stringify(as)} x ${JSON.stringify(bs)}${ta ? ' ta' : ''}${tb ? ' tb' : ''}`,
        () => {
          const a = tf.tensor(values(size(as), 1), ta ? tr(as) : as);
          const b = tf.tensor(values(size(bs), 2), tb ? tr(bs) : bs);
          const y = tf.matMul(a, b, ta, tb);
          if (JSON.stringify(as.slice(0, -2)) !== JSON.stringify(bs.slice(0, -2))) return y;
          const dy = tf.tensor(values(y.size, 3), y.shape);
          return [y, ...tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, ta, tb), dy)))([a, b])];
        },
        !stockLoop(as, bs),
      );
    }
  }
}

// Transposes that keep rows of a multiple of 4 floats in place (the SIMD row copy).
for (const [shape, perm] of [
  [
    [3, 4, 3, 2, 8],
    [2, 0, 3, 1, 4],
  ],
  [
    [2, 5, 3, 12],
    [0, 2, 1, 3],
  ],
  [
    [4, 6, 8],
    [1, 0, 2],
  ],
] as [number[], number[]][]) {
  add('block-transpose', `${JSON.stringify(shape)} by ${JSON.stringify(perm)}`, () =>
    tf.transpose(tf.tensor(values(size(shape), 3), shape), perm),
  );
}
