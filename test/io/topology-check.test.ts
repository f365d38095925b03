// The topology check: hostile model.json graphs and sizes are refused in well under a second with
// an InputError naming the layer and the reference at fault; real topologies (tfjs saves with
// shared layers, nested models, wrappers and RNN states; the Keras converter's layout with
// MultiHeadAttention kwargs) pass; and a seeded fuzz of a real model never hangs the loader.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../src/errors.js';
import { artifactsFromFiles, loadModelFromArtifacts } from '../../src/io/model-files.js';
import { findUnknownClasses } from '../../src/io/layer-classes.js';
import { checkTopology, DEFAULT_MODEL_LIMITS } from '../../src/io/topology-check.js';
import { KerasModelJson } from '../support/keras-json.js';
import type { FuzzReport } from './topology-fuzz-worker.js';

before(async () => {
  await tf.setBackend('cpu');
});

const L = (cls: string, name: string, inbound: unknown[], config: Record<string, unknown> = {}) => ({
  class_name: cls,
  name,
  inbound_nodes: inbound,
  config: { name, ...config },
});
const from = (...names: string[]) => [names.map((n) => [n, 0, 0, {}])];
const input = (name = 'in', shape: unknown[] = [null, 4]) => L('InputLayer', name, [], { batch_input_shape: shape, dtype: 'float32' });
const functional = (layers: unknown[], inputs: unknown = [['in', 0, 0]], outputs: unknown = [['d', 0, 0]]) => ({
  class_name: 'Model',
  config: { name: 'm', layers, input_layers: inputs, output_layers: outputs },
});
const dense = (name: string, inbound: unknown[], units = 2) => L('Dense', name, inbound, { units });

/** Asserts `topology` is refused quickly, with an InputError on model.json whose message matches. */
function refused(topology: unknown, pattern: RegExp, status = 422) {
  const start = performance.now();
  assert.throws(
    () => checkTopology(topology, DEFAULT_MODEL_LIMITS),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `an InputError, got ${e}`);
      assert.equal(e.field, 'model.json');
      assert.match(e.message, pattern);
      assert.equal(e.status, status);
      return true;
    },
  );
  const ms = performance.now() - start;
  assert.ok(ms < 500, `refused in ${ms.toFixed(0)} ms`);
}

test('graph errors name the layer and the reference: missing layer, node, tensor, self-loop, cycle, no inbound nodes', () => {
  refused(functional([input(), dense('d', from('ghost'))]), /^model\.json: layer "d": input "ghost" is not a layer of the model$/);
  refused(functional([input(), dense('d', [[['in', 3, 0, {}]]])]), /layer "d": input "in" has no node 3 \(it has 1\)/);
  refused(functional([input(), dense('d', [[['in', -1, 0, {}]]])]), /layer "d": input "in" has no node -1/);
  refused(functional([input(), dense('d', [[['in', 0, 2, {}]]])]), /layer "d": input "in" has no output tensor 2 \(it has one\)/);
  refused(functional([input(), dense('a', from('in')), dense('d', [[['a', 0, 1, {}]]])]), /layer "d": input "a" has no output tensor 1/);
  refused(functional([input(), dense('d', from('d'))]), /layer "d" takes its own output as an input/);
  refused(functional([input(), dense('a', from('d')), dense('d', from('a'))]), /layer "a": its inputs form a cycle: "a" → "d" → "a"/);
  // A shared layer whose first call needs b, which needs the layer's second call: tfjs makes the
  // second call first (its input exists) and then waits forever for a node that never comes.
  refused(
    functional([input(), dense('a', [...from('b'), ...from('in')]), dense('b', [[['a', 1, 0, {}]]]), dense('d', from('b'))]),
    /its inputs form a cycle/,
  );
  refused(functional([input(), dense('x', []), dense('d', from('in'))]), /layer "x" has no inbound nodes/);
  refused(functional([input(), L('Dense', 'd', [[]], { units: 2 })]), /layer "d": inbound node 0 is not a non-empty list of inputs/);
  refused(
    functional([{ ...input(), inbound_nodes: from('in') }, dense('d', from('in'))]),
    /layer "in": an InputLayer has no inbound nodes/,
  );
});

