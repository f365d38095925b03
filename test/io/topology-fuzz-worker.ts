// Worker thread for the fuzz test in topology-check.test.ts: mutates a converter-layout model's
// graph (drops, renames, rewires, re-indexes layers) and runs each case through artifactsFromFiles
// and loadModelFromArtifacts, reporting after every case so that the test's watchdog, outside this
// thread, notices a case that hangs. Run on its own (as `node --test` does with every file under
// test/), it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface FuzzOutcome {
  case: number;
  /** refused: by artifactsFromFiles' checks; failed: an InputError from the load; other: anything else. */
  kind: 'loaded' | 'refused' | 'failed' | 'other';
  ms: number;
  message?: string;
}
export interface FuzzReport {
  outcomes: FuzzOutcome[];
}

if (!isMainThread) {
  const tf = await import('@tensorflow/tfjs');
  const { InputError } = await import('../../src/errors.js');
  const { artifactsFromFiles, loadModelFromArtifacts } = await import('../../src/io/model-files.js');
  const { KerasModelJson, seededValues } = await import('../support/keras-json.js');
  await tf.setBackend('cpu');
  const { cases, seed } = workerData as { cases: number; seed: number };

  const k = new KerasModelJson();
  const x = k.input('input_1', [4, 6]);
  const ln = k.layerNorm('ln', x, 6, -1);
  const att = k.addLayer('add', [x, k.mha('mha', ln, { heads: 2, keyDim: 3, dim: 6, tokens: 4, value: ln })]);
  const hidden = k.dense('fc1', att, 8, 6, 'relu');
  const res = k.addLayer('add_1', [att, k.dense('fc2', hidden, 6, 8)]);
  k.dense('head', k.globalAveragePooling1d('pool', res), 3, 6);
  const base = k.files('head');
  const baseJson = JSON.parse(new TextDecoder().decode(base.get('model.json')));

  const random = seededValues(cases * 64, seed, 0.5, 0.5);
  let next = 0;
  const r = () => random[next++ % random.length];
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  type Config = { layers: any[]; input_layers: any[]; output_layers: any[] };
  /** Every [layer, node, tensor] reference in the graph, keyword ones (MultiHeadAttention's value) included. */
  const refs = (c: Config): any[][] =>
    c.layers.flatMap((l) =>
      (Array.isArray(l?.inbound_nodes) ? l.inbound_nodes : []).flatMap((call: any) =>
        (Array.isArray(call) ? call : []).flatMap((input: any) => [input, ...(Array.isArray(input?.[3]?.value) ? [input[3].value] : [])]),
      ),
    );
  const mutations: ((c: Config) => void)[] = [
    (c) => void c.layers.splice(int(c.layers.length), 1),
    (c) => {
      const l = pick(c.layers);
      const name = pick(['ghost', 'input_1', `${l.name}_x`, '__proto__', 'constructor']);
      const where = int(3);
      if (where !== 1) l.name = name;
      if (where !== 0) l.config.name = name;
    },
    (c) => {
      const ref = pick(refs(c));
      if (ref) ref[0] = pick(c.layers).name;
    },
    (c) => {
      const ref = pick(refs(c));
      if (ref) ref[1] = pick([-1, 1, 2, 0.5, '0', null]);
    },
    (c) => {
      const ref = pick(refs(c));
      if (ref) ref[2] = pick([-1, 1, 2, 0.5, '0', null]);
    },
    (c) => {
      const l = pick(c.layers);
      l.inbound_nodes = int(2) ? [] : [...l.inbound_nodes, ...l.inbound_nodes];
    },
    (c) => {
      const io = pick([c.input_layers, c.output_layers]);
      io[int(io.length)] = [pick(c.layers).name, int(2), int(2)];
    },
    (c) => void c.layers.splice(int(c.layers.length), 0, structuredClone(pick(c.layers))),
    (c) => {
      const [i, j] = [int(c.layers.length), int(c.layers.length)];
      [c.layers[i], c.layers[j]] = [c.layers[j], c.layers[i]];
    },
    (c) => void (pick(c.layers).class_name = pick(['InputLayer', 'Dense', 'Functional', 'Sequential', 'LayerNormalization'])),
    (c) => {
      const l = pick(c.layers);
      if (l.inbound_nodes.length) l.inbound_nodes[0] = { args: l.inbound_nodes[0], kwargs: {} };
    },
  ];

  const outcomes: FuzzOutcome[] = [];
  for (let i = 0; i < cases; i++) {
    const json = structuredClone(baseJson);
    const config: Config = json.modelTopology.model_config.config;
    for (let m = 1 + int(3); m > 0; m--) pick(mutations)(config);
    const files = new Map(base);
    files.set('model.json', new TextEncoder().encode(JSON.stringify(json)));
    const start = performance.now();
    let outcome: Omit<FuzzOutcome, 'ms'>;
    let artifacts: ReturnType<typeof artifactsFromFiles> | null = null;
    try {
      artifacts = artifactsFromFiles(files);
    } catch (e) {
      outcome = e instanceof InputError ? { case: i, kind: 'refused' } : { case: i, kind: 'other', message: String(e) };
    }
    if (artifacts) {
      try {
        (await loadModelFromArtifacts(artifacts)).dispose();
        outcome = { case: i, kind: 'loaded' };
      } catch (e) {
        outcome = e instanceof InputError ? { case: i, kind: 'failed' } : { case: i, kind: 'other', message: String(e) };
      }
    }
    outcomes.push({ ...outcome!, ms: performance.now() - start });
    parentPort!.postMessage({ done: i });
  }
  parentPort!.postMessage({ report: { outcomes } });
}
