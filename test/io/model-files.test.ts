// Model loading: Keras-converter-style model.json with sharded, quantized weights; sources
// (folder, model.json, zip); and every manifest / topology rejection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { InputError } from '../../src/errors.js';
import { artifactsFromFiles, loadModel, loadModelFromArtifacts, readModelSource } from '../../src/io/model-files.js';
import { saveModelFiles } from '../../src/io/model-save.js';
import { converterFiles } from '../fixtures/converter-layout.js';

const rejects = (pattern: RegExp, field: string) => (e: unknown) =>
  e instanceof InputError && e.field === field && pattern.test(e.message);

let dir: string;
let model: tf.LayersModel;
let json: any; // model.json as saved by saveModelFiles
let weights: Float32Array;
const input = tf.randomUniform([16, 2, 3], -1, 1, 'float32', 5);

before(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'lopper-model-'));
  model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [2, 3] }),
      tf.layers.dense({ units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  await saveModelFiles(model, join(dir, 'saved'));
  json = JSON.parse(readFileSync(join(dir, 'saved', 'model.json'), 'utf8'));
  weights = new Float32Array(new Uint8Array(readFileSync(join(dir, 'saved', 'weights.bin'))).buffer);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const predict = (m: tf.LayersModel) => (m.predict(input) as tf.Tensor).dataSync() as Float32Array;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

/** Rewrites the saved model the way tensorflowjs_converter --quantize_{uint8,uint16} lays it out. */
function converterStyle(qdtype: 'uint8' | 'uint16', shards = 3) {
  const qmax = qdtype === 'uint8' ? 255 : 65535;
  const specs: any[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  const scales: number[] = [];
  for (const spec of json.weightsManifest[0].weights) {
    const size = spec.shape.reduce((a: number, b: number) => a * b, 1);
    const w = weights.subarray(offset, offset + size);
    offset += size;
    const min = Math.min(...w);
    const scale = (Math.max(...w) - min) / qmax || 1;
    const q = Array.from(w, (v) => Math.min(qmax, Math.max(0, Math.round((v - min) / scale))));
    parts.push(new Uint8Array((qdtype === 'uint8' ? Uint8Array.from(q) : Uint16Array.from(q)).buffer));
    specs.push({ ...spec, quantization: { dtype: qdtype, min, scale, original_dtype: 'float32' } });
    scales.push(scale);
  }
  const { class_name, config } = json.modelTopology;
  const { files, modelJson } = converterFiles({ class_name, config }, specs, Buffer.concat(parts), shards);
  return { files, scales, modelJson };
}

for (const [qdtype, tolerance] of [['uint8', 0.05], ['uint16', 2e-4]] as const) {
  test(`Keras-converter model.json, 3 shards, ${qdtype}-quantized: loads and predicts within quantization error`, async () => {
    const { files, scales } = converterStyle(qdtype);
    const artifacts = artifactsFromFiles(files);
    assert.equal(artifacts.weightSpecs!.length, 4);
    const loaded = await loadModelFromArtifacts(artifacts);
    // Every dequantized weight is within half a quantization step of the original.
    loaded.getWeights().forEach((w, k) => {
      assert.ok(maxDiff(w.dataSync(), model.getWeights()[k].dataSync()) <= scales[k] / 2 + 1e-6, `weight ${k}`);
    });
    assert.ok(maxDiff(predict(loaded), predict(model)) < tolerance);
    loaded.dispose();
  });
}

test('manifest naming a missing shard is rejected with the manifest path as field', () => {
  const { files } = converterStyle('uint8');
  files.delete('group1-shard2of3.bin');
  assert.throws(() => artifactsFromFiles(files), rejects(/"group1-shard2of3\.bin" named in model\.json was not provided/, 'weightsManifest[0].paths[1]'));
});

test('shards with too few or too many bytes are rejected naming both sizes', () => {
  const { files } = converterStyle('uint16');
  const need = 2 * weights.length;
  const shard = files.get('group1-shard3of3.bin')!;
  files.set('group1-shard3of3.bin', shard.subarray(0, shard.length - 2));
  assert.throws(() => artifactsFromFiles(files), rejects(new RegExp(`hold ${need - 2} bytes but the 4 weights listed need ${need} bytes`), 'weightsManifest[0]'));
  files.set('group1-shard3of3.bin', Buffer.concat([shard, Buffer.alloc(1)]));
  assert.throws(() => artifactsFromFiles(files), rejects(new RegExp(`hold ${need + 1} bytes`), 'weightsManifest[0]'));
});

test('bad model.json is rejected: missing, not JSON, graph model, no topology, bad weight entry', () => {
  const enc = (v: unknown) => new Map([['model.json', new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))]]);
  assert.throws(() => artifactsFromFiles(new Map()), rejects(/missing/, 'model.json'));
  assert.throws(() => artifactsFromFiles(enc('{"modelTopology": ')), rejects(/not valid JSON/, 'model.json'));
  assert.throws(() => artifactsFromFiles(enc({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] })), rejects(/graph model/, 'model.json'));
  assert.throws(() => artifactsFromFiles(enc({ weightsManifest: [] })), rejects(/no modelTopology/, 'model.json'));
  assert.throws(() => artifactsFromFiles(enc({ modelTopology: json.modelTopology })), rejects(/weightsManifest/, 'model.json'));
  const badDtype = { ...json, weightsManifest: [{ paths: [], weights: [{ name: 'w', shape: [1], dtype: 'string' }] }] };
  assert.throws(() => artifactsFromFiles(enc(badDtype)), rejects(/unsupported dtype "string"/, 'weightsManifest[0].weights[0]'));
  const noScale = { ...json, weightsManifest: [{ paths: [], weights: [{ name: 'w', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }] }] };
  assert.throws(() => artifactsFromFiles(enc(noScale)), rejects(/lacks numeric min and scale/, 'weightsManifest[0].weights[0]'));
});