test('model-level errors: inputs and outputs, duplicate and reserved names, config.name, Keras 3 nodes, kwargs inputs', () => {
  refused(
    functional([input(), dense('d', from('in'))], [['ghost', 0, 0]]),
    /the model: input_layers\[0\] "ghost" is not a layer of the model/,
  );
  refused(functional([input(), dense('d', from('in'))], [['d', 0, 0]]), /input_layers\[0\] "d" is not an InputLayer/);
  refused(functional([input(), dense('d', from('in'))], [['in', 0, 0]], [['ghost', 0, 0]]), /output_layers\[0\] "ghost" is not a layer/);
  refused(functional([input(), dense('d', from('in'))], [['in', 0, 0]], []), /output_layers is not a non-empty list/);
  refused(
    functional([input(), dense('d', from('in'))], ['in', 0, 0]),
    /input_layers is not a non-empty list of \[layer, node, tensor\] references/,
  );
  refused(functional([input(), dense('d', from('in')), dense('d', from('in'))]), /layer "d": two layers have this name/);
  refused(functional([input(), dense('__proto__', from('in')), dense('d', from('in'))]), /layer "__proto__": the name is reserved/);
  refused(
    functional([input(), { ...dense('d', from('in')), config: { name: 'e', units: 2 } }]),
    /layer "d": its config.name "e" differs from its name/,
  );
  const keras3 = [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['in', 0, 0] } }], kwargs: {} }];
  refused(functional([input(), dense('d', keras3)]), /layer "d": inbound node 0 is in the Keras 3 format/);
  // References inside kwargs are inputs too: they must resolve and count as edges.
  const mha = (value: unknown) => L('MultiHeadAttention', 'd', [[['in', 0, 0, { value }]]], { num_heads: 1, key_dim: 2 });
  refused(functional([input('in', [null, 3, 4]), mha(['ghost', 0, 0])]), /layer "d": keyword input "ghost" is not a layer/);
  refused(functional([input('in', [null, 3, 4]), mha([['in', 2, 0]])]), /layer "d": keyword input "in" has no node 2/);
  refused(functional([input('in', [null, 3, 4]), mha(['d', 0, 0])]), /layer "d" takes its own output as an input/);
  // tfjs camelCases keys before reading them, so every spelling is checked.
  refused(
    functional([input(), { class_name: 'Dense', name: 'd', inboundNodes: from('ghost'), config: { name: 'd', units: 2 } }]),
    /input "ghost" is not a layer/,
  );
  refused(functional([input(), { ...dense('d', from('in')), inbound__nodes: from('ghost') }]), /input "ghost" is not a layer/);
});

test('errors inside nested models name the model; tensor indices of nested models follow their outputs', () => {
  const inner = {
    class_name: 'Functional',
    name: 'inner',
    inbound_nodes: from('in'),
    config: { name: 'inner', layers: [input('x'), dense('y', from('ghost'))], input_layers: [['x', 0, 0]], output_layers: [['y', 0, 0]] },
  };
  refused(
    functional([input(), inner, dense('d', from('inner'))]),
    /layer "y" of model "inner": input "ghost" is not a layer of model "inner"/,
  );
  inner.config.layers[1] = dense('y', from('x'));
  checkTopology(functional([input(), inner, dense('d', from('inner'))]), DEFAULT_MODEL_LIMITS);
  refused(functional([input(), inner, dense('d', [[['inner', 0, 1, {}]]])]), /input "inner" has no output tensor 1/);
  refused(functional([input(), inner, dense('d', [[['inner', 2, 0, {}]]])]), /input "inner" has no node 2 \(it has 2\)/);
  const seq = {
    class_name: 'Sequential',
    config: { name: 's', layers: [{ class_name: 'Dense', config: { units: -3, batch_input_shape: [null, 4] } }] },
  };
  refused(seq, /layer 0: units -3 is not a positive integer/);
  refused({ class_name: 'Sequential', config: { name: 's', layers: [] } }, /a Sequential config needs a non-empty list of layers/);
});

