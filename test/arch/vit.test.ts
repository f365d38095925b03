// A Keras ViT as tensorflowjs_converter writes it (Conv2D patch projection, vit-keras ClassToken,
// keras_nlp PositionEmbedding + Add, LayerNormalization, MultiHeadAttention called with kwargs,
// GELU MLP blocks with residual Adds, a LayerNorm'd head): it loads through src/io, its attention
// equals a plain float64 computation, its MLP blocks are found and pruned exactly, the result reloads
// with plain tfjs and fine-tunes. Plus Lopper's MultiHeadAttention on its own (cross-attention,
// value_dim ≠ key_dim, output_shape, 4-D query, causal mask, the settings it refuses) and unknown
// classes at inspection.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { inspectModelFiles } from '../../src/inspect.js';
import { artifactsFromFiles, loadModel, loadModelFromArtifacts } from '../../src/io/model-files.js';
import { encodeNpz } from '../../src/io/npz-write.js';
import { MultiHeadAttention } from '../../src/layers/index.js';
import { runPipeline } from '../../src/pipeline.js';
import { fineTuneSchema, pruningSchema } from '../../src/request.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { countMacs } from '../../src/vbp/cost.js';
import { blockSummary, fineTuneOneStep, pruneAndCompare, randomInput, reloadPlain } from './helpers.js';
import { KerasModelJson, seededValues } from '../support/keras-json.js';

type Arr = Float32Array | Float64Array;

