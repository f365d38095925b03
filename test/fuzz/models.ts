// model.json mutations: three valid models (the fixtures' Sequential MLP, a converter-style
// functional model with a residual Add, a converter-style CNN) mutated in their graph, layer
// configs, class names, nesting depth, string lengths, weights manifest and raw text. Every mutator
// says what a correct API must answer: reject (4xx: the upload is broken), accept (2xx: it is a
// valid model written differently), or any (only the invariants apply). Stacked mutations are 'any'.
import { KerasModelJson } from '../support/keras-json.js';
import type { Part } from '../support/fixtures.js';
import { Rng } from './random.js';
import { accept, any, reject, uploadRequest, type CaseSpec, type Expect, type FuzzContext } from './runner.js';

export type BaseName = 'mlp' | 'residual' | 'cnn';

interface Weight {
  spec: Record<string, any>;
  data: Uint8Array;
}

/** A model under mutation: model.json (without its manifest) and the manifest's groups with their bytes. */
export interface ModelDoc {
  base: BaseName;
  json: Record<string, any>;
  groups: { paths: string[]; uploadNames: string[]; weights: Weight[] }[];
  /** Replaces the generated weightsManifest (junk manifests). */
  manifestOverride?: { value: unknown };
  /** Text-level edits of the serialised model.json, applied in order. */
  text: ((s: string) => string)[];
  /** Byte-level replacement of the whole model.json (not-JSON, UTF-16, ...). */
  bytes?: Uint8Array;
  /** Edits of the shard files after they are cut (wrong sizes). */
  shardEdits: ((shards: Map<string, Uint8Array>) => void)[];
  extraFiles: Part[];
  jsonFilename: string;
}

export interface ModelBases {
  docs: Record<BaseName, { json: Record<string, any>; groups: ModelDoc['groups'] }>;
}

// ---------------------------------------------------------------------------------------------
// Bases

