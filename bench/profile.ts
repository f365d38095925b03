// Where training time goes, kernel by kernel: `node dist/bench/profile.js [mlp|vit] [batch] [steps]`.
// Runs on the backend LOPPER_BACKEND selects (default auto); with LOPPER_FIXES=off on wasm,
// the stock kernels. Prints total kernel milliseconds per kernel name, largest first.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { unregisterWasmKernels } from '../src/engine/wasm-kernels.js';
import { AdamW } from '../src/train/adamw.js';
import { buildMlp, buildTinyVit, MLP, VIT } from './models.js';

const which = (process.argv[2] ?? 'vit') as 'mlp' | 'vit';
const batch = Number(process.argv[3] ?? 32);
const steps = Number(process.argv[4] ?? 3);

const info = await initBackend();
if (process.env.LOPPER_FIXES === 'off') unregisterWasmKernels();
console.log(`${info.backend} on ${info.device}, ${which}, batch ${batch}, fixes ${process.env.LOPPER_FIXES ?? 'on'}`);
const model = which === 'mlp' ? buildMlp() : buildTinyVit();
const sample = which === 'mlp' ? [MLP.input] : [VIT.tokens, VIT.patch];
const x = tf.randomNormal([batch, ...sample]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
const opt = new AdamW({ learningRate: 1e-4 });
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const step = () =>
  tf.tidy(() => {
    opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, false, vars);
  });
step();
step();
const t0 = performance.now();
const prof = await tf.profile(() => {
  for (let i = 0; i < steps; i++) step();
});
const wall = performance.now() - t0;
const byName = new Map<string, { ms: number; calls: number }>();
for (const k of prof.kernels) {
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += Number(k.kernelTimeMs) || 0;
  e.calls++;
  byName.set(k.name, e);
}
const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log(
  `wall ${(wall / steps).toFixed(1)} ms/step (profiled), kernels ${(total / steps).toFixed(1)} ms/step, ${(prof.kernels.length / steps).toFixed(0)} launches/step`,
);
const detail = process.env.LOPPER_PROFILE_KERNEL;
if (detail) {
  const shapes = new Map<string, { ms: number; calls: number }>();
  for (const k of prof.kernels.filter((k) => k.name === detail)) {
    const key = JSON.stringify(k.inputShapes) + ' ' + JSON.stringify((k as any).extraInfo ?? '');
    const e = shapes.get(key) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    shapes.set(key, e);
  }
  for (const [key, e] of [...shapes.entries()].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`  ${detail} ${key} ${(e.ms / steps).toFixed(2)} ms ${e.calls / steps} calls`);
}
for (const [name, e] of rows.slice(0, 25))
  console.log(`${name.padEnd(24)} ${(e.ms / steps).toFixed(2).padStart(9)} ms ${String(e.calls / steps).padStart(7)} calls`);
