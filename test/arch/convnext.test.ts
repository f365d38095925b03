// ConvNeXt-style pointwise MLPs on channels-last feature maps: 1×1 Conv2D → gelu → 1×1 Conv2D,
// and Dense on 4-D input → Activation → Dense; statistics over every spatial position. Fine-tuning
// needs Conv2DBackpropFilter, which Lopper adds to the wasm backend (checked against cpu here);
// a depthwise convolution, whose gradient wasm lacks, fails the job before fine-tuning starts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { saveModelFiles } from '../../src/io/model-save.js';
import { encodeNpz } from '../../src/io/npz-write.js';
import { runPipeline } from '../../src/pipeline.js';
import { fineTuneSchema, pruningSchema } from '../../src/request.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { countMacs } from '../../src/vbp/cost.js';
import { blockSummary, fineTuneOneStep, pruneAndCompare, randomInput, reloadPlain } from './helpers.js';

const SIDE = 5;
const C = 6;

function convnextStyle(depthwise = false): tf.LayersModel {
  let seed = 50;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const bias = () => tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: seed++ });
  const input = tf.input({ shape: [SIDE, SIDE, 3] });
  const stem = tf.layers
    .conv2d({ filters: C, kernelSize: 3, padding: 'same', name: 'stem', kernelInitializer: init() })
    .apply(input) as tf.SymbolicTensor;
  let x = depthwise
    ? (tf.layers
        .depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw', depthwiseInitializer: init() })
        .apply(stem) as tf.SymbolicTensor)
    : stem;
  x = tf.layers.layerNormalization({ name: 'ln1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 4 * C, kernelSize: 1, activation: 'gelu', name: 'pw1', kernelInitializer: init(), biasInitializer: bias() })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: C, kernelSize: 1, name: 'pw2', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'res1' }).apply([x, stem]) as tf.SymbolicTensor;
  const y = tf.layers.layerNormalization({ name: 'ln2' }).apply(x) as tf.SymbolicTensor;
  let h = tf.layers.dense({ units: 4 * C, name: 'pw3', kernelInitializer: init(), biasInitializer: bias() }).apply(y) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'gelu', name: 'pw3_act' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: C, name: 'pw4', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'res2' }).apply([x, h]) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe('ConvNeXt-style pointwise MLPs', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('finds the 1×1 Conv2D and the 4-D Dense blocks; counts conv MACs with the kernel size', () => {
    const model = convnextStyle();
    const { blocks, notPrunable } = findBlocks(model);
    assert.deepEqual(blockSummary(blocks), [
      ['pw1', 'pw2', 24, 'gelu'],
      ['pw3', 'pw4', 24, 'gelu'],
    ]);
    assert.match(notPrunable.find((n) => n.layer === 'stem')?.reason ?? 'not considered', /not considered|goes to/);
    const positions = SIDE * SIDE;
    assert.equal(countMacs(model), positions * (9 * 3 * C + 4 * (C * 4 * C)) + C * 3);
  });

  it('pruned model equals mean replacement at every position (≤ 1e-4); reloads; one fine-tuning step trains every weight', async () => {
    const model = convnextStyle();
    const x = randomInput([10, SIDE, SIDE, 3], 3);
    const check = await pruneAndCompare(model, x, 0.5);
    assert.ok(check.diff <= 1e-4, `diff ${check.diff}`);
    assert.deepEqual(
      check.stats.map((s) => s.count),
      [10 * SIDE * SIDE, 10 * SIDE * SIDE],
    );
    const kept = check.pruned.getLayer('pw1').getWeights()[0].shape;
    assert.deepEqual(kept.slice(0, 3), [1, 1, C]);
    assert.equal(kept[3]! + check.pruned.getLayer('pw3').getWeights()[0].shape[1]!, 24);
    (await reloadPlain(check.pruned, x)).dispose();
    const { changed, unchanged } = await fineTuneOneStep(model, check.pruned, x);
    assert.deepEqual(unchanged, []);
    assert.ok(changed.includes('stem/kernel') && changed.includes('pw1/kernel'));
  });
});

describe('Conv2DBackpropFilter on wasm', () => {
  const cases: { x: number[]; f: number[]; strides: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 5, 5, 3], f: [1, 1, 3, 4], strides: 1, pad: 'valid' },
    { x: [2, 5, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
    { x: [3, 8, 8, 1], f: [2, 2, 1, 5], strides: 2, pad: 'valid' },
    { x: [1, 7, 6, 2], f: [3, 2, 2, 3], strides: 2, pad: 'same' },
  ];

  before(async () => {
    await initBackend('wasm');
  });

  it('matches the cpu backend (≤ 1e-4 relative)', async () => {
    const grads = async (backend: string) => {
      await tf.setBackend(backend); // wasm was initialised (with Lopper's kernels) in before()
      const out: Float32Array[] = [];
      for (const [i, c] of cases.entries()) {
        const x = tf.tensor(
          Float32Array.from({ length: c.x.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(j * 0.37 + i)),
          c.x as any,
        );
        const f = tf.tensor(
          Float32Array.from({ length: c.f.reduce((a, b) => a * b, 1) }, (_, j) => Math.cos(j * 0.21 + i)),
          c.f as any,
        );
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad))))(f);
        assert.deepEqual(g.shape, c.f);
        out.push((await g.data()) as Float32Array);
        tf.dispose([x, f, g]);
      }
      return out;
    };
    const expected = await grads('cpu');
    const actual = await grads('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    expected.forEach((e, i) => {
      const scale = Math.max(...Array.from(e, Math.abs));
      const diff = Math.max(...Array.from(e, (v, j) => Math.abs(v - actual[i][j])));
      assert.ok(diff <= 1e-4 * scale, `case ${i}: diff ${diff} (scale ${scale})`);
    });
  });
});

describe('a model wasm cannot fine-tune', () => {
  let dir: string;
  before(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'lopper-dw-'));
    await saveModelFiles(convnextStyle(true), join(dir, 'model'));
    const n = 24;
    const x = (randomInput([n, SIDE, SIDE, 3], 2).dataSync() as Float32Array).slice();
    writeFileSync(
      join(dir, 'data.npz'),
      encodeNpz({ x: { data: x, shape: [n, SIDE, SIDE, 3] }, y: { data: Int32Array.from({ length: n }, (_, i) => i % 3), shape: [n] } }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails the job with an InputError naming the missing kernel before statistics; epochs 0 still prunes', async () => {
    const stages: string[] = [];
    const run = (epochs: number, out: string) =>
      runPipeline(
        {
          model: join(dir, 'model', 'model.json'),
          data: join(dir, 'data.npz'),
          outDir: join(dir, out),
          backend: 'wasm',
          pruning: pruningSchema.parse({ ratio: 0.5, calibrationSamples: 16 }),
          fineTune: fineTuneSchema.parse({ epochs }),
        },
        { onProgress: (p) => stages.push(p.stage) },
      );
    await assert.rejects(
      run(1, 'out1'),
      (e: unknown) =>
        e instanceof InputError &&
        /DepthwiseConv2dNativeBackprop\w+ kernel, which the wasm backend lacks \(gradient of dw \(DepthwiseConv2D\)\)/.test(e.message),
    );
    assert.ok(!stages.includes('statistics'), `stages: ${stages}`);
    const report = await run(0, 'out0');
    assert.equal(report.blocks.length, 2);
    // and the backend still works after the failed gradient probe
    assert.equal(
      tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]),
      3,
    );
  });
});