function splitWeights(modelJson: Record<string, any>, shards: Map<string, Uint8Array>): ModelDoc['groups'] {
  const bytesPer: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
  return (modelJson.weightsManifest as { paths: string[]; weights: any[] }[]).map((g) => {
    const all = concat(g.paths.map((p) => shards.get(p)!));
    let off = 0;
    const weights = g.weights.map((spec) => {
      const n = (spec.shape as number[]).reduce((a, b) => a * b, 1) * bytesPer[spec.dtype];
      const data = all.slice(off, off + n);
      off += n;
      return { spec, data };
    });
    return { paths: [...g.paths], uploadNames: [...g.paths], weights };
  });
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function fromFiles(files: Map<string, Uint8Array>): { json: Record<string, any>; groups: ModelDoc['groups'] } {
  const json = JSON.parse(new TextDecoder().decode(files.get('model.json')!));
  const groups = splitWeights(json, files);
  delete json.weightsManifest;
  return { json, groups };
}

export function buildBases(ctx: FuzzContext): ModelBases {
  const mlpFiles = new Map<string, Uint8Array>([
    ['model.json', ctx.tiny.modelJson],
    ['weights.bin', ctx.tiny.weights],
  ]);
  // input 8 → fc1 16 relu → fc2 8 → add(input, fc2) → head 3: one prunable block behind a residual.
  const res = new KerasModelJson();
  const rin = res.input('input', [8]);
  const f1 = res.dense('fc1', rin, 16, 8, 'relu');
  const f2 = res.dense('fc2', f1, 8, 16);
  const add = res.addLayer('add', [rin, f2]);
  res.dense('head', add, 3, 8);
  // input 6×6×1 → conv 3×3, 4 filters → 4×4×4 → reshape 64 → fc1 16 relu → fc2 3.
  const cnn = new KerasModelJson();
  const cin = cnn.input('image', [6, 6, 1]);
  const c1 = cnn.conv2d('conv', cin, 4, 1, 3, 1, 'relu');
  const flat = cnn.reshape('flatten', c1, [64]);
  const g1 = cnn.dense('fc1', flat, 16, 64, 'relu');
  cnn.dense('fc2', g1, 3, 16);
  return {
    docs: {
      mlp: fromFiles(mlpFiles),
      residual: fromFiles(res.files('head', 2)),
      cnn: fromFiles(cnn.files('fc2', 1)),
    },
  };
}

function freshDoc(bases: ModelBases, base: BaseName): ModelDoc {
  const b = bases.docs[base];
  return {
    base,
    json: structuredClone(b.json),
    groups: b.groups.map((g) => ({
      paths: [...g.paths],
      uploadNames: [...g.uploadNames],
      weights: g.weights.map((w) => ({ spec: structuredClone(w.spec), data: w.data.slice() })),
    })),
    text: [],
    shardEdits: [],
    extraFiles: [],
    jsonFilename: 'model.json',
  };
}

// ---------------------------------------------------------------------------------------------
// Serialising a doc into an upload

export function serializeDoc(doc: ModelDoc): Part[] {
  const shards = new Map<string, Uint8Array>();
  for (const g of doc.groups) {
    const all = concat(g.weights.map((w) => w.data));
    const n = g.uploadNames.length;
    g.uploadNames.forEach((name, i) => {
      const piece = all.slice(Math.floor((i * all.length) / n), Math.floor(((i + 1) * all.length) / n));
      shards.set(name, shards.has(name) ? concat([shards.get(name)!, piece]) : piece);
    });
  }
  for (const edit of doc.shardEdits) edit(shards);
  let content: Uint8Array | string;
  if (doc.bytes) content = doc.bytes;
  else {
    const manifest = doc.manifestOverride
      ? doc.manifestOverride.value
      : doc.groups.map((g) => ({ paths: g.paths, weights: g.weights.map((w) => w.spec) }));
    let text = JSON.stringify({ ...doc.json, weightsManifest: manifest });
    for (const edit of doc.text) {
      try {
        text = edit(text);
      } catch {
        // a stacked edit whose target an earlier mutation removed
      }
    }
    content = text;
  }
  return [
    { field: 'files', filename: doc.jsonFilename, content, contentType: 'application/json' },
    ...[...shards].map(([name, data]) => ({ field: 'files', filename: name, content: data })),
    ...doc.extraFiles,
  ];
}

// ---------------------------------------------------------------------------------------------
// Navigating a doc

const isFunctional = (doc: ModelDoc) => doc.base !== 'mlp';
/** The Keras model config ({class_name, config}) whichever layout the topology uses. */
const modelConfig = (doc: ModelDoc): any => doc.json.modelTopology.model_config ?? doc.json.modelTopology;
const layers = (doc: ModelDoc): any[] => modelConfig(doc).config.layers;
const nonInput = (doc: ModelDoc) => layers(doc).filter((l) => l.class_name !== 'InputLayer');
const withWeights = (doc: ModelDoc) => layers(doc).filter((l) => ['Dense', 'Conv2D'].includes(l.class_name));
const allWeights = (doc: ModelDoc) => doc.groups.flatMap((g) => g.weights);

/** A placeholder replaced after JSON.stringify (JSON.stringify itself cannot nest 100,000 deep). */
const DEEP = '\u0000DEEP\u0000';
const deepText = (depth: number, kind: 'array' | 'object') =>
  kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const insertDeep = (doc: ModelDoc, depth: number, kind: 'array' | 'object') =>
  doc.text.push((s) => s.replace(JSON.stringify(DEEP), deepText(depth, kind)));

const FLOAT_NAN = new Uint8Array(new Float32Array([NaN]).buffer);
const FLOAT_INF = new Uint8Array(new Float32Array([Infinity]).buffer);

// ---------------------------------------------------------------------------------------------
// Mutators

interface Mutator {
  tag: string;
  /** Relative frequency (1). */
  weight?: number;
  /** The default expectation; apply may return another. */
  expect: Expect['kind'];
  applies?: (doc: ModelDoc) => boolean;
  /** `tags` adds tags (e.g. a rename that leaves the graph's references dangling is also a graph case). */
  apply: (doc: ModelDoc, rng: Rng, ctx: FuzzContext) => void | { expect?: Expect['kind']; note?: string; tags?: string[] };
}

const numberPool = [0, -1, -16, 1e6, 1e12, 1e300, 1.5, 2 ** 31, 2 ** 53 + 2];
const junkPool: unknown[] = ['16', 'NaN', 'Infinity', '', null, true, [16], {}, { value: 16 }];

function replaceValue(original: unknown, rng: Rng): { value: unknown; expect: Expect['kind']; note: string } {
  const v = rng.chance(0.6) ? rng.pick(numberPool) : rng.pick(junkPool);
  if (v === original) return { value: v, expect: 'accept', note: `unchanged ${JSON.stringify(v)}` };
  return { value: v, expect: typeof v === 'number' ? 'reject' : 'any', note: `→ ${JSON.stringify(v)}` };
}

/** A reference [layer, node, tensor, kwargs] inside inbound_nodes, picked at random. */
function someRef(doc: ModelDoc, rng: Rng): { layer: any; ref: any[] } | null {
  const candidates = nonInput(doc).filter((l) => Array.isArray(l.inbound_nodes) && l.inbound_nodes.length);
  if (!candidates.length) return null;
  const layer = rng.pick(candidates);
  const node = rng.pick(layer.inbound_nodes as any[][]);
  return { layer, ref: rng.pick(node) };
}

const MUTATORS: Mutator[] = [
  // ---- graph (functional models) ----
  {
    tag: 'model.graph.missing-inbound',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const r = someRef(doc, rng)!;
      r.ref[0] = rng.chance(0.5) ? `missing_${rng.word()}` : rng.pick(['__proto__', 'constructor', 'toString', '', 'x'.repeat(10_000)]);
      return { note: `${r.layer.name} ← ${String(r.ref[0]).slice(0, 40)}` };
    },
  },
  {
    tag: 'model.graph.bad-node-index',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const r = someRef(doc, rng)!;
      const v = rng.pick<unknown>([1, 2, 7, -1, 1e9, 1.5, '0', null, 'x']);
      r.ref[1] = v;
      return { expect: typeof v === 'number' ? 'reject' : 'any', note: `${r.layer.name} node index ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.graph.bad-tensor-index',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const r = someRef(doc, rng)!;
      const v = rng.pick<unknown>([1, 5, -1, 1e9, 2.5, '0', null]);
      r.ref[2] = v;
      return { expect: typeof v === 'number' ? 'reject' : 'any', note: `${r.layer.name} tensor index ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.graph.cycle',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      // Point an earlier layer's input at a later one: a → ... → b → a.
      const ls = nonInput(doc);
      const i = rng.int(0, ls.length - 2);
      const j = rng.int(i + 1, ls.length - 1);
      ls[i].inbound_nodes[0][0][0] = ls[j].name;
      return { note: `${ls[i].name} ← ${ls[j].name}` };
    },
  },
  {
    tag: 'model.graph.self-loop',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const l = rng.pick(nonInput(doc));
      l.inbound_nodes[0][0][0] = l.name;
      return { note: l.name };
    },
  },
  {
    tag: 'model.graph.no-inbound-nodes',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const l = rng.pick(nonInput(doc));
      l.inbound_nodes = rng.pick<unknown[]>([[], [[]]]);
      return { note: `${l.name}: ${JSON.stringify(l.inbound_nodes)}` };
    },
  },
  {
    tag: 'model.graph.inbound-junk',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const l = rng.pick(nonInput(doc));
      l.inbound_nodes = rng.pick<unknown>(['x', 42, {}, [['fc1']], [[[1, 2, 3]]], [[null]], [['fc1', 0, 0]], [[['input', 0]]]]);
      return { expect: 'any', note: `${l.name}: ${JSON.stringify(l.inbound_nodes)}` };
    },
  },
  {
    tag: 'model.graph.remove-layer',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const ls = layers(doc);
      const k = rng.int(0, ls.length - 1);
      const [gone] = ls.splice(k, 1);
      return { note: gone.name };
    },
  },
  {
    tag: 'model.graph.duplicate-layer',
    expect: 'reject',
    apply: (doc, rng) => {
      const ls = layers(doc);
      const l = rng.pick(ls.filter((x) => x.class_name !== 'InputLayer'));
      ls.splice(rng.int(0, ls.length), 0, structuredClone(l));
      return { note: l.name ?? l.config.name };
    },
  },
  {
    tag: 'model.graph.swap-io',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc) => {
      const c = modelConfig(doc).config;
      [c.input_layers, c.output_layers] = [c.output_layers, c.input_layers];
    },
  },
  {
    tag: 'model.graph.bad-io-refs',
    expect: 'reject',
    applies: isFunctional,
    apply: (doc, rng) => {
      const c = modelConfig(doc).config;
      const which = rng.pick(['input_layers', 'output_layers']);
      const v = rng.pick<unknown>([
        [],
        [['nope', 0, 0]],
        [['fc1', 0, 0]],
        [[c[which][0][0], 3, 0]],
        [[c[which][0][0], 0, 9]],
        'x',
        null,
        [[]],
      ]);
      c[which] = v;
      // fc1 as an output is a valid (smaller) model; everything else is broken.
      const fine = which === 'output_layers' && JSON.stringify(v) === '[["fc1",0,0]]';
      return { expect: fine ? 'any' : 'reject', note: `${which} = ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.graph.second-call',
    expect: 'any',
    applies: isFunctional,
    apply: (doc, rng) => {
      // Calling a layer twice (a shared layer): valid when shapes fit, else broken.
      const l = rng.pick(nonInput(doc));
      l.inbound_nodes.push(structuredClone(rng.pick(nonInput(doc)).inbound_nodes[0] ?? [['input', 0, 0, {}]]));
      return { note: l.name };
    },
  },
  {
    tag: 'model.graph.kwargs-refs',
    expect: 'any',
    applies: isFunctional,
    apply: (doc, rng) => {
      const r = someRef(doc, rng)!;
      r.ref[3] = rng.pick<unknown>([
        { value: ['nope', 0, 0] },
        { mask: [r.layer.name, 0, 0] },
        { training: 'x' },
        { __proto__: { polluted: 1 } },
        'x',
      ]);
    },
  },

  // ---- layer configs ----
  {
    tag: 'model.config.units',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(layers(doc).filter((x) => x.class_name === 'Dense'));
      const r = replaceValue(l.config.units, rng);
      l.config.units = r.value;
      return { expect: r.expect, note: `${l.config.name}.units ${r.note}` };
    },
  },
  {
    tag: 'model.config.filters',
    expect: 'reject',
    applies: (doc) => doc.base === 'cnn',
    apply: (doc, rng) => {
      const l = layers(doc).find((x) => x.class_name === 'Conv2D');
      const r = replaceValue(l.config.filters, rng);
      l.config.filters = r.value;
      return { expect: r.expect, note: `filters ${r.note}` };
    },
  },
  {
    tag: 'model.config.kernel-size',
    expect: 'reject',
    applies: (doc) => doc.base === 'cnn',
    apply: (doc, rng) => {
      const l = layers(doc).find((x) => x.class_name === 'Conv2D');
      const v = rng.pick<unknown>([
        [0, 0],
        [-1, 3],
        [1e6, 1e6],
        [1e9, 1],
        1e12,
        [7, 7],
        [3],
        [3, 3, 3],
        [],
        '3',
        'NaN',
        [2 ** 31, 2 ** 31],
      ]);
      l.config.kernel_size = v;
      return {
        expect: Array.isArray(v) && v.every((x) => typeof x === 'number') ? 'reject' : 'any',
        note: `kernel_size ${JSON.stringify(v)}`,
      };
    },
  },
  {
    tag: 'model.config.strides',
    expect: 'reject',
    applies: (doc) => doc.base === 'cnn',
    apply: (doc, rng) => {
      const l = layers(doc).find((x) => x.class_name === 'Conv2D');
      const v = rng.pick<unknown>([[0, 0], [-1, -1], [1e9, 1e9], [2, 2], [1e-3, 1], 'x']);
      l.config.strides = v;
      // Strides do not change the kernel, so the weights still fit: a larger stride is a model that
      // loads (its Reshape no longer matches, which tfjs only notices when it runs). Zero, negative
      // and fractional strides mean nothing.
      const nonsense = Array.isArray(v) && v.some((x) => !(Number.isInteger(x) && x > 0));
      return { expect: nonsense ? 'reject' : 'any', note: `strides ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.config.batch-input-shape',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = layers(doc)[0];
      const orig = l.config.batch_input_shape as (number | null)[];
      const last = orig[orig.length - 1];
      const v = rng.pick<unknown>([
        [null, 1e6],
        [null, 1e12],
        [null, -8],
        [null, 0],
        [null, 8.5],
        [1e9, ...orig.slice(1)],
        [-1, ...orig.slice(1)],
        [null, '8'],
        [null, [8]],
        [[[[[8]]]]],
        [...orig, 1],
        [],
        'x',
        null,
        [null, 2 ** 31],
        [null, ...orig.slice(1).map(() => 1e5)],
      ]);
      l.config.batch_input_shape = v;
      // Only a changed feature size breaks the weights for sure; a fixed batch size is a valid model.
      let expect: Expect['kind'] = 'any';
      if (Array.isArray(v) && v.length === orig.length && typeof v[v.length - 1] === 'number' && v[v.length - 1] !== last)
        expect = 'reject';
      return { expect, note: `batch_input_shape ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.config.activation',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      const v = rng.pick<unknown>([
        'tanh',
        'sigmoid',
        'linear',
        'nope',
        '',
        'x'.repeat(100_000),
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        null,
        42,
        { class_name: 'Nope' },
      ]);
      l.config.activation = v;
      const known = ['tanh', 'sigmoid', 'linear'].includes(v as string);
      return { expect: known ? 'accept' : typeof v === 'string' ? 'reject' : 'any', note: `activation ${JSON.stringify(v).slice(0, 40)}` };
    },
  },
  {
    tag: 'model.config.use-bias',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      const v = rng.pick<unknown>([false, 'yes', 0, null]);
      l.config.use_bias = v;
      // Without a bias the manifest's bias weight has no variable.
      return { expect: v === false ? 'reject' : 'any', note: `use_bias ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.config.dtype',
    expect: 'any',
    apply: (doc, rng) => {
      const l = rng.pick(layers(doc));
      l.config.dtype = rng.pick(['float64', 'int32', 'string', 'complex64', 'bfloat16', 'x', '']);
    },
  },
  {
    tag: 'model.config.rename-layer',
    expect: 'reject',
    apply: (doc, rng) => {
      // The manifest names weights "<layer>/kernel": a renamed layer has none.
      const l = rng.pick(withWeights(doc));
      const name = rng.chance(0.5) ? rng.nastyString() : `renamed_${rng.word()}`;
      if (name === l.config.name) return { expect: 'accept' };
      l.config.name = name;
      if (l.name !== undefined) l.name = name;
      // In a functional model the layers after it still name the old one.
      return { note: `→ ${JSON.stringify(name).slice(0, 40)}`, tags: isFunctional(doc) ? ['model.graph.dangling-after-rename'] : [] };
    },
  },
  {
    tag: 'model.config.delete-key',
    expect: 'any',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      const key = rng.pick(Object.keys(l.config));
      delete l.config[key];
      return { expect: ['units', 'filters', 'kernel_size'].includes(key) ? 'reject' : 'any', note: key };
    },
  },
  {
    tag: 'model.config.unknown-key',
    expect: 'any',
    apply: (doc, rng) => {
      const l = rng.pick(layers(doc));
      l.config[rng.pick(['foo', 'units_', rng.word(), 'x'.repeat(50_000)])] = rng.pick<unknown>([
        1,
        'x',
        null,
        [],
        { a: 1 },
        'y'.repeat(100_000),
      ]);
    },
  },
  {
    tag: 'model.config.proto-keys',
    expect: 'any',
    apply: (doc, rng) => {
      // Keys that pollute Object.prototype when copied carelessly; the suite checks it stays clean.
      const l = rng.pick(layers(doc));
      const key = rng.pick(['__proto__', 'constructor', 'prototype']);
      const payload = key === 'constructor' ? { prototype: { polluted: 'yes' } } : { polluted: 'yes', units: 1e9 };
      const name = JSON.stringify(l.config.name);
      doc.text.push((s) => s.replace(`"name":${name}`, `"name":${name},${JSON.stringify(key)}:${JSON.stringify(payload)}`));
      return { note: `${name}.config.${key}` };
    },
  },
  {
    tag: 'model.config.initializer',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      const v = rng.pick<unknown>([
        { class_name: 'Nope', config: {} },
        { class_name: '__proto__', config: {} },
        { class_name: 'constructor', config: {} },
        { class_name: 'VarianceScaling', config: { scale: -1, mode: 'fan_avg', distribution: 'uniform' } },
        { class_name: 'VarianceScaling', config: { scale: 1, mode: 'nope', distribution: 'uniform' } },
        { class_name: 'Orthogonal', config: { gain: 1e308 } },
        { class_name: 'Constant', config: { value: 'x' } },
        'x',
        42,
      ]);
      l.config.kernel_initializer = v;
      const unknown = typeof v === 'object' && ['Nope', '__proto__', 'constructor'].includes((v as any).class_name);
      return { expect: unknown ? 'reject' : 'any', note: JSON.stringify(v).slice(0, 60) };
    },
  },
  {
    tag: 'model.config.regularizer',
    expect: 'any',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      const v = rng.pick<unknown>([{ class_name: 'L1L2', config: { l1: 1e308, l2: -1 } }, { class_name: 'Nope', config: {} }, 'l2', 7]);
      l.config.kernel_regularizer = v;
      return { expect: (v as any)?.class_name === 'Nope' ? 'reject' : 'any' };
    },
  },

  // ---- class names ----
  {
    tag: 'model.class.unknown',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(withWeights(doc));
      l.class_name = rng.pick(['NoSuchLayer', `Layer${rng.word()}`, 'dense', 'DENSE', 'Dense ', '', 'x'.repeat(10_000)]);
      return { note: JSON.stringify(l.class_name).slice(0, 40) };
    },
  },
  {
    tag: 'model.class.prototype-names',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(layers(doc));
      l.class_name = rng.pick([
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'Object',
        'Function',
        'Array',
        '__defineGetter__',
        'isPrototypeOf',
      ]);
      return { note: l.class_name };
    },
  },
  {
    tag: 'model.class.other-layer',
    expect: 'reject',
    apply: (doc, rng) => {
      // A real class with the wrong config: the Dense weights cannot belong to it.
      const l = rng.pick(withWeights(doc));
      l.class_name = rng.pick([
        'Conv2D',
        'LSTM',
        'Embedding',
        'Activation',
        'Dropout',
        'BatchNormalization',
        'Reshape',
        'InputLayer',
        'MultiHeadAttention',
      ]);
      return { note: l.class_name };
    },
  },
  {
    tag: 'model.class.model',
    expect: 'reject',
    apply: (doc, rng) => {
      const mc = modelConfig(doc);
      const v = rng.pick(['Sequential', 'Functional', 'Model', '__proto__', 'constructor', 'Nope', '']);
      // A functional chain read as Sequential is still a valid model (the CNN is a chain).
      const same = v === mc.class_name || (isFunctional(doc) && ['Functional', 'Model', 'Sequential'].includes(v));
      mc.class_name = v;
      return { expect: same ? 'any' : 'reject', note: v };
    },
  },

  // ---- nesting depth and long strings ----
  {
    tag: 'model.json.deep',
    expect: 'any',
    apply: (doc, rng) => {
      const depth = rng.pick([100, 1000, 10_000, 100_000]);
      const kind = rng.pick(['array', 'object'] as const);
      const where = rng.pick(['config-extra', 'units', 'top-level', 'topology', 'manifest-extra']);
      if (where === 'config-extra') rng.pick(layers(doc)).config.extra = DEEP;
      else if (where === 'units') rng.pick(layers(doc).filter((x) => x.class_name === 'Dense')).config.units = DEEP;
      else if (where === 'top-level') doc.json.userDefinedMetadata = DEEP;
      else if (where === 'topology') doc.json.modelTopology = DEEP;
      else doc.groups[0].weights[0].spec.extra = DEEP;
      insertDeep(doc, depth, kind);
      return { expect: where === 'units' || where === 'topology' ? 'reject' : 'any', note: `${kind} depth ${depth} at ${where}` };
    },
  },
  {
    tag: 'model.json.long-strings',
    expect: 'any',
    apply: (doc, rng) => {
      const n = rng.pick([10_000, 100_000, 1_000_000, 3_000_000]);
      const s = rng.pick(['a', '\u00e9', '\ud83d\ude00', '"', '\\']).repeat(Math.ceil(n / 4));
      const where = rng.pick(['model-name', 'keras_version', 'generatedBy', 'extra-top', 'weight-name', 'layer-name']);
      let expect: Expect['kind'] = 'any';
      if (where === 'model-name') modelConfig(doc).config.name = s;
      else if (where === 'keras_version') doc.json.modelTopology.keras_version = s;
      else if (where === 'generatedBy') doc.json.generatedBy = s;
      else if (where === 'extra-top') doc.json[`x${rng.word()}`] = s;
      else if (where === 'weight-name') {
        rng.pick(allWeights(doc)).spec.name = s;
        expect = 'reject';
      } else {
        const l = rng.pick(withWeights(doc));
        l.config.name = s;
        if (l.name !== undefined) l.name = s;
        expect = 'reject';
        if (isFunctional(doc)) return { expect, note: `${s.length} chars at ${where}`, tags: ['model.graph.dangling-after-rename'] };
      }
      return { expect, note: `${s.length} chars at ${where}` };
    },
  },

  // ---- weights manifest ----
  {
    tag: 'model.manifest.no-paths',
    expect: 'reject',
    apply: (doc, rng) => {
      const g = rng.pick(doc.groups);
      g.paths = rng.pick<unknown>([[], 'weights.bin', [1], [null], [{}], null]) as string[];
      return { note: JSON.stringify(g.paths) };
    },
  },
  {
    tag: 'model.manifest.path-traversal',
    expect: 'reject',
    apply: (doc, rng, ctx) => {
      const g = rng.pick(doc.groups);
      const i = rng.int(0, g.paths.length - 1);
      const canary = ctx.canaryDir.split('/').pop();
      const outside = rng.pick([
        '../../etc/passwd',
        '/etc/passwd',
        '/proc/self/environ',
        '..\\..\\windows\\win.ini',
        'C:\\Windows\\win.ini',
        'file:///etc/passwd',
        'http://169.254.169.254/latest/meta-data',
        `../../../${canary}/x.bin`,
        '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '',
        '.',
        '..',
        'a\u0000b',
        'x'.repeat(5000),
      ]);
      // Paths whose basename is the shard that was uploaded may be resolved to it.
      const same = rng.chance(0.35);
      const v = same ? rng.pick(['../../', '/abs/', './', 'sub/dir/', '..\\']) + g.uploadNames[i] : outside;
      g.paths[i] = v;
      return { expect: same ? 'any' : 'reject', note: JSON.stringify(v).slice(0, 60) };
    },
  },
  {
    tag: 'model.manifest.unlisted-shard',
    expect: 'reject',
    apply: (doc, rng) => {
      rng.pick(doc.groups).paths.push(rng.pick(['missing.bin', 'group1-shard9of9.bin', 'model.json']));
    },
  },
  {
    tag: 'model.manifest.shard-size',
    expect: 'reject',
    apply: (doc, rng) => {
      const delta = rng.pick([-1, -4, 1, 4, 1000, -100_000]);
      doc.shardEdits.push((shards) => {
        const name = rng.pick([...shards.keys()]);
        const s = shards.get(name)!;
        shards.set(name, delta < 0 ? s.slice(0, Math.max(0, s.length + delta)) : concat([s, new Uint8Array(delta)]));
      });
      return { note: `${delta} bytes` };
    },
  },
  {
    tag: 'model.manifest.shape',
    expect: 'reject',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      const shape = w.spec.shape as number[];
      const count = shape.reduce((a, b) => a * b, 1);
      const v = rng.pick<unknown>([
        [1e9, 1e9],
        [2 ** 53, 2 ** 53],
        [1e308],
        [-1, count],
        [count / 3, 3],
        [8.5, 16],
        [String(count)],
        [],
        [...shape, 1],
        [count],
        [...shape].reverse(),
        [0],
        null,
        'x',
        [[count]],
      ]);
      w.spec.shape = v;
      const same = JSON.stringify(v) === JSON.stringify(shape);
      return { expect: same ? 'accept' : 'reject', note: `${w.spec.name} ${JSON.stringify(shape)} → ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.manifest.dtype',
    expect: 'reject',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      const v = rng.pick<unknown>([
        'float64',
        'int8',
        'uint8',
        'complex64',
        'string',
        'bfloat16',
        'float16',
        '',
        null,
        'FLOAT32',
        'int32',
        'bool',
      ]);
      w.spec.dtype = v;
      // int32 has float32's size, so the bytes still match; whether it loads is the server's call.
      return { expect: v === 'int32' ? 'any' : 'reject', note: `${w.spec.name} ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'model.manifest.duplicate-weight',
    expect: 'any',
    apply: (doc, rng) => {
      const g = rng.pick(doc.groups);
      const w = rng.pick(g.weights);
      const withBytes = rng.chance(0.5);
      g.weights.push({ spec: structuredClone(w.spec), data: withBytes ? w.data.slice() : new Uint8Array(0) });
      return { expect: withBytes ? 'any' : 'reject', note: `${w.spec.name}${withBytes ? ' with its bytes' : ' without bytes'}` };
    },
  },
  {
    tag: 'model.manifest.drop-weight',
    expect: 'reject',
    apply: (doc, rng) => {
      const g = rng.pick(doc.groups.filter((x) => x.weights.length));
      g.weights.splice(rng.int(0, g.weights.length - 1), 1);
    },
  },
  {
    tag: 'model.manifest.rename-weight',
    expect: 'reject',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      w.spec.name = rng.pick(['nope/kernel', '', '__proto__', 'constructor', '../kernel', rng.nastyString()]);
      return { expect: typeof w.spec.name === 'string' ? 'reject' : 'any', note: JSON.stringify(w.spec.name).slice(0, 40) };
    },
  },
  {
    tag: 'model.manifest.quantized-bad',
    expect: 'reject',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      const n = (w.spec.shape as number[]).reduce((a, b) => a * b, 1);
      const q = rng.pick<Record<string, unknown> | string>([
        { dtype: 'uint8', scale: 'x', min: 0 },
        { dtype: 'uint8', min: 0 },
        { dtype: 'uint8', scale: null, min: null },
        { dtype: 'uint16', scale: 0.1, min: 'NaN' },
        { dtype: 'int4', scale: 0.1, min: 0 },
        { dtype: 'uint32', scale: 0.1, min: 0 },
        { dtype: '__proto__', scale: 0.1, min: 0 },
        { dtype: 'uint8', scale: 0.1, min: 0, original_dtype: 'complex64' }, // valid but for the original dtype
        'x',
      ]);
      w.spec.quantization = q;
      const bytes = typeof q === 'object' ? (({ uint8: 1, uint16: 2 } as Record<string, number>)[q.dtype as string] ?? 1) : 1;
      w.data = new Uint8Array(n * bytes);
      return { note: JSON.stringify(q), expect: typeof q === 'object' && 'original_dtype' in q ? 'any' : 'reject' };
    },
  },
  {
    tag: 'model.manifest.quantized-infinite-scale',
    expect: 'reject',
    apply: (doc, rng) => {
      // JSON has no Infinity, but 1e400 parses to it.
      const w = rng.pick(allWeights(doc));
      const n = (w.spec.shape as number[]).reduce((a, b) => a * b, 1);
      w.spec.quantization = { dtype: 'uint8', scale: 0.5, min: 0 };
      w.data = new Uint8Array(n);
      const which = rng.pick(['scale', 'min']);
      doc.text.push((s) => s.replace(`"${which}":${which === 'scale' ? '0.5' : '0'}`, `"${which}":${rng.pick(['1e400', '-1e400'])}`));
      return { note: which };
    },
  },
  {
    tag: 'model.manifest.quantized-valid',
    expect: 'accept',
    apply: (doc, rng) => {
      // Re-encode one weight as uint8 / uint16 affine-quantized or float16: a valid converter output.
      const w = rng.pick(allWeights(doc));
      const f = new Float32Array(w.data.slice().buffer);
      const dtype = rng.pick(['uint8', 'uint16', 'float16']);
      if (dtype === 'float16') {
        const h = new Uint16Array(f.length);
        for (let i = 0; i < f.length; i++) h[i] = toHalf(f[i]);
        w.spec.quantization = { dtype: 'float16' };
        w.data = new Uint8Array(h.buffer);
      } else {
        const levels = dtype === 'uint8' ? 255 : 65535;
        let lo = Math.min(...f, 0);
        const hi = Math.max(...f, 0);
        const scale = (hi - lo) / levels || 1;
        lo = Math.round(lo / scale) * scale;
        const q = dtype === 'uint8' ? new Uint8Array(f.length) : new Uint16Array(f.length);
        for (let i = 0; i < f.length; i++) q[i] = Math.max(0, Math.min(levels, Math.round((f[i] - lo) / scale)));
        w.spec.quantization = { dtype, scale, min: lo };
        w.data = new Uint8Array(q.buffer);
      }
      return { note: `${w.spec.name} as ${dtype}` };
    },
  },
  {
    tag: 'model.manifest.float16-nonfinite',
    expect: 'any',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      const n = (w.spec.shape as number[]).reduce((a, b) => a * b, 1);
      const h = new Uint16Array(n);
      const bad = rng.pick([0x7c00, 0xfc00, 0x7e00]); // +Inf, -Inf, NaN
      for (let i = 0; i < n; i++) h[i] = rng.chance(0.3) ? bad : 0x3c00;
      w.spec.quantization = { dtype: 'float16' };
      w.data = new Uint8Array(h.buffer);
      return { note: `0x${bad.toString(16)}` };
    },
  },
  {
    tag: 'model.manifest.nonfinite-weights',
    expect: 'any',
    apply: (doc, rng) => {
      const w = rng.pick(allWeights(doc));
      const bad = rng.pick([FLOAT_NAN, FLOAT_INF]);
      for (let i = 0; i + 4 <= w.data.length; i += 4) if (rng.chance(0.5)) w.data.set(bad, i);
      return { note: bad === FLOAT_NAN ? 'NaN' : 'Inf' };
    },
  },
  {
    tag: 'model.manifest.junk',
    expect: 'reject',
    apply: (doc, rng) => {
      doc.manifestOverride = {
        value: rng.pick<unknown>([
          undefined,
          null,
          {},
          'x',
          42,
          [null],
          [{}],
          [{ paths: [], weights: 'x' }],
          [{ paths: 'x', weights: [] }],
          [[]],
        ]),
      };
      return { note: JSON.stringify(doc.manifestOverride.value) ?? 'missing' };
    },
  },
  {
    tag: 'model.manifest.many-groups',
    expect: 'accept',
    apply: (doc, rng) => {
      // One group per weight, each in its own shard: a valid layout.
      const weights = allWeights(doc);
      doc.groups = weights.map((w, i) => ({ paths: [`g${i}.bin`], uploadNames: [`g${i}.bin`], weights: [w] }));
      if (rng.chance(0.5)) doc.groups.reverse();
    },
  },
  {
    tag: 'model.manifest.many-shards',
    weight: 0.5,
    expect: 'accept',
    apply: (doc, rng) => {
      const n = rng.pick([3, 10, 50, 200, 300]);
      const g = doc.groups[0];
      g.paths = Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
      g.uploadNames = [...g.paths];
      // 300 files passes what a multipart parser may allow; refusing that is fine.
      return { expect: n > 200 ? 'any' : 'accept', note: `${n} shards` };
    },
  },
  {
    tag: 'model.manifest.extra-file',
    expect: 'any',
    apply: (doc, rng) => {
      doc.extraFiles.push({
        field: 'files',
        filename: rng.pick(['junk.bin', 'README.txt', 'weights.bin.bak', 'x']),
        content: rng.bytes(rng.int(0, 2000)),
      });
    },
  },

  // ---- raw text ----
  {
    tag: 'model.text.not-json',
    expect: 'reject',
    apply: (doc, rng) => {
      const v = rng.pick<Uint8Array | string>([
        '',
        'hello',
        '<html></html>',
        'null',
        '[]',
        '42',
        '"model"',
        'true',
        '{',
        '}',
        '\ufeff',
        'NaN',
        rng.bytes(rng.int(1, 4000)),
      ]);
      doc.bytes = typeof v === 'string' ? new TextEncoder().encode(v) : v;
      return { note: typeof v === 'string' ? JSON.stringify(v) : `${v.length} random bytes` };
    },
  },
  {
    tag: 'model.text.truncated',
    expect: 'reject',
    apply: (doc, rng) => {
      doc.text.push((s) => s.slice(0, rng.int(0, s.length - 1)));
      return { note: 'cut at a random offset' };
    },
  },
  {
    tag: 'model.text.trailing-garbage',
    expect: 'reject',
    apply: (doc, rng) => {
      doc.text.push((s) => s + rng.pick(['x', '}', ',', '{}', '\u0000']));
    },
  },
  {
    tag: 'model.text.control-chars',
    expect: 'reject',
    apply: (doc, rng) => {
      // Raw control characters are not allowed inside JSON strings.
      doc.text.push((s) => s.replace('"layers-model"', `"layers${rng.pick(['\u0000', '\u0001', '\n', '\t', '\u001f'])}model"`));
    },
  },
  {
    tag: 'model.text.invalid-utf8',
    expect: 'any',
    apply: (doc, rng) => {
      const text = new TextEncoder().encode(
        JSON.stringify({
          ...doc.json,
          weightsManifest: doc.groups.map((g) => ({ paths: g.paths, weights: g.weights.map((w) => w.spec) })),
        }),
      );
      const marker = new TextEncoder().encode('"layers-model"');
      const at = indexOf(text, marker);
      const out = text.slice();
      out.set(
        rng.pick([
          [0xff, 0xfe],
          [0xc0, 0x80],
          [0xed, 0xa0],
          [0xf8, 0x88],
        ]),
        at + 2,
      );
      doc.bytes = out;
    },
  },
  {
    tag: 'model.text.duplicate-keys',
    expect: 'any',
    apply: (doc, rng) => {
      // JSON.parse keeps the last duplicate: junk first is a valid model, junk last is not.
      const junkFirst = rng.chance(0.5);
      const junk = rng.pick(['null', '1', '{}', '"x"', '[]']);
      doc.text.push((s) => (junkFirst ? `{"modelTopology":${junk},${s.slice(1)}` : `${s.slice(0, -1)},"modelTopology":${junk}}`));
      return { expect: junkFirst ? 'accept' : 'reject', note: `${junkFirst ? 'first' : 'last'} modelTopology = ${junk}` };
    },
  },
  {
    tag: 'model.text.number-overflow',
    expect: 'reject',
    apply: (doc, rng) => {
      const l = rng.pick(layers(doc).filter((x) => x.class_name === 'Dense'));
      l.config.units = DEEP;
      doc.text.push((s) =>
        s.replace(JSON.stringify(DEEP), rng.pick(['1e400', '-1e400', '1' + '0'.repeat(400), '16.0000000000000000000001'])),
      );
      return { expect: 'any', note: `${l.config.name}.units` };
    },
  },
  {
    tag: 'model.text.graph-model',
    expect: 'reject',
    apply: (doc, rng) => {
      doc.json = rng.pick([
        {
          format: 'graph-model',
          generatedBy: '2.15.0',
          convertedBy: 'TensorFlow.js Converter v4.22.0',
          modelTopology: { node: [{ name: 'x', op: 'Placeholder', attr: {} }], library: {}, versions: {} },
        },
        { modelTopology: { node: [] } },
        { format: 'graph-model', modelTopology: { class_name: 'Sequential', config: doc.json.modelTopology.config ?? {} } },
      ]);
    },
  },
  {
    tag: 'model.text.topology-junk',
    expect: 'reject',
    apply: (doc, rng) => {
      const v = rng.pick<unknown>([
        undefined,
        null,
        'x',
        42,
        [],
        {},
        { class_name: 42 },
        { class_name: 'Sequential' },
        { class_name: 'Sequential', config: null },
        { class_name: 'Sequential', config: { layers: 'x' } },
        { class_name: 'Sequential', config: { layers: [] } },
        { model_config: null },
      ]);
      doc.json.modelTopology = v;
      return { note: JSON.stringify(v) ?? 'missing' };
    },
  },
  {
    tag: 'model.text.utf16',
    expect: 'any',
    apply: (doc) => {
      const s =
        '\ufeff' +
        JSON.stringify({
          ...doc.json,
          weightsManifest: doc.groups.map((g) => ({ paths: g.paths, weights: g.weights.map((w) => w.spec) })),
        });
      const out = new Uint8Array(s.length * 2);
      for (let i = 0; i < s.length; i++) {
        out[2 * i] = s.charCodeAt(i) & 0xff;
        out[2 * i + 1] = s.charCodeAt(i) >> 8;
      }
      doc.bytes = out;
    },
  },
];

