// Lopper's wasm kernels from another build against this build's, in one process: every case that
// runs one of the WebAssembly SIMD modules is timed alternately with the other build's kernels
// and with this build's, `rounds` times each, and the medians are compared. For a change to the
// kernels themselves (their source, how they are assembled), where bench/compare.ts compares
// Lopper's kernels with tfjs' stock ones.
//
//   node dist/bench/wasm-builds.js --old <dist of the other build> [--rounds 7] [--min-ms 150] [--only <module>]
//
// The other build must resolve this checkout's node_modules (so that both register into the same
// tfjs): a dist/ copied into the checkout, or a copy beside a node_modules symlink.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { adamwUpdate } from '../src/engine/ops/adamw-update.js';
import { gelu } from '../src/engine/ops/gelu.js';
import { layerNorm } from '../src/engine/ops/layer-norm.js';
import { registerWasmKernels, unregisterWasmKernels } from '../src/engine/wasm-kernels.js';
import { median, msPerCall } from './measure.js';

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const oldDist = arg('old');
if (!oldDist) throw new Error('usage: node dist/bench/wasm-builds.js --old <dist of the other build> [--rounds 7] [--min-ms 150]');
const rounds = Number(arg('rounds', '7'));
const minMs = Number(arg('min-ms', '150'));
const only = arg('only');

const other = (await import(pathToFileURL(resolve(oldDist, 'src/engine/wasm-kernels.js')).href)) as {
  registerWasmKernels(): void;
  unregisterWasmKernels(): void;
};
const builds = {
  old: { register: () => other.registerWasmKernels(), restore: () => other.unregisterWasmKernels() },
  new: { register: registerWasmKernels, restore: unregisterWasmKernels },
};

builds.new.register();
await tf.setBackend('wasm');
await tf.ready();
tf.randomNormal([1]).dispose(); // (the generator's first use is slow)

const keep: tf.Tensor[] = [];
const t = (shape: number[]) => {
  const x = tf.randomNormal(shape, 0, 1, 'float32', 7);
  keep.push(x);
  return x;
};
const [x, w, dy] = [t([256, 784]), t([784, 512]), t([256, 512])];
const x32 = t([32, 784]);
const [act, dAct] = [t([4096, 64]), t([4096, 256])];
const [q, k] = [t([32, 4, 16, 16]), t([32, 4, 16, 16])];
const qkv = t([32, 16, 3, 4, 16]);
const h = t([32, 16, 256]);
const [pw, pg, pm] = [t([669_706]), t([669_706]), t([669_706])];
const pv = tf.abs(t([669_706]));
const mask = tf.cast(tf.greater(t([669_706]), 0), 'float32');
keep.push(pv, mask);
const adamStep = { beta1: 0.9, beta2: 0.999, stepSize: 1e-4, epsilon: 1e-8, decay: 1.5e-7 };
const ln = t([32, 16, 64]);
const [g64, b64] = [t([64]), t([64])];

// [name, the module it runs, the computation]
const cases: [string, string, () => tf.Tensor][] = [
  ['matmul dX = dy·Wᵀ [256,512]x[512,784]', 'bmm', () => tf.matMul(dy, w, false, true)],
  ['matmul dW = xᵀ·dy [784,256]x[256,512]', 'bmm', () => tf.matMul(x, dy, true, false)],
  ['matmul [32,784]x[784,512], new weights each call', 'bmm', () => tf.tidy(() => tf.matMul(x32, tf.add(w, 0)))],
  ['matmul dW = xᵀ·dy [64,4096]x[4096,256]', 'bmm', () => tf.matMul(act, dAct, true, false)],
  ['attention scores q·kᵀ [32,4,16,16]', 'bmm', () => tf.matMul(q, k, false, true)],
  ['transpose [32,16,3,4,16] → [3,32,4,16,16]', 'block-transpose', () => tf.transpose(qkv, [2, 0, 3, 1, 4])],
  ['erf [32,16,256]', 'elementwise', () => tf.erf(h)],
  ['exp [32,16,256]', 'elementwise', () => tf.exp(h)],
  ['GELU forward + backward [32,16,256]', 'elementwise', () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), h)))(h)],
  ['sum over rows [4096,64] → [64]', 'colsum', () => tf.sum(act, 0)],
  [
    'AdamW update, 669,706 weights',
    'adamw',
    () => {
      const [nw, nm, nv] = adamwUpdate(pw, pg, pm, pv, mask, adamStep);
      tf.dispose([nm, nv]);
      return nw;
    },
  ],
  [
    'layer norm forward + backward [32,16,64]',
    'layer-norm',
    () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layerNorm(v, g64, b64, 1, 1e-6), ln)))(ln),
  ],
];

console.log(`${rounds} alternating rounds of ≥ ${minMs} ms per build and case; ms per call, medians (old: ${oldDist})`);
console.log('| case | module | old | new | new/old |');
console.log('|---|---|---:|---:|---:|');
const ratios: number[] = [];
for (const [name, module, fn] of cases) {
  if (only && module !== only) continue;
  const times: Record<'old' | 'new', number[]> = { old: [], new: [] };
  // Round -1 is a warm-up, not counted (V8 compiles wasm in a baseline tier first and optimises
  // hot functions later). Then alternating, the order swapped every round, so that drift in the
  // machine's speed falls on both builds alike.
  for (let r = -1; r < rounds; r++) {
    for (const b of r % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) {
      builds.new.restore();
      builds.old.restore();
      builds[b].register();
      const ms = await msPerCall(fn, minMs);
      if (r >= 0) times[b].push(ms);
    }
  }
  const [o, n] = [median(times.old), median(times.new)];
  ratios.push(n / o);
  console.log(`| ${name} | ${module} | ${o.toFixed(3)} | ${n.toFixed(3)} | ${(n / o).toFixed(3)} |`);
}
const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
console.log(`geometric mean new/old: ${geo.toFixed(3)}`);
builds.old.restore();
builds.new.restore();
builds.new.register();
tf.dispose(keep);
