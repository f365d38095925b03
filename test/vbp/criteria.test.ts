// The scores each criterion gives: variance-output is σ²ⱼ·‖W2[j,:]‖², for Dense and 1×1-conv fc2.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.js';
import { findBlocks } from '../../src/vbp/blocks.js';
import { scoreNeurons } from '../../src/vbp/criteria.js';
import { selectKept } from '../../src/vbp/ranking.js';

before(async () => {
  await initBackend('cpu');
});

const stats = (variance: number[]) => ({ mean: new Float64Array(variance.length), variance: Float64Array.from(variance), count: 10 });

test('variance-output scales each variance by the squared norm of the neuron’s fc2 row', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'relu', name: 'fc1' }), tf.layers.dense({ units: 2, name: 'fc2' })],
  });
  // fc2 kernel [hidden 3, out 2]: row norms² 1, 25, 0.25.
  model.getLayer('fc2').setWeights([
    tf.tensor2d([
      [1, 0],
      [3, 4],
      [0.3, 0.4],
    ]),
    tf.zeros([2]),
  ]);
  const { blocks } = findBlocks(model);
  const [scores] = await scoreNeurons('variance-output', model, blocks, [stats([4, 0.1, 2])], 0);
  assert.deepEqual(
    Array.from(scores).map((s) => +s.toFixed(6)),
    [4, 2.5, 0.5],
  );
  // Variance alone would drop neuron 1 first; through fc2 it matters more than neuron 2.
  assert.deepEqual(Array.from(selectKept([Float64Array.from([4, 0.1, 2])], 1 / 3, 'global')[0]), [0, 2]);
  assert.deepEqual(Array.from(selectKept([scores], 1 / 3, 'global')[0]), [0, 1]);
  model.dispose();
});

test('variance-output reads a 1×1 convolution’s kernel [1, 1, hidden, out] by rows too', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [2, 2, 1], filters: 2, kernelSize: 1, activation: 'relu', name: 'fc1' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'fc2' }),
    ],
  });
  model.getLayer('fc2').setWeights([
    tf.tensor4d([
      [
        [
          [1, 1, 1],
          [0, 2, 0],
        ],
      ],
    ]),
    tf.zeros([3]),
  ]);
  const { blocks } = findBlocks(model);
  const [scores] = await scoreNeurons('variance-output', model, blocks, [stats([1, 1])], 0);
  assert.deepEqual(Array.from(scores), [3, 4]);
  model.dispose();
});
