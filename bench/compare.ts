// Before/after for the wasm kernel fixes, in the same process: every case is timed with the stock
// tfjs-backend-wasm kernels (unregisterWasmKernels) and with Lopper's (registerWasmKernels),
// alternating, best of `reps`.
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate } from '../src/engine/ops/adamw-update.js';
import { gelu } from '../src/engine/ops/gelu.js';
import { layerNorm } from '../src/engine/ops/layer-norm.js';
import { registerWasmKernels, unregisterWasmKernels } from '../src/engine/wasm-kernels.js';
import { TfjsGelu } from '../src/layers/gelu.js';
import { msPerCall } from './measure.js';
import { buildMlp, buildTinyVit, MLP, VIT } from './models.js';
import { syntheticData, trainingRate } from './stages.js';

export interface Comparison {
  name: string;
  unit: 'ms' | 'samples/s';
  stock: number;
  fixed: number;
  /** fixed over stock as a speed ratio (>1 is faster). */
  speedup: number;
}

/** `stockFn` on the stock kernels against `fixedFn` (by default the same) on Lopper's, alternating. */
async function kernelCase(name: string, fixedFn: () => tf.Tensor, reps: number, minMs: number, stockFn = fixedFn): Promise<Comparison> {
  let stock = Infinity;
  let fixed = Infinity;
  for (let r = 0; r < reps; r++) {
    unregisterWasmKernels();
    stock = Math.min(stock, await msPerCall(stockFn, minMs));
    registerWasmKernels();
    fixed = Math.min(fixed, await msPerCall(fixedFn, minMs));
  }
  return { name, unit: 'ms', stock, fixed, speedup: stock / fixed };
}