/** Multi-head attention by definition, in float64: x [b, t, d] flat, weights as Keras shapes them. */
function referenceAttention(
  q: Arr,
  v: Arr,
  k: Arr,
  dims: { b: number; tq: number; tk: number; dq: number; dv: number; dk: number },
  w: Record<string, Arr>,
  heads: number,
  keyDim: number,
  valueDim: number,
  out: number,
  causal = false,
): Float64Array {
  const { b, tq, tk, dq, dv, dk } = dims;
  const proj = (x: Arr, t: number, d: number, kernel: Arr, bias: Arr, h: number, per: number) => {
    const y = new Float64Array(t * per);
    for (let i = 0; i < t; i++) {
      for (let p = 0; p < per; p++) {
        let s = bias[h * per + p];
        for (let c = 0; c < d; c++) s += x[i * d + c] * kernel[(c * heads + h) * per + p];
        y[i * per + p] = s;
      }
    }
    return y;
  };
  const result = new Float64Array(b * tq * out);
  for (let n = 0; n < b; n++) {
    const xq = q.subarray(n * tq * dq, (n + 1) * tq * dq);
    const xv = v.subarray(n * tk * dv, (n + 1) * tk * dv);
    const xk = k.subarray(n * tk * dk, (n + 1) * tk * dk);
    for (let h = 0; h < heads; h++) {
      const Q = proj(xq, tq, dq, w.qk, w.qb, h, keyDim);
      const K = proj(xk, tk, dk, w.kk, w.kb, h, keyDim);
      const V = proj(xv, tk, dv, w.vk, w.vb, h, valueDim);
      for (let i = 0; i < tq; i++) {
        const scores = new Float64Array(tk);
        let max = -Infinity;
        for (let j = 0; j < tk; j++) {
          let s = 0;
          for (let p = 0; p < keyDim; p++) s += Q[i * keyDim + p] * K[j * keyDim + p];
          scores[j] = causal && j > i ? -Infinity : s / Math.sqrt(keyDim);
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < tk; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let p = 0; p < valueDim; p++) {
          let o = 0;
          for (let j = 0; j < tk; j++) o += (scores[j] / sum) * V[j * valueDim + p];
          for (let e = 0; e < out; e++) result[(n * tq + i) * out + e] += o * w.ok[(h * valueDim + p) * out + e];
        }
      }
    }
    for (let i = 0; i < tq; i++) for (let e = 0; e < out; e++) result[(n * tq + i) * out + e] += w.ob[e];
  }
  return result;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The converter-style ViT: 8×8×1 images, 2×2 patches → 16 tokens + class token, dim 16. */
function buildVitJson(): KerasModelJson {
  const k = new KerasModelJson();
  const dim = 16;
  const tokens = 17;
  let x = k.input('input_1', [8, 8, 1]);
  x = k.conv2d('conv2d', x, dim, 1, 2, 2);
  x = k.reshape('reshape', x, [16, dim]);
  x = k.classToken('class_token', x, dim);
  const pos = k.positionEmbedding('position_embedding', x, tokens, dim);
  x = k.addLayer('add', [x, pos]);
  // block 1: self-attention written as layer(x, x) → kwargs {value}
  let n = k.layerNorm('layer_normalization', x, dim, 2);
  let a = k.mha('multi_head_attention', n, { heads: 2, keyDim: 8, dim, tokens, dropout: 0.1 });
  x = k.addLayer('add_1', [a, x]);
  n = k.layerNorm('layer_normalization_1', x, dim, 2);
  let h = k.dense('dense', n, 32, dim, 'gelu');
  h = k.dropout('dropout', h, 0.1);
  h = k.dense('dense_1', h, dim, 32);
  h = k.dropout('dropout_1', h, 0.1);
  x = k.addLayer('add_2', [h, x]);
  // block 2: layer(x, x, x) → kwargs {value, key}; value_dim ≠ key_dim; explicit attention_axes
  n = k.layerNorm('layer_normalization_2', x, dim, 2);
  a = k.mha('multi_head_attention_1', n, { heads: 2, keyDim: 8, valueDim: 4, dim, tokens, key: n, attentionAxes: [1] });
  x = k.addLayer('add_3', [a, x]);
  n = k.layerNorm('layer_normalization_3', x, dim, 2);
  h = k.dense('dense_2', n, 32, dim, 'gelu');
  h = k.dense('dense_3', h, dim, 32);
  x = k.addLayer('add_4', [h, x]);
  // head: pooled → Dense(tanh) → LayerNormalization → classifier
  x = k.layerNorm('layer_normalization_4', x, dim, 2);
  x = k.globalAveragePooling1d('global_average_pooling1d', x);
  x = k.dense('dense_4', x, dim, dim, 'tanh');
  x = k.layerNorm('layer_normalization_5', x, dim, 1);
  k.dense('dense_5', x, 3, dim, 'softmax');
  return k;
}

const mhaWeights = (k: KerasModelJson, name: string) => ({
  qk: k.weight_(`${name}/query/kernel`).values,
  qb: k.weight_(`${name}/query/bias`).values,
  kk: k.weight_(`${name}/key/kernel`).values,
  kb: k.weight_(`${name}/key/bias`).values,
  vk: k.weight_(`${name}/value/kernel`).values,
  vb: k.weight_(`${name}/value/bias`).values,
  ok: k.weight_(`${name}/attention_output/kernel`).values,
  ob: k.weight_(`${name}/attention_output/bias`).values,
});

// On wasm (Lopper's kernels for layer norm, GELU and AdamW) and on cpu (the same ops' portable
// paths, which GPU backends run).
for (const backend of ['wasm', 'cpu'] as const)
  describe(`Keras-converted ViT on ${backend}`, () => {
    let dir: string;
    let keras: KerasModelJson;
    let model: tf.LayersModel;
    let x: tf.Tensor;

    before(async () => {
      await initBackend(backend);
      dir = mkdtempSync(join(tmpdir(), 'lopper-vit-'));
      keras = buildVitJson();
      keras.writeTo(join(dir, 'vit'), 'dense_5');
      model = (await loadModel(join(dir, 'vit', 'model.json'))).model;
      x = randomInput([12, 8, 8, 1], 5);
    });
    after(() => {
      model?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('loads through src/io with Lopper layers, weights in place', () => {
      const mha = model.getLayer('multi_head_attention');
      assert.ok(mha instanceof MultiHeadAttention);
      assert.deepEqual(
        mha.getWeights().map((w) => w.shape),
        [[16, 2, 8], [2, 8], [16, 2, 8], [2, 8], [16, 2, 8], [2, 8], [2, 8, 16], [16]],
      );
      assert.deepEqual(
        model
          .getLayer('multi_head_attention_1')
          .getWeights()
          .map((w) => w.shape)
          .slice(4),
        [[16, 2, 4], [2, 4], [2, 4, 16], [16]],
      );
      const pe = model.getLayer('position_embedding').getWeights()[0];
      assert.deepEqual(
        Array.from(pe.dataSync().slice(0, 4)),
        Array.from(keras.weight_('position_embedding/embeddings').values.slice(0, 4)),
      );
      assert.deepEqual(model.outputs[0].shape, [null, 3]);
      // self-attention resolved to one input; kwargs value+key resolved to the same tensor
      assert.equal((mha as any).inboundNodes[0].inputTensors.length, 1);
    });

    it('MultiHeadAttention matches a plain float64 computation (≤ 1e-5)', async () => {
      for (const [ln, name, valueDim] of [
        ['layer_normalization', 'multi_head_attention', 8],
        ['layer_normalization_2', 'multi_head_attention_1', 4],
      ] as const) {
        const probe = tf.model({
          inputs: model.inputs,
          outputs: [model.getLayer(ln).output as tf.SymbolicTensor, model.getLayer(name).output as tf.SymbolicTensor],
        });
        const [lnOut, attOut] = probe.predict(x) as tf.Tensor[];
        const input = (await lnOut.data()) as Float32Array;
        const expected = referenceAttention(
          input,
          input,
          input,
          { b: 12, tq: 17, tk: 17, dq: 16, dv: 16, dk: 16 },
          mhaWeights(keras, name),
          2,
          8,
          valueDim,
          16,
        );
        const diff = maxDiff((await attOut.data()) as Float32Array, expected);
        assert.ok(diff <= 1e-5, `${name}: max abs diff ${diff}`);
        tf.dispose([lnOut, attOut]);
      }
    });

    it("finds the MLP blocks and says why the residual-tapped and LayerNorm'd Dense layers are not prunable", () => {
      const { blocks, notPrunable } = findBlocks(model);
      assert.deepEqual(blockSummary(blocks), [
        ['dense', 'dense_1', 32, 'gelu'],
        ['dense_2', 'dense_3', 32, 'gelu'],
      ]);
      const reasons = Object.fromEntries(notPrunable.map((n) => [n.layer, n.reason]));
      assert.match(reasons.dense_1, /add_2 \(Add\)/);
      assert.match(reasons.dense_3, /add_4 \(Add\)/);
      assert.match(reasons.dense_4, /LayerNormalization/);
      assert.match(reasons.dense_5, /model output/);
    });

    it('counts attention MACs from the layer', () => {
      const attention = (valueDim: number) =>
        17 * 16 * 16 * 2 + 2 * 17 * 16 * valueDim * 1 + 2 * 17 * 17 * 8 + 2 * 17 * 17 * valueDim + 17 * 2 * valueDim * 16;
      const dense = 2 * (17 * 16 * 32 + 17 * 32 * 16) + 16 * 16 + 16 * 3;
      const conv = 4 * 1 * 16 * 16;
      assert.equal(countMacs(model), conv + attention(8) + attention(4) + dense);
    });

    it('prunes 50% exactly (mean replacement ≤ 1e-4), reloads with plain tfjs, fine-tunes every weight', async () => {
      const check = await pruneAndCompare(model, x, 0.5);
      assert.ok(check.diff <= 1e-4, `pruned vs mean-replaced: ${check.diff}`);
      // Every token counts as a sample for the statistics.
      assert.equal(check.stats[0].count, 12 * 17);
      assert.equal(
        check.plans.reduce((a, p) => a + p.kept.length, 0),
        32,
      );
      const reloaded = await reloadPlain(check.pruned, x);
      reloaded.dispose();
      const { changed, unchanged } = await fineTuneOneStep(model, check.pruned, x);
      assert.deepEqual(unchanged, []);
      for (const w of [
        'conv2d/kernel',
        'class_token/cls',
        'position_embedding/embeddings',
        'multi_head_attention/query/kernel',
        'multi_head_attention_1/attention_output/bias',
        'dense/kernel',
      ]) {
        assert.ok(changed.includes(w), `${w} changed`);
      }
      check.pruned.dispose();
    });

    it('runs through runPipeline (inspection, statistics, pruning, one distillation epoch, save) from the converter files', async () => {
      const n = 40;
      const images = (randomInput([n, 8, 8, 1], 21).dataSync() as Float32Array).slice();
      const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
      writeFileSync(join(dir, 'data.npz'), encodeNpz({ x: { data: images, shape: [n, 8, 8, 1] }, y: { data: labels, shape: [n] } }));
      const report = await runPipeline({
        model: join(dir, 'vit', 'model.json'),
        data: join(dir, 'data.npz'),
        outDir: join(dir, 'out'),
        backend,
        pruning: pruningSchema.parse({ ratio: 0.5, calibrationSamples: 32 }),
        fineTune: fineTuneSchema.parse({ epochs: 1, batchSize: 8, learningRate: 1e-3 }),
      });
      assert.deepEqual(
        report.blocks.map((b) => [b.fc1, b.kept]),
        [
          ['dense', report.blocks[0].kept],
          ['dense_2', 32 - report.blocks[0].kept],
        ],
      );
      assert.ok(report.macs.after < report.macs.before && report.params.after < report.params.before);
      assert.equal(report.fineTune.epochs.length, 1);
      const json = JSON.parse(readFileSync(join(dir, 'out', 'model.json'), 'utf8'));
      const weights = readFileSync(join(dir, 'out', 'weights.bin'));
      const reloaded = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
        }),
      );
      assert.ok(reloaded.getLayer('multi_head_attention') instanceof MultiHeadAttention);
      assert.deepEqual((reloaded.predict(tf.zeros([2, 8, 8, 1])) as tf.Tensor).shape, [2, 3]);
    });
  });

