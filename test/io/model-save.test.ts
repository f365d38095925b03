// Saving: the written files load with plain tfjs (no Lopper code) and predict identically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { loadModel } from '../../src/io/model-files.js';
import { saveModelFiles, zipModelFiles } from '../../src/io/model-save.js';

test('save → reload with plain tfjs gives identical predictions; zip holds the same model', async () => {
  await tf.setBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'lopper-save-'));
  try {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    const x = tf.randomNormal([8, 5, 5, 2], 0, 1, 'float32', 11);
    const expected = (model.predict(x) as tf.Tensor).dataSync();

    const out = join(dir, 'out', 'nested');
    const written = await saveModelFiles(model, out);
    assert.deepEqual(written, [join(out, 'model.json'), join(out, 'weights.bin')]);
    assert.deepEqual(readdirSync(out).sort(), ['model.json', 'weights.bin']); // no temp files left

    const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.equal(json.convertedBy, 'Lopper');
    assert.match(json.generatedBy, /TensorFlow\.js/);
    assert.equal(json.weightsManifest.length, 1);
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    assert.ok(json.weightsManifest[0].weights.every((w: { dtype: string }) => w.dtype === 'float32'));

    const bin = readFileSync(join(out, 'weights.bin'));
    const plain = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    assert.deepEqual((plain.predict(x) as tf.Tensor).dataSync(), expected);

    const zipPath = await zipModelFiles(out);
    assert.equal(zipPath, join(out, 'model.zip'));
    const entries = unzipSync(readFileSync(zipPath));
    assert.deepEqual(Object.keys(entries).sort(), ['model.json', 'weights.bin']);
    assert.deepEqual(Buffer.from(entries['weights.bin']), bin);
    const fromZip = await loadModel(zipPath);
    assert.deepEqual((fromZip.model.predict(x) as tf.Tensor).dataSync(), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
