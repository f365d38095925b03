// Normalization between fc1 and its activation (BatchNormalization is pruned with the neuron,
// LayerNormalization makes the block not prunable), and blocks whose hidden output leaks into a
// residual or a concatenation: reported with the reason while the rest of the model is pruned.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { blockSummary, fineTuneOneStep, pruneAndCompare, randomInput, reloadPlain } from './helpers.js';

let seed = 70;
const init = () => tf.initializers.glorotUniform({ seed: seed++ });

/** BatchNormalization with non-trivial moving statistics, so that slicing them wrongly shows. */
function setBatchNormStats(layer: tf.layers.Layer): void {
  const [gamma, beta, mean, variance] = layer.getWeights();
  const n = gamma.shape[0];
  layer.setWeights(
    [tf.linspace(0.5, 1.5, n), tf.linspace(-0.3, 0.3, n), tf.linspace(-0.5, 0.4, n), tf.linspace(0.2, 2, n)].map((t, i) =>
      tf.reshape(t, [gamma, beta, mean, variance][i].shape),
    ),
  );
}

function batchNormModel(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 5] });
  // Dense fc1 → BN → relu → Dense fc2 (on 4-D input), then 1×1 conv fc1 → BN → swish → 1×1 conv fc2
  let x = tf.layers.dense({ units: 12, name: 'fc1', kernelInitializer: init() }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'act1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 6, name: 'fc2', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 10, kernelSize: 1, name: 'conv1', useBias: false, kernelInitializer: init() })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ axis: 3, name: 'bn2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'swish', name: 'act2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 4, kernelSize: 1, name: 'conv2', useBias: false, kernelInitializer: init() })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  setBatchNormStats(model.getLayer('bn1'));
  setBatchNormStats(model.getLayer('bn2'));
  return model;
}

function leakyModel(): tf.LayersModel {
  const input = tf.input({ shape: [5, 8] });
  // residual tap: the hidden output of 'tapped' goes to its fc2 and to an Add
  const tapped = tf.layers
    .dense({ units: 8, activation: 'gelu', name: 'tapped', kernelInitializer: init() })
    .apply(input) as tf.SymbolicTensor;
  const back = tf.layers.dense({ units: 8, name: 'tapped_fc2', kernelInitializer: init() }).apply(tapped) as tf.SymbolicTensor;
  let x = tf.layers.add({ name: 'residual' }).apply([tapped, back]) as tf.SymbolicTensor;
  // concatenation after an activation layer
  const h = tf.layers.dense({ units: 10, name: 'concat_fc1', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  const act = tf.layers.activation({ activation: 'relu', name: 'concat_act' }).apply(h) as tf.SymbolicTensor;
  const h2 = tf.layers.dense({ units: 8, name: 'concat_fc2', kernelInitializer: init() }).apply(act) as tf.SymbolicTensor;
  x = tf.layers.concatenate({ name: 'concat' }).apply([act, h2]) as tf.SymbolicTensor;
  // LayerNormalization over the hidden units (NormFormer-style MLP)
  let n = tf.layers.dense({ units: 12, activation: 'gelu', name: 'ln_fc1', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  n = tf.layers.layerNormalization({ name: 'mlp_ln' }).apply(n) as tf.SymbolicTensor;
  n = tf.layers.dense({ units: 8, name: 'ln_fc2', kernelInitializer: init() }).apply(n) as tf.SymbolicTensor;
  // a clean block that must still be pruned
  let m = tf.layers
    .dense({ units: 16, activation: 'relu', name: 'ok_fc1', kernelInitializer: init(), biasInitializer: 'ones' })
    .apply(n) as tf.SymbolicTensor;
  m = tf.layers.dense({ units: 8, name: 'ok_fc2', kernelInitializer: init() }).apply(m) as tf.SymbolicTensor;
  m = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(m) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: init() }).apply(m) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe('normalization between fc1 and its activation', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('BatchNormalization (Dense on 4-D, 1×1 Conv2D without bias) is pruned along with the neuron, exactly', async () => {
    const model = batchNormModel();
    const { blocks } = findBlocks(model);
    // (fc2 → conv1 is a linear block: chains count, as in the core)
    assert.deepEqual(
      blocks.map((b) => [b.fc1, b.fc2, b.activation, b.norms]),
      [
        ['fc1', 'fc2', 'relu', ['bn1']],
        ['fc2', 'conv1', 'linear', []],
        ['conv1', 'conv2', 'swish', ['bn2']],
      ],
    );
    const x = randomInput([8, 4, 4, 5], 12);
    const check = await pruneAndCompare(model, x, 0.5);
    assert.ok(check.diff <= 1e-4, `diff ${check.diff}`);
    const kept = check.plans.map((p) => p.kept.length);
    assert.deepEqual(
      check.pruned
        .getLayer('bn1')
        .getWeights()
        .map((w) => w.shape[0]),
      [kept[0], kept[0], kept[0], kept[0]],
    );
    assert.deepEqual(
      check.pruned
        .getLayer('bn2')
        .getWeights()
        .map((w) => w.shape[0]),
      [kept[2], kept[2], kept[2], kept[2]],
    );
    // conv2 had no bias; the mean shift gave it one
    assert.equal(check.pruned.getLayer('conv2').getWeights().length, 2);
    (await reloadPlain(check.pruned, x)).dispose();
    const { unchanged } = await fineTuneOneStep(model, check.pruned, x);
    assert.deepEqual(unchanged, []);
  });

  it('a Keras-style BatchNormalization axis list ([3]) counts as the channel axis', () => {
    const topology = batchNormModel().toJSON(null, false) as any;
    const bn = topology.config.layers.find((l: any) => l.name === 'bn2');
    bn.config.axis = [3];
    return tf.models.modelFromJSON(topology).then((m) =>
      assert.deepEqual(
        findBlocks(m).blocks.map((b) => b.norms),
        [['bn1'], [], ['bn2']],
      ),
    );
  });
});

describe('hidden outputs that leak', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it("residual taps, concatenations and LayerNorm'd hidden units are reported; the clean block is pruned exactly", async () => {
    const model = leakyModel();
    const { blocks, notPrunable } = findBlocks(model);
    assert.deepEqual(blockSummary(blocks), [
      ['ln_fc2', 'ok_fc1', 8, 'linear'],
      ['ok_fc1', 'ok_fc2', 16, 'relu'],
    ]);
    const reasons = Object.fromEntries(notPrunable.map((n) => [n.layer, n.reason]));
    assert.match(reasons.tapped, /also goes to tapped_fc2, residual/);
    assert.match(reasons.concat_fc1, /hidden output of concat_act also goes to concat_fc2, concat/);
    assert.match(reasons.ln_fc1, /mlp_ln \(LayerNormalization\) normalizes across hidden units/);
    const x = randomInput([10, 5, 8], 13);
    const check = await pruneAndCompare(model, x, 0.5);
    assert.ok(check.diff <= 1e-4, `diff ${check.diff}`);
    assert.ok(check.pruned.getLayer('ok_fc1').getWeights()[0].shape[1]! < 16);
    assert.equal(check.pruned.getLayer('tapped').getWeights()[0].shape[1], 8); // untouched
    (await reloadPlain(check.pruned, x)).dispose();
    const { unchanged } = await fineTuneOneStep(model, check.pruned, x);
    assert.deepEqual(unchanged, []);
  });
});