test('sizes: depth, layer count, graph depth and build passes, declared input shapes and size fields', () => {
  const chain = (n: number) => [input(), ...Array.from({ length: n }, (_, i) => dense(`l${i}`, from(i ? `l${i - 1}` : 'in')))];
  let deep: Record<string, unknown> = {};
  for (let i = 0; i < 5000; i++) deep = { class_name: 'Zeros', config: { wrapped: deep } };
  const nested = functional([input(), L('Dense', 'd', from('in'), { units: 2, kernel_initializer: deep })]);
  refused(nested, /modelTopology nests deeper than 100 levels/);
  // The class walk that explains failed builds must not overflow on it either.
  assert.deepEqual(findUnknownClasses(nested), { layers: [], others: [] });

  refused(functional(chain(20_000), [['in', 0, 0]], [['l19999', 0, 0]]), /more than 10000 layers/, 422);
  const seq = {
    class_name: 'Sequential',
    config: { name: 's', layers: Array.from({ length: 20_000 }, () => ({ class_name: 'Dense', config: { units: 2 } })) },
  };
  refused(seq, /more than 10000 layers/, 422);

  // What tfjs's build can take: the graph's depth, and its passes over a list out of graph order.
  checkTopology(functional(chain(2000), [['in', 0, 0]], [['l1999', 0, 0]]), DEFAULT_MODEL_LIMITS);
  refused(
    functional(chain(3000), [['in', 0, 0]], [['l2999', 0, 0]]),
    /layer "l2499" lies 2501 layers deep in the graph, deeper than the 2500 TensorFlow.js can build/,
    422,
  );
  const backwards = [input(), ...chain(2000).slice(1).reverse()];
  refused(
    functional(backwards, [['in', 0, 0]], [['l1999', 0, 0]]),
    /the model lists its layers far out of graph order: TensorFlow.js would make 2000 passes over its 2001 layers/,
  );

  refused(
    functional([input('in', [null, 1e6, 1e6]), dense('d', from('in'))]),
    /layer "in": batch_input_shape \[null,1000000,1000000\] declares 1000000000000 elements per sample, more than the limit of 268435456/,
    422,
  );
  refused(
    functional([input('in', [1e5, 1e4]), dense('d', from('in'))]),
    /with batch size 100000 declares more than 268435456 elements/,
    422,
  );
  refused(
    functional([input('in', [null, -4]), dense('d', from('in'))]),
    /batch_input_shape \[null,-4\] is not a list of non-negative integers/,
  );
  refused(functional([input('in', [null, 2.5]), dense('d', from('in'))]), /is not a list of non-negative integers/);
  refused(
    functional([L('InputLayer', 'in', [], { batch_shape: [null, 3e8] }), dense('d', from('in'))]),
    /batch_shape .* elements per sample/,
    422,
  );
  refused(functional([input(), dense('d', from('in'), 1e12)]), /layer "d": units 1000000000000 is above the limit of 500000000/, 422);
  refused(functional([input(), dense('d', from('in'), '8' as unknown as number)]), /units "8" is not a positive integer/);
  refused(
    functional([input(), L('Conv2D', 'd', from('in'), { filters: 2, kernel_size: [3, 0] })]),
    /kernel_size \[3,0\] is not a positive integer/,
  );
  refused(
    functional([input(), L('MaxPooling1D', 'd', from('in'), { pool_size: 2, strides: 1e9 })]),
    /strides 1000000000 is above the limit of 268435456/,
    422,
  );
  // Wrapped layers are checked too.
  refused(
    functional([input(), L('TimeDistributed', 'd', from('in'), { layer: { class_name: 'Dense', config: { name: 'x', units: 0 } } })]),
    /layer "x" of layer "d": units 0/,
  );
});