/** Valid models written differently: every one must be accepted (2xx). */
const CONTROLS: Mutator[] = [
  { tag: 'model.ok.unchanged', expect: 'accept', apply: () => undefined },
  { tag: 'model.ok.bom', expect: 'accept', apply: (doc) => void doc.text.push((s) => `\ufeff${s}`) },
  { tag: 'model.ok.pretty', expect: 'accept', apply: (doc) => void doc.text.push((s) => JSON.stringify(JSON.parse(s), null, 2)) },
  {
    tag: 'model.ok.key-order',
    expect: 'accept',
    apply: (doc, rng) => void doc.text.push((s) => JSON.stringify(shuffleKeys(JSON.parse(s), rng))),
  },
  {
    tag: 'model.ok.extra-top-level-key',
    expect: 'accept',
    apply: (doc, rng) => {
      doc.json[rng.pick(['userDefinedMetadata', 'signature', 'trainingConfig', `x_${rng.word()}`])] = { note: rng.word() };
    },
  },
  {
    tag: 'model.ok.shuffled-layers',
    expect: 'accept',
    applies: isFunctional,
    apply: (doc, rng) => void rng.shuffle(layers(doc)),
  },
  {
    tag: 'model.ok.topology-filename',
    expect: 'accept',
    apply: (doc, rng) => {
      doc.jsonFilename = rng.pick(['topology.json', 'MODEL.JSON', 'my model.json', 'model.json']);
    },
  },
  {
    tag: 'model.ok.renamed-shards',
    expect: 'accept',
    apply: (doc, rng) => {
      for (const g of doc.groups) {
        g.uploadNames = g.uploadNames.map(() => `${rng.word()}-${rng.int(0, 1e6)}.bin`);
        g.paths = [...g.uploadNames];
      }
    },
  },
];

