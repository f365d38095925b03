// Where a training step's time goes on the current backend (meant for GPU backends, where the
// per-kernel dispatch cost, not arithmetic, bounds small models):
//   node dist/bench/dispatch.js        (LOPPER_BACKEND selects the backend)
// Prints the cost of one tiny kernel, then ms per MLP step at batch 512 for forward, forward +
// backward, and full steps with tfjs' Adam and Lopper's AdamW, and kernels per step.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { AdamW } from '../src/train/adamw.js';
import { buildMlp, buildTinyVit, MLP, VIT } from './models.js';

const log = (s: string) => console.log(s);

async function perCall(label: string, n: number, fn: () => tf.Tensor): Promise<number> {
  let last: tf.Tensor | null = null;
  for (let i = 0; i < 3; i++) {
    last?.dispose();
    last = fn();
  }
  await last!.data();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    last?.dispose();
    last = fn();
  }
  await last!.data();
  last!.dispose();
  const ms = (performance.now() - t0) / n;
  log(`${label}: ${ms.toFixed(3)} ms`);
  return ms;
}

async function kernelsPerCall(fn: () => void): Promise<number> {
  const p = await tf.profile(fn);
  return p.kernels.length;
}

/** Tiny-ViT inference at batch 512: predict vs apply, kernel count, GPU time by kernel. */
async function vitInference(): Promise<void> {
  const model = buildTinyVit();
  const x = tf.randomNormal([512, VIT.tokens, VIT.patch]);
  const variants: [string, () => tf.Tensor][] = [
    ['predict({batchSize: 512})', () => model.predict(x, { batchSize: 512 }) as tf.Tensor],
    ['predict() (default batchSize 32)', () => model.predict(x) as tf.Tensor],
    ['apply()', () => tf.tidy(() => model.apply(x) as tf.Tensor)],
  ];
  for (const [name, fn] of variants) {
    const p = await tf.profile(() => {
      fn().dispose();
    });
    const byName = new Map<string, { ms: number; n: number }>();
    for (const k of p.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += Number(k.kernelTimeMs) || 0;
      e.n++;
      byName.set(k.name, e);
    }
    const gpu = [...byName.values()].reduce((a, e) => a + e.ms, 0);
    await perCall(`ViT batch 512 ${name}: ${p.kernels.length} kernels, ${gpu.toFixed(1)} ms kernel time`, 5, fn);
    log(
      '   ' +
        [...byName.entries()]
          .sort((a, b) => b[1].ms - a[1].ms)
          .slice(0, 8)
          .map(([k, e]) => `${k} ${e.ms.toFixed(1)}/${e.n}`)
          .join(', '),
    );
  }
}

async function main(): Promise<void> {
  const info = await initBackend();
  log(`backend ${info.backend} on ${info.device}`);
  if (process.argv.includes('--vit')) {
    await vitInference();
    if (tf.getBackend() === 'webgpu') {
      tf.env().set('WEBGPU_CPU_FORWARD', false);
      log('WEBGPU_CPU_FORWARD=false:');
      await vitInference();
    }
    return;
  }
  const a = tf.randomNormal([64]);
  const b = tf.randomNormal([64]);
  await perCall('one add of 64 floats (dispatch cost)', 2000, () => tf.add(a, b));
  await perCall('one add with a JS number (scalar upload)', 2000, () => tf.add(a, 0.5));
  const big = tf.randomNormal([512, 512]);
  await perCall('one add of 512x512', 500, () => tf.add(big, big));
  const x512 = tf.randomNormal([512, 784]);
  const w = tf.randomNormal([784, 512]);
  await perCall('matmul 512x784x512', 200, () => tf.matMul(x512, w));
  await perCall('upload 512x784 floats', 200, () => tf.tensor(new Float32Array(512 * 784), [512, 784]));

  const model = buildMlp();
  const batch = 512;
  const x = tf.randomNormal([batch, MLP.input]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const variants: [string, () => tf.Tensor][] = [
    ['forward', () => tf.tidy(loss)],
    [
      'forward + backward',
      () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(loss, vars);
          tf.dispose(grads);
          return value;
        }),
    ],
  ];
  const adam = tf.train.adam(1e-4);
  const adamw = new AdamW({ learningRate: 1e-4 });
  variants.push(['step with tf.train.adam', () => tf.tidy(() => adam.minimize(loss, true, vars)!)]);
  variants.push(['step with AdamW', () => tf.tidy(() => adamw.minimize(loss, true, vars)!)]);
  for (const [name, fn] of variants) {
    const k = await kernelsPerCall(() => {
      fn().dispose();
    });
    await perCall(`MLP batch ${batch}: ${name} (${k} kernels)`, 20, fn);
  }
  for (const size of tf.getBackend() === 'webgpu' ? [64, 1000] : []) {
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', size);
    await perCall(`MLP batch ${batch}: step with AdamW, submit every ${size} dispatches`, 20, variants[3][1]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