test('unknown layer classes are all listed, including inside nested models', async () => {
  const topo = structuredClone(json.modelTopology);
  topo.config.layers[1].class_name = 'FancyAttention';
  topo.config.layers[2].class_name = 'MyNorm';
  topo.config.layers[2].config.kernel_initializer = { class_name: 'WeirdInit', config: {} };
  const artifacts = { ...artifactsFromFiles(new Map([['model.json', Buffer.from(JSON.stringify({ ...json, modelTopology: topo }))], ['weights.bin', readFileSync(join(dir, 'saved', 'weights.bin'))]])) };
  await assert.rejects(loadModelFromArtifacts(artifacts), rejects(/unknown layer class\(es\): FancyAttention, MyNorm; unknown class\(es\) inside layer configs: WeirdInit/, 'model.json'));

  const nested = {
    class_name: 'Sequential',
    config: {
      name: 'outer',
      layers: [
        { class_name: 'Sequential', config: { name: 'inner', layers: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 3] } }, { class_name: 'InnerOnly', config: {} }] } },
        { class_name: 'TimeDistributed', config: { layer: { class_name: 'WrappedOnly', config: {} } } },
      ],
    },
  };
  await assert.rejects(loadModelFromArtifacts({ modelTopology: nested, weightSpecs: [], weightData: new ArrayBuffer(0) }), rejects(/unknown layer class\(es\): InnerOnly, WrappedOnly \(/, 'model.json'));
});

test('other build failures surface tfjs’s message as an InputError', async () => {
  const renamed = artifactsFromFiles(new Map([['model.json', Buffer.from(JSON.stringify(json))], ['weights.bin', readFileSync(join(dir, 'saved', 'weights.bin'))]]));
  renamed.weightSpecs = renamed.weightSpecs!.map((s) => ({ ...s, name: `nope/${s.name}` }));
  await assert.rejects(loadModelFromArtifacts(renamed), rejects(/TensorFlow\.js cannot build the model: .*nope\//, 'model.json'));
});

test('sources: folder, model.json path, zip with model.json in a subfolder', async () => {
  const { files, modelJson } = converterStyle('uint8');
  const folder = join(dir, 'converted');
  mkdirSync(folder);
  for (const [name, data] of files) writeFileSync(join(folder, name), data);
  const zip = zipSync({
    'export/model/model.json': files.get('model.json')!,
    ...Object.fromEntries(modelJson.weightsManifest[0].paths.map((p) => [`export/model/${p}`, files.get(p)!])),
    'export/group1-shard1of3.bin': new Uint8Array(3), // same name, other folder: must be ignored
    '__MACOSX/export/model/._model.json': new Uint8Array(4),
  });
  writeFileSync(join(dir, 'converted.zip'), zip);
  const expected = predict((await loadModel(folder)).model);
  for (const source of [join(folder, 'model.json'), join(dir, 'converted.zip')]) {
    const read = await readModelSource(source);
    assert.deepEqual([...read.keys()].sort(), [...files.keys()].sort());
    assert.deepEqual(predict((await loadModel(source)).model), expected);
  }
});

test('source errors: missing path, folder without model.json, zip without model.json, shards outside the folder', async () => {
  await assert.rejects(readModelSource(join(dir, 'nope')), rejects(/does not exist/, 'model'));
  mkdirSync(join(dir, 'empty'));
  await assert.rejects(readModelSource(join(dir, 'empty')), rejects(/no model\.json in folder/, 'model.json'));
  writeFileSync(join(dir, 'bad.zip'), zipSync({ 'weights.bin': new Uint8Array(4) }));
  await assert.rejects(readModelSource(join(dir, 'bad.zip')), rejects(/zip holds no model\.json/, 'model.json'));
  writeFileSync(join(dir, 'trunc.zip'), readFileSync(join(dir, 'converted.zip')).subarray(0, 100));
  await assert.rejects(readModelSource(join(dir, 'trunc.zip')), rejects(/not a valid zip/, 'model'));

  // A manifest may not reach outside the model's folder.
  const sneaky = join(dir, 'sneaky');
  mkdirSync(sneaky);
  writeFileSync(join(dir, 'secret.bin'), new Uint8Array(4));
  writeFileSync(join(sneaky, 'model.json'), JSON.stringify({ ...json, weightsManifest: [{ paths: ['../secret.bin'], weights: [] }] }));
  const files = await readModelSource(sneaky);
  assert.deepEqual([...files.keys()], ['model.json']);
  assert.throws(() => artifactsFromFiles(files), rejects(/"\.\.\/secret\.bin" named in model\.json was not provided/, 'weightsManifest[0].paths[0]'));
});