function shuffleKeys(v: unknown, rng: Rng): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, rng));
  if (v && typeof v === 'object') {
    return Object.fromEntries(rng.shuffle(Object.entries(v)).map(([k, x]) => [k, shuffleKeys(x, rng)]));
  }
  return v;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function toHalf(f: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >>> 13);
}

// ---------------------------------------------------------------------------------------------
// The generator

/** What an accepted control (the base model written differently) must report. */
const BASE_FACTS: Record<BaseName, { params: number; inputShape: (number | null)[]; outputShape: (number | null)[] }> = {
  mlp: { params: 8 * 16 + 16 + 16 * 3 + 3, inputShape: [null, 8], outputShape: [null, 3] },
  residual: { params: 8 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3, inputShape: [null, 8], outputShape: [null, 3] },
  cnn: { params: 3 * 3 * 4 + 4 + 64 * 16 + 16 + 16 * 3 + 3, inputShape: [null, 6, 6, 1], outputShape: [null, 3] },
};

function describesBase(base: BaseName) {
  return (body: any): string | null => {
    const want = BASE_FACTS[base];
    const got = { params: body?.params, inputShape: body?.inputShape, outputShape: body?.outputShape };
    if (JSON.stringify(got) !== JSON.stringify(want)) return `says ${JSON.stringify(got)}, the model is ${JSON.stringify(want)}`;
    if (!Array.isArray(body?.blocks) || body.blocks.length < 1) return `no prunable block found in the ${base} model (fc1 → relu → fc2)`;
    return null;
  };
}

