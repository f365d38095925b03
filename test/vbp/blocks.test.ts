import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { findBlocks } from '../../src/vbp/blocks.js';
import { countMacs } from '../../src/vbp/cost.js';
import { buildMlp } from '../../scripts/lib/train-mlp.js';

describe('findBlocks', () => {
  it('finds both blocks of a 784-512-512-10 chain (fc2 of one is fc1 of the next)', () => {
    const model = buildMlp({ inputSize: 784, hidden: [512, 512], classes: 10, dropout: 0.1 });
    const { blocks, notPrunable } = findBlocks(model);
    assert.deepEqual(
      blocks.map((b) => [b.fc1, b.fc2, b.hidden, b.activation]),
      [
        ['fc1', 'fc2', 512, 'relu'],
        ['fc2', 'classifier', 512, 'relu'],
      ],
    );
    assert.deepEqual(notPrunable, [{ layer: 'classifier', reason: 'its output is a model output' }]);
    assert.equal(countMacs(model), 784 * 512 + 512 * 512 + 512 * 10);
  });

  it('reports a hidden layer whose output also feeds a residual as not prunable, and keeps the others', () => {
    const input = tf.input({ shape: [16] });
    const a = tf.layers.dense({ units: 16, activation: 'gelu', name: 'tapped' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 16, name: 'after_tap' }).apply(a) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
    const h = tf.layers.dense({ units: 32, name: 'fc1' }).apply(sum) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
    const act = tf.layers.activation({ activation: 'relu', name: 'act' }).apply(bn) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: 'fc2' }).apply(act) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const { blocks, notPrunable } = findBlocks(model);
    assert.deepEqual(
      blocks.map((b) => [b.fc1, b.fc2, b.activation, b.norms]),
      [['fc1', 'fc2', 'relu', ['bn']]],
    );
    const tapped = notPrunable.find((n) => n.layer === 'tapped');
    assert.match(tapped!.reason, /also goes to/);
    assert.match(notPrunable.find((n) => n.layer === 'after_tap')!.reason, /add/i);
  });

  it('LayerNormalization over the hidden units makes a block not prunable', () => {
    const input = tf.input({ shape: [8] });
    const h = tf.layers.dense({ units: 12, name: 'fc1' }).apply(input) as tf.SymbolicTensor;
    const ln = tf.layers.layerNormalization({ name: 'ln' }).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, name: 'fc2' }).apply(ln) as tf.SymbolicTensor;
    const { blocks, notPrunable } = findBlocks(tf.model({ inputs: input, outputs: out }));
    assert.equal(blocks.length, 0);
    assert.match(notPrunable.find((n) => n.layer === 'fc1')!.reason, /LayerNormalization/);
  });
});
