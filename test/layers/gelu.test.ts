// Lopper's "gelu" activation class: loaded models use it, it serializes as tfjs' does, and it
// computes tfjs-layers' exact-erf GELU (the op itself is tested in test/engine).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Gelu, TfjsGelu } from '../../src/layers/gelu.js';

it('Dense(activation: "gelu") from JSON uses Lopper\'s class, writes "gelu" back, and matches tfjs\' GELU', async () => {
  await tf.setBackend('cpu');
  const input = tf.input({ shape: [8] });
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 5, activation: 'gelu', name: 'fc' }).apply(input) as tf.SymbolicTensor,
  });
  const loaded = await tf.models.modelFromJSON(JSON.parse(JSON.stringify(model.toJSON(null, false))));
  loaded.setWeights(model.getWeights());
  const activation = (loaded.getLayer('fc') as unknown as { activation: unknown }).activation;
  assert.ok(activation instanceof Gelu);
  assert.equal(loaded.getLayer('fc').getConfig().activation, 'gelu');
  const x = tf.mul(tf.randomNormal([6, 8], 0, 1, 'float32', 1), 3);
  const [kernel, bias] = model.getWeights();
  const pre = tf.add(tf.matMul(x, kernel), bias);
  const want = new TfjsGelu().apply(pre).dataSync();
  const got = (loaded.predict(x) as tf.Tensor).dataSync();
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `[${i}] ${got[i]} vs ${want[i]}`);
});