describe('MultiHeadAttention layer', () => {
  before(async () => {
    await initBackend('wasm');
  });

  const weightsOf = (layer: tf.layers.Layer) => {
    const [qk, qb, kk, kb, vk, vb, ok, ob] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
    return { qk, qb, kk, kb, vk, vb, ok, ob };
  };

  it('cross-attention with a separate key, value_dim ≠ key_dim and output_shape matches the plain computation', async () => {
    const q = tf.input({ shape: [5, 6] });
    const v = tf.input({ shape: [7, 4] });
    const k = tf.input({ shape: [7, 3] });
    const layer = new MultiHeadAttention({
      numHeads: 3,
      keyDim: 4,
      valueDim: 2,
      outputShape: 9,
      name: 'cross',
      kernelInitializer: 'glorot_uniform',
    });
    const out = layer.apply([q, v, k]) as tf.SymbolicTensor;
    assert.deepEqual(out.shape, [null, 5, 9]);
    const model = tf.model({ inputs: [q, v, k], outputs: out });
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(seededValues(w.size, 40 + i, 0.6), w.shape)));
    const xs = [randomInput([2, 5, 6], 1), randomInput([2, 7, 4], 2), randomInput([2, 7, 3], 3)];
    const y = model.predict(xs) as tf.Tensor;
    const [xq, xv, xk] = await Promise.all(xs.map((t) => t.data() as Promise<Float32Array>));
    const expected = referenceAttention(xq, xv, xk, { b: 2, tq: 5, tk: 7, dq: 6, dv: 4, dk: 3 }, weightsOf(layer), 3, 4, 2, 9);
    assert.ok(maxDiff((await y.data()) as Float32Array, expected) <= 1e-5);
    assert.equal(
      layer.macsPerSample([
        [null, 5, 6],
        [null, 7, 4],
        [null, 7, 3],
      ]),
      5 * 6 * 12 + 7 * 3 * 12 + 7 * 4 * 6 + 3 * 5 * 7 * 4 + 3 * 5 * 7 * 2 + 5 * 6 * 9,
    );
  });

  it('a 4-D query attends over all positions; a causal mask hides later tokens; both survive a save', async () => {
    const img = tf.input({ shape: [3, 2, 4] });
    const spatial = new MultiHeadAttention({ numHeads: 2, keyDim: 3, name: 'spatial' });
    const seq = tf.input({ shape: [6, 4] });
    const causal = new MultiHeadAttention({ numHeads: 2, keyDim: 3, name: 'causal' });
    const model = tf.model({
      inputs: [img, seq],
      outputs: [spatial.apply(img) as tf.SymbolicTensor, causal.apply(seq, { value: seq, useCausalMask: true }) as tf.SymbolicTensor],
    });
    const xs = [randomInput([2, 3, 2, 4], 4), randomInput([2, 6, 4], 6)];
    const [a, b] = model.predict(xs) as tf.Tensor[];
    assert.deepEqual(a.shape, [2, 3, 2, 4]);
    const [ximg, xseq] = await Promise.all(xs.map((t) => t.data() as Promise<Float32Array>));
    const expA = referenceAttention(ximg, ximg, ximg, { b: 2, tq: 6, tk: 6, dq: 4, dv: 4, dk: 4 }, weightsOf(spatial), 2, 3, 3, 4);
    const expB = referenceAttention(xseq, xseq, xseq, { b: 2, tq: 6, tk: 6, dq: 4, dv: 4, dk: 4 }, weightsOf(causal), 2, 3, 3, 4, true);
    assert.ok(maxDiff((await a.data()) as Float32Array, expA) <= 1e-5);
    assert.ok(maxDiff((await b.data()) as Float32Array, expB) <= 1e-5);
    const reloaded = await tf.models.modelFromJSON(model.toJSON(null, false) as any);
    reloaded.setWeights(model.getWeights());
    const [, b2] = reloaded.predict(xs) as tf.Tensor[];
    assert.equal(maxDiff(await b2.data(), await b.data()), 0);
  });

  it('unsupported attention_axes and attention_mask are refused with a clear message', () => {
    const x = tf.input({ shape: [3, 2, 4] });
    assert.throws(
      () => new MultiHeadAttention({ numHeads: 1, keyDim: 2, attentionAxes: [2] }).apply(x),
      /attention_axes \[2\] not supported/,
    );
    assert.throws(
      () => new MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply(x, { value: x, attentionMask: x }),
      /attention_mask is not supported/,
    );
  });

  it('regularizers and constraints, which it does not apply, are refused at load naming the layer, and never saved', async () => {
    const l2 = { className: 'L1L2', config: { l1: 0, l2: 0.01 } };
    for (const [key, keras] of [
      ['kernelRegularizer', 'kernel_regularizer'],
      ['biasRegularizer', 'bias_regularizer'],
      ['activityRegularizer', 'activity_regularizer'],
      ['kernelConstraint', 'kernel_constraint'],
      ['biasConstraint', 'bias_constraint'],
    ]) {
      assert.throws(
        () => new MultiHeadAttention({ numHeads: 1, keyDim: 2, name: 'mha', [key]: l2 }),
        new RegExp(`MultiHeadAttention mha: ${keras} .*L1L2.* is not supported`),
        key,
      );
    }
    // Keras writes all five, null: that loads, and the saved config leaves them out.
    const plain = new MultiHeadAttention({ numHeads: 1, keyDim: 2, kernelRegularizer: null, biasConstraint: null });
    assert.deepEqual(
      Object.keys(plain.getConfig()).filter((k) => /Regularizer|Constraint/.test(k)),
      [],
    );
    const k = new KerasModelJson();
    const x = k.input('input_1', [4, 6]);
    k.mha('attn', x, { heads: 2, keyDim: 3, dim: 6, tokens: 4 });
    k.layers.find((l) => l.name === 'attn').config.kernel_regularizer = { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } };
    await assert.rejects(
      loadModelFromArtifacts(artifactsFromFiles(k.files('attn'))),
      (e: unknown) =>
        e instanceof InputError &&
        e.field === 'model.json' &&
        /MultiHeadAttention attn: kernel_regularizer .* is not supported/.test(e.message),
    );
  });
});

