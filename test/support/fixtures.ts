// Fixtures built by code: a tiny Dense MLP saved as model.json + weights.bin (TF.js Layers format),
// plus (from request-fixtures.ts, which needs no TensorFlow.js) .npz datasets and multipart bodies.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveModelFiles } from '../../src/io/model-save.js';

/** Input 8 → Dense(16, relu) → Dense(3) logits: one prunable block. Returns the folder's files. */
export async function writeTinyModel(dir: string, opts: { inputDim?: number; hidden?: number; classes?: number; seed?: number } = {}) {
  const { inputDim = 8, hidden = 16, classes = 3, seed = 1 } = opts;
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [inputDim],
        units: hidden,
        activation: 'relu',
        name: 'fc1',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({ units: classes, name: 'fc2', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  await mkdir(dir, { recursive: true });
  await saveModelFiles(model, dir);
  model.dispose();
  return {
    modelJson: await readFile(join(dir, 'model.json')),
    weights: await readFile(join(dir, 'weights.bin')),
  };
}

export { datasetNpz, modelParts, multipart, writeDataset, type Part } from './request-fixtures.js';