export async function compareFixes(opts: {
  reps: number;
  minMs: number;
  training: boolean;
  log: (s: string) => void;
}): Promise<Comparison[]> {
  const { reps, minMs } = opts;
  const out: Comparison[] = [];
  const keep: tf.Tensor[] = [];
  const t = (shape: number[]) => {
    const x = tf.randomNormal(shape);
    keep.push(x);
    return x;
  };
  try {
    const x = t([256, 784]);
    const w = t([784, 512]);
    const dy = t([256, 512]);
    // [name, Lopper's computation, and tfjs' own where it differs (layers Lopper replaces)]
    const cases: [string, () => tf.Tensor, (() => tf.Tensor)?][] = [
      ['matmul [256,784]x[784,512] (forward, unchanged)', () => tf.matMul(x, w)],
      ['matmul dX = dy·Wᵀ [256,512]x[512,784]', () => tf.matMul(dy, w, false, true)],
      ['matmul dW = xᵀ·dy [784,256]x[256,512]', () => tf.matMul(x, dy, true, false)],
    ];
    const x32 = t([32, 784]);
    // A fresh weight tensor per call, as in training (XNNPACK repacks a weight it has not seen).
    cases.push([
      'matmul [32,784]x[784,512], new weights each call (training at batch 32)',
      () => tf.tidy(() => tf.matMul(x32, tf.add(w, 0))),
    ]);
    const act = t([4096, 64]);
    const dAct = t([4096, 256]);
    cases.push(['matmul dW = xᵀ·dy [64,4096]x[4096,256] (ViT fc1 weight gradient)', () => tf.matMul(act, dAct, true, false)]);
    const a3 = t([32, 16, 64]);
    const w3 = t([64, 256]);
    cases.push(['matmul [32,16,64]x[64,256] (3-D x 2-D)', () => tf.matMul(a3, w3)]);
    const q = t([32, 4, 16, 16]);
    const k = t([32, 4, 16, 16]);
    cases.push(['attention scores q·kᵀ [32,4,16,16]x[32,4,16,16]ᵀ', () => tf.matMul(q, k, false, true)]);
    const qkv = t([32, 16, 3, 4, 16]);
    cases.push(['transpose 5-D [32,16,3,4,16] → [3,32,4,16,16]', () => tf.transpose(qkv, [2, 0, 3, 1, 4])]);
    const gamma = t([1, 1, 64]);
    cases.push(['tile [1,1,64] × [32,16,1]', () => tf.tile(gamma, [32, 16, 1])]);
    const up = t([32, 16, 64]);
    const tileGrad = tf.grad((g: tf.Tensor) => tf.sum(tf.mul(tf.tile(g, [32, 16, 1]), up)));
    cases.push(['gradient of tile [1,1,64] × [32,16,1]', () => tileGrad(gamma)]);
    const parts = t([3, 32, 4, 16, 16]);
    cases.push([
      'unstack [3,32,4,16,16] (q, k, v)',
      () => {
        const [first, ...rest] = tf.unstack(parts);
        tf.dispose(rest);
        return first;
      },
    ]);
    const h = t([32, 16, 256]);
    cases.push(['erf [32,16,256] (GELU)', () => tf.erf(h)]);
    cases.push(['exp [32,16,256] (GELU gradient)', () => tf.exp(h)]);
    cases.push(['identity (clone) [32,16,256]', () => tf.clone(h)]);
    cases.push(['cast float32 → float32 [32,16,256] (in gradients)', () => tf.cast(h, 'float32')]);
    cases.push(['sum over rows [4096,64] → [64] (bias and γ gradients)', () => tf.sum(act, 0)]);
    const flat = t([204_938]);
    const sizes = Array.from({ length: 55 }, (_, i) => (i === 54 ? 204_938 - 54 * 3_000 : 3_000));
    cases.push([
      'split [204938] into 55 weights (AdamW)',
      () => {
        const [first, ...rest] = tf.split(flat, sizes);
        tf.dispose(rest);
        return first;
      },
    ]);
    const [pw, pg, pm, pv] = [t([669_706]), t([669_706]), t([669_706]), tf.abs(t([669_706]))];
    keep.push(pv);
    const mask = tf.cast(tf.greater(t([669_706]), 0), 'float32');
    keep.push(mask);
    const adamStep = { beta1: 0.9, beta2: 0.999, stepSize: 1e-4, epsilon: 1e-8, decay: 1.5e-7 };
    cases.push([
      "AdamW update of the MLP's 669,706 weights (flat)",
      () => {
        const [nw, nm, nv] = adamwUpdate(pw, pg, pm, pv, mask, adamStep);
        tf.dispose([nm, nv]);
        return nw;
      },
    ]);
    const tfjsGelu = new TfjsGelu();
    const geluStep = (f: (v: tf.Tensor) => tf.Tensor) => () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), h)))(h);
    cases.push(["GELU forward + backward [32,16,256] (tfjs-layers' vs Lopper's op)", geluStep(gelu), geluStep((v) => tfjsGelu.apply(v))]);
    const ln = t([32, 16, 64]);
    const [g64, b64] = [t([64]), t([64])];
    const tfjsLn = tf.layers.layerNormalization({ epsilon: 1e-6 });
    tfjsLn.build([32, 16, 64]);
    tfjsLn.setWeights([g64, b64]);
    const lnStep = (f: (v: tf.Tensor) => tf.Tensor) => () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), ln)))(ln);
    cases.push([
      "LayerNormalization forward + backward [32,16,64] (tfjs-layers' vs Lopper's op)",
      lnStep((v) => layerNorm(v, g64, b64, 1, 1e-6)),
      lnStep((v) => tfjsLn.apply(v) as tf.Tensor),
    ]);
    for (const [name, fn, stockFn] of cases) {
      const c = await kernelCase(name, fn, reps, minMs, stockFn);
      opts.log(`  ${name}: ${c.stock.toFixed(3)} → ${c.fixed.toFixed(3)} ms (${c.speedup.toFixed(1)}x)`);
      out.push(c);
    }
    tfjsLn.weights.forEach((v) => v.dispose()); // built, never applied: Layer.dispose() refuses
  } finally {
    unregisterWasmKernels();
    registerWasmKernels();
    keep.forEach((k) => k.dispose());
  }
  if (opts.training) {
    for (const [label, build, sample, batch, n] of [
      ['training MLP, batch 256', (variant: 'lopper' | 'tfjs') => (void variant, buildMlp()), [MLP.input], 256, 1024],
      ['training tiny ViT, batch 32', (variant: 'lopper' | 'tfjs') => buildTinyVit(1, variant), [VIT.tokens, VIT.patch], 32, 128],
    ] as const) {
      // Stock: tfjs' kernels and tfjs' LayerNormalization; Lopper: its kernels and its layer.
      const stockModel = build('tfjs');
      const model = build('lopper');
      const data = syntheticData(n, [...sample], 10);
      try {
        unregisterWasmKernels();
        const stock = await trainingRate(stockModel, data, batch, 0, 1);
        registerWasmKernels();
        const fixed = await trainingRate(model, data, batch, 0, 1);
        const c: Comparison = { name: label, unit: 'samples/s', stock: stock.best, fixed: fixed.best, speedup: fixed.best / stock.best };
        opts.log(`  ${label}: ${c.stock.toFixed(0)} → ${c.fixed.toFixed(0)} samples/s (${c.speedup.toFixed(1)}x)`);
        out.push(c);
      } finally {
        registerWasmKernels();
        stockModel.dispose();
        model.dispose();
      }
    }
  }
  return out;
}