describe('vit-keras layers and unknown classes', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('ClassToken and AddPositionEmbs (vit-keras) load with their weights and compute cls ⧺ x + pe', async () => {
    const k = new KerasModelJson();
    let x = k.input('input_1', [4, 6]);
    x = k.classToken('class_token', x, 6);
    x = k.addPositionEmbs('Transformer/posembed_input', x, 5, 6);
    k.globalAveragePooling1d('pool', x);
    const loaded = await loadModelFromArtifacts(artifactsFromFiles(k.files('pool')));
    const input = randomInput([2, 4, 6], 9);
    const out = (await (loaded.predict(input) as tf.Tensor).data()) as Float32Array;
    const xv = (await input.data()) as Float32Array;
    const cls = k.weight_('class_token/cls').values;
    const pe = k.weight_('Transformer/posembed_input/pos_embedding').values;
    const expected = new Float64Array(2 * 6);
    for (let b = 0; b < 2; b++) {
      for (let d = 0; d < 6; d++) {
        let s = cls[d] + pe[d];
        for (let t = 0; t < 4; t++) s += xv[(b * 4 + t) * 6 + d] + pe[(t + 1) * 6 + d];
        expected[b * 6 + d] = s / 5;
      }
    }
    assert.ok(maxDiff(out, expected) <= 1e-5);
  });

  it('a converter-style model.json with classes tfjs lacks is rejected at inspection, naming them', async () => {
    const k = new KerasModelJson();
    let x = k.input('input_1', [4, 6]);
    x = k.raw('TFOpLambda', 'tf.__operators__.add', { function: '__operators__.add' }, [x]);
    x = k.raw('Patches', 'patches', { patch_size: 2 }, [x]);
    k.dense('dense', x, 3, 6);
    await assert.rejects(
      inspectModelFiles(k.files('dense')),
      (e: unknown) =>
        e instanceof InputError && e.field === 'model.json' && /unknown layer class\(es\): TFOpLambda, Patches/.test(e.message),
    );
  });
});