const EXPECTS: Record<Expect['kind'], () => Expect> = { accept, reject, any, status: any };

/** One model.json case: a control (10%), one mutation (55%) or two to four stacked ('any'). */
export function modelCase(rng: Rng, bases: ModelBases, ctx: FuzzContext): CaseSpec & { doc: ModelDoc } {
  const base = rng.pick<BaseName>(['mlp', 'residual', 'cnn']);
  const doc = freshDoc(bases, base);
  const roll = rng.next();
  const pool = (list: Mutator[]) =>
    list.filter((m) => {
      try {
        return !m.applies || m.applies(doc);
      } catch {
        return false;
      }
    });
  const tags: string[] = [`model.base.${base}`];
  const notes: string[] = [];
  let expect: Expect['kind'];
  if (roll < 0.1) {
    const m = rng.pick(pool(CONTROLS));
    const r = m.apply(doc, rng, ctx);
    tags.unshift(m.tag, ...((r && r.tags) || []));
    expect = (r && r.expect) || m.expect;
    if (r && r.note) notes.push(r.note);
  } else {
    const n = roll < 0.65 ? 1 : rng.int(2, 4);
    const kinds: string[] = [];
    expect = 'any';
    for (let i = 0, tries = 0; i < n && tries < 20; tries++) {
      // A stacked mutator may find the structure it edits already gone: then another is drawn.
      let m: Mutator;
      let r: ReturnType<Mutator['apply']>;
      try {
        m = rng.weighted(pool(MUTATORS).map((x) => [x.weight ?? 1, x] as const));
        r = m.apply(doc, rng, ctx);
      } catch (e) {
        if (n === 1) throw e;
        continue;
      }
      i++;
      kinds.push(m.tag, ...((r && r.tags) || []));
      if (r && r.note) notes.push(r.note);
      if (n === 1) expect = (r && r.expect) || m.expect;
    }
    tags.unshift(...kinds);
  }
  const control =
    tags[0].startsWith('model.ok.') || tags[0] === 'model.manifest.quantized-valid' || tags[0] === 'model.manifest.many-groups';
  return {
    tags,
    expect: EXPECTS[expect](),
    check2xx: control ? describesBase(base) : undefined,
    request: uploadRequest('/v1/models', serializeDoc(doc)),
    creates: 'models',
    note: notes.join('; ').slice(0, 200),
    doc,
  };
}

export { MUTATORS as MODEL_MUTATORS, CONTROLS as MODEL_CONTROLS, freshDoc };
