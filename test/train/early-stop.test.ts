// fineTune.earlyStop: fine-tuning ends on a validation split of the training data once it reaches
// the retention asked for, or stops improving; the report says epochs run against planned.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { encodeNpz } from '../../src/io/npz-write.js';
import { runPipeline } from '../../src/pipeline.js';
import { fineTuneSchema, pruningSchema } from '../../src/request.js';
import { EarlyStop } from '../../src/train/early-stop.js';
import { writeTinyModel } from '../support/fixtures.js';

let dir: string;
before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'lopper-early-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

test('EarlyStop: a reached retention stops at once; no improvement for `patience` epochs stops; the last epoch never "stops"', () => {
  const byRetention = new EarlyStop({ patience: 3, retention: 0.99 }, 10, 50);
  assert.deepEqual(
    [0.9, 0.95, 0.991].map((r) => byRetention.record(r)),
    [false, false, true],
  );
  assert.equal(byRetention.report.stopped, 'retention');
  assert.equal(byRetention.report.epochsRun, 3);

  const byPatience = new EarlyStop({ patience: 2 }, 10, 50);
  assert.deepEqual(
    [0.9, 0.95, 0.94, 0.95].map((r) => byPatience.record(r)),
    [false, false, false, true],
  );
  assert.equal(byPatience.report.stopped, 'patience');

  const ranAll = new EarlyStop({ patience: 1 }, 2, 50);
  assert.deepEqual(
    [0.9, 0.8].map((r) => ranAll.record(r)),
    [false, false],
  );
  assert.equal(ranAll.report.stopped, null);
});

test('on an easy model the pipeline stops after the first epoch that keeps the retention asked for', async () => {
  await writeTinyModel(join(dir, 'model'));
  // Labels the tiny model's own argmax would give are not needed: without labels retention is
  // agreement with the original, which fine-tuning restores quickly.
  let s = 5;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = Float32Array.from({ length: 600 * 8 }, () => rand() * 2 - 1);
  await writeFile(join(dir, 'train.npz'), encodeNpz({ x: { data: x, shape: [600, 8] } }));
  const report = await runPipeline({
    model: join(dir, 'model', 'model.json'),
    data: join(dir, 'train.npz'),
    outDir: join(dir, 'out'),
    pruning: pruningSchema.parse({ ratio: 0.25, calibrationSamples: 64 }),
    fineTune: fineTuneSchema.parse({ epochs: 20, learningRate: 3e-3, earlyStop: { retention: 0.9, patience: 3 } }),
    backend: 'wasm',
  });
  const es = report.fineTune.earlyStop!;
  assert.equal(es.epochsPlanned, 20);
  assert.ok(es.epochsRun < 20, JSON.stringify(es));
  assert.equal(report.fineTune.epochs.length, es.epochsRun);
  assert.equal(es.stopped, 'retention');
  assert.ok(es.validation.at(-1)! >= 0.9);
  assert.equal(es.validationSamples, 54); // 10% of the 540 training samples (60 are held out for evaluation)
});