test('real topologies pass: tfjs saves with shared layers, nested models, wrappers and RNN states; the Keras converter layout', async () => {
  const x = tf.input({ shape: [5, 3] });
  const shared = tf.layers.dense({ units: 3, name: 'shared' });
  const twice = shared.apply(shared.apply(x)) as tf.SymbolicTensor;
  const td = tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3 }), name: 'td' }).apply(twice) as tf.SymbolicTensor;
  const [out, h, c] = tf.layers.lstm({ units: 2, returnState: true, name: 'lstm' }).apply(td) as tf.SymbolicTensor[];
  const bi = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2 }) as tf.RNN, name: 'bi' }).apply(td) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate().apply([out, h, c, bi]) as tf.SymbolicTensor;
  const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ units: 4, inputShape: [10] }), tf.layers.batchNormalization()] });
  const model = tf.model({ inputs: x, outputs: inner.apply(joined) as tf.SymbolicTensor });
  const topology = model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'];
  checkTopology(topology, DEFAULT_MODEL_LIMITS);
  checkTopology(tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] }).toJSON(null, false), DEFAULT_MODEL_LIMITS);

  const k = new KerasModelJson();
  let t = k.input('input_1', [4, 6]);
  const ln = k.layerNorm('ln', t, 6, -1);
  t = k.addLayer('add', [t, k.mha('mha', ln, { heads: 2, keyDim: 3, dim: 6, tokens: 4, value: ln })]);
  k.dense('dense', k.globalAveragePooling1d('pool', t), 3, 6);
  const files = k.files('dense');
  checkTopology(JSON.parse(new TextDecoder().decode(files.get('model.json'))).modelTopology, DEFAULT_MODEL_LIMITS);
  (await loadModelFromArtifacts(artifactsFromFiles(files))).dispose();
});

test('seeded fuzz of a converter-layout model: every mutation loads or is refused with an InputError, none hangs', async (t) => {
  const cases = 300;
  const perCaseMs = 2000;
  const report = await new Promise<FuzzReport>((resolve, reject) => {
    const worker = new Worker(new URL('./topology-fuzz-worker.js', import.meta.url), { workerData: { cases, seed: 7 } });
    let last = -1;
    let watchdog: NodeJS.Timeout;
    // A hang blocks the worker's event loop; only a watchdog outside it can notice.
    const arm = (ms: number) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`fuzz case ${last + 1} ran for more than ${ms} ms`));
      }, ms);
    };
    arm(30_000); // worker start-up and backend
    worker.on('message', (m: { done?: number; report?: FuzzReport }) => {
      if (m.report) {
        clearTimeout(watchdog);
        void worker.terminate();
        resolve(m.report);
      } else {
        last = m.done!;
        arm(perCaseMs * 5);
      }
    });
    worker.on('error', (e) => {
      clearTimeout(watchdog);
      reject(e);
    });
  });
  assert.equal(report.outcomes.length, cases);
  const odd = report.outcomes.filter((o) => o.kind === 'other');
  assert.deepEqual(odd, [], 'every case loads or throws InputError');
  const slow = report.outcomes.filter((o) => o.ms > perCaseMs);
  assert.deepEqual(slow, [], `every case within ${perCaseMs} ms`);
  const refusedBeforeTfjs = report.outcomes.filter((o) => o.kind === 'refused').length;
  const loaded = report.outcomes.filter((o) => o.kind === 'loaded').length;
  assert.ok(refusedBeforeTfjs > cases / 4, `${refusedBeforeTfjs} refused by the checks before tfjs`);
  assert.ok(loaded > 0, `${loaded} loaded`);
  const failed = cases - refusedBeforeTfjs - loaded;
  const slowest = Math.max(...report.outcomes.map((o) => o.ms));
  t.diagnostic(
    `${refusedBeforeTfjs} refused before tfjs, ${failed} refused by the load, ${loaded} loaded; slowest case ${slowest.toFixed(0)} ms`,
  );
});
