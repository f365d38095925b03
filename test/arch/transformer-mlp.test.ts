// Transformer MLPs: Dense on 3-D [batch, tokens, dim] inputs with gelu / gelu_new / relu / swish
// (own activation or an Activation layer) and Dropout between; statistics over every token.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { blockSummary, fineTuneOneStep, pruneAndCompare, randomInput, reloadPlain } from './helpers.js';

const TOKENS = 6;
const DIM = 8;

function transformerMlps(): tf.LayersModel {
  let seed = 20;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const dense = (units: number, name: string, activation?: 'gelu' | 'gelu_new' | 'relu' | 'swish') =>
    tf.layers.dense({
      units,
      activation,
      name,
      kernelInitializer: init(),
      biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: seed++ }),
    });
  const input = tf.input({ shape: [TOKENS, DIM] });
  let x = dense(16, 'mlp1_fc1', 'gelu').apply(input) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.1, name: 'mlp1_drop' }).apply(x) as tf.SymbolicTensor;
  x = dense(12, 'mlp2_fc1', 'gelu_new').apply(x) as tf.SymbolicTensor; // fc2 of mlp1, fc1 of mlp2
  x = tf.layers.dropout({ rate: 0.1, name: 'mlp2_drop' }).apply(x) as tf.SymbolicTensor;
  x = dense(16, 'mlp3_fc1', 'relu').apply(x) as tf.SymbolicTensor;
  x = dense(10, 'mlp4_fc1').apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'swish', name: 'mlp4_act' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.1, name: 'mlp4_drop' }).apply(x) as tf.SymbolicTensor;
  x = dense(DIM, 'mlp4_fc2').apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'head', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe('transformer MLP blocks (Dense on [batch, tokens, dim])', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('finds every block with its activation', () => {
    const { blocks, notPrunable } = findBlocks(transformerMlps());
    assert.deepEqual(blockSummary(blocks), [
      ['mlp1_fc1', 'mlp2_fc1', 16, 'gelu'],
      ['mlp2_fc1', 'mlp3_fc1', 12, 'gelu_new'],
      ['mlp3_fc1', 'mlp4_fc1', 16, 'relu'],
      ['mlp4_fc1', 'mlp4_fc2', 10, 'swish'],
    ]);
    assert.match(notPrunable.find((n) => n.layer === 'mlp4_fc2')!.reason, /pool \(GlobalAveragePooling1D\)/);
  });

  for (const criterion of ['variance', 'variance-output', 'magnitude', 'random'] as const) {
    it(`${criterion}: pruned model equals mean replacement over every token (≤ 1e-4)`, async () => {
      const model = transformerMlps();
      const x = randomInput([20, TOKENS, DIM], 7);
      const check = await pruneAndCompare(model, x, 0.4, criterion);
      assert.ok(check.diff <= 1e-4, `diff ${check.diff}`);
      assert.equal(check.stats[0].count, 20 * TOKENS);
      assert.ok(check.pruned.countParams() < model.countParams());
      check.pruned.dispose();
      model.dispose();
    });
  }

  it('the pruned model (gelu_new included) reloads with plain tf.loadLayersModel and one fine-tuning step changes it', async () => {
    const model = transformerMlps();
    const x = randomInput([16, TOKENS, DIM], 8);
    const { pruned } = await pruneAndCompare(model, x, 0.5);
    (await reloadPlain(pruned, x)).dispose();
    const { unchanged } = await fineTuneOneStep(model, pruned, x);
    assert.deepEqual(unchanged, []);
  });
});
