// Structural checks on a Layers model topology, on the parsed model.json, before TensorFlow.js
// reads it. tfjs-layers 4.22 rebuilds a functional model by re-queuing every layer call whose
// inputs do not exist yet until none is left, so a call that can never be made (an input naming a
// missing layer or a node that is never created, a cycle) spins forever; its config conversion
// and our class walk recurse over the JSON; and it allocates whatever a config declares. Every
// walk here uses an explicit stack and is linear in the size of the JSON (a tree, as JSON.parse
// makes it). Keys are read the way tfjs reads them, after camelCasing, so that no spelling of a
// key reaches tfjs unchecked.
import { InputError, quoted } from '../errors.js';
import { isKerasRef, toCamelCase } from '../layers/config.js';
import { LAYER_KEYS } from './layer-classes.js';

export interface ModelLimits {
  /** Weight values a model may create; each becomes a float32 variable element. */
  maxParams: number;
  /** Layers in all, those of nested models and wrappers included. */
  maxLayers: number;
  /** JSON nesting depth of modelTopology. */
  maxDepth: number;
  /** Elements of one declared input sample (and of a whole declared batch, when its size is fixed). */
  maxInputElements: number;
}

export const DEFAULT_MODEL_LIMITS: ModelLimits = {
  // 2 GB of float32 variables, what the default upload limit (MAX_UPLOAD_BYTES, 2 GiB) holds as
  // float32 weights; a quantized manifest holds more values, but tfjs dequantizes them to float32.
  maxParams: 500_000_000,
  // Far above real models: a Keras EfficientNet-B7 has ~800 layers, converted transformers a few thousand.
  maxLayers: 10_000,
  // Real configs nest about 12 levels, plus about 6 per nested model or wrapper.
  maxDepth: 100,
  // A 1 GiB float32 sample (a 640³ volume); a dataset of larger samples would not fit an upload.
  maxInputElements: 2 ** 28,
};

type Obj = Record<string, unknown>;

/** toCamelCase memoized: the same few dozen Keras keys recur in every layer, and its regex dominated the check. */
const camelCache = new Map<string, string>();
function camel(s: string): string {
  let c = camelCache.get(s);
  if (c === undefined) {
    c = toCamelCase(s);
    if (camelCache.size < 4096) camelCache.set(s, c); // bounded: an upload may bring any number of keys
  }
  return c;
}

/** Config fields that are a dimension of some weight, so none can exceed maxParams. */
const WEIGHT_DIMS = [
  'units',
  'filters',
  'kernelSize',
  'outputDim',
  'inputDim',
  'numHeads',
  'keyDim',
  'valueDim',
  'depthMultiplier',
  'sequenceLength',
];
/** Config fields that are windows over an input, so none can exceed maxInputElements. */
const WINDOWS = ['strides', 'poolSize', 'dilationRate'];
/** Declared input shapes; the batch_* ones start with the batch dimension. */
const SHAPES = ['batchInputShape', 'batchShape', 'inputShape'];
/** The classes tfjs deserializes as functional models (Container.fromConfig). */
const FUNCTIONAL = new Set(['Model', 'Functional']);
const MODELS = new Set([...FUNCTIONAL, 'Sequential']);
const WRAPPED_KEYS = [...LAYER_KEYS].map(toCamelCase);
/**
 * Output tensors allowed to a layer that returns its RNN states besides its output: enough for
 * stacked cells in both directions. The exact count is tfjs's to check; an index past it gives
 * tfjs an undefined input, which it reports.
 */
const MAX_STATE_OUTPUTS = 64;
/**
 * tfjs-layers 4.22 builds a functional model in passes over its list of layers, each pass making
 * the calls whose inputs exist by then, and afterwards walks the graph recursively (Container's
 * buildMapOfGraph), which overflows Node's default stack between 4,000 and 5,000 layers deep.
 * Keras and tfjs list every layer after its inputs, so a real model takes one pass, plus one per
 * reuse of a shared layer; a list out of order makes the build quadratic (4,000 layers listed
 * backwards took 25 s). So the graph's depth and the passes × layers of the build are bounded.
 */
const MAX_GRAPH_DEPTH = 2500;
const MAX_BUILD_STEPS = 2 ** 20;

function fail(message: string): never {
  throw new InputError('model.json', `model.json: ${message}`);
}
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const shown = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

/**
 * An object's fields as tfjs reads them after convertPythonicToTs: keys camelCased (so
 * "inbound_nodes" and "inboundNodes" are one key, the later one winning), and a string under a
 * key spelt other than exactly "name" camelCased too.
 */
function fields(obj: Obj): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const key of Object.keys(obj)) {
    const k = camel(key);
    const v = obj[key];
    out.set(k, k === 'name' && key !== 'name' && typeof v === 'string' ? camel(v) : v);
  }
  return out;
}

/** A layer (or model) config still to check, with how messages name it. */
interface Item {
  layer: unknown;
  label: string;
}

export function checkTopology(modelTopology: unknown, limits: ModelLimits): void {
  if (!isObj(modelTopology)) fail('modelTopology is not an object');
  checkDepth(modelTopology, limits.maxDepth);
  const stack: Item[] = [{ layer: modelTopology.model_config ?? modelTopology, label: 'the model' }];
  let layers = 0;
  while (stack.length) {
    const { layer, label } = stack.pop()!;
    if (!isObj(layer)) fail(`${label} is not a {class_name, config} object`);
    const f = fields(layer);
    const cls = f.get('className');
    if (typeof cls !== 'string') fail(`${label} has no class_name`);
    const className = camel(cls);
    const config = f.get('config');
    let children: Item[];
    if (className === 'Sequential') children = sequentialLayers(config, label);
    else if (FUNCTIONAL.has(className)) children = functionalLayers(config, label, limits);
    else {
      if (!isObj(config)) fail(`${label} has no config object`);
      const cf = fields(config);
      checkSizes(cf, label, limits);
      children = wrappedLayers(cf, label);
    }
    layers += children.length;
    if (layers > limits.maxLayers) fail(`the model has more than ${limits.maxLayers} layers`);
    for (const child of children) stack.push(child);
  }
}

function checkDepth(root: Obj, maxDepth: number): void {
  const stack: unknown[] = [root];
  const depths: number[] = [1];
  while (stack.length) {
    const node = stack.pop() as Obj | unknown[];
    const depth = depths.pop()!;
    if (depth > maxDepth) fail(`modelTopology nests deeper than ${maxDepth} levels`);
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
}

/** How messages name the layer config `entry`, the `index`-th of model `model` (null: the top level). */
function labelOf(entry: unknown, index: string, model: string | null): string {
  const config = isObj(entry) ? fields(entry).get('config') : undefined;
  const name = isObj(config) ? fields(config).get('name') : undefined;
  const own = typeof name === 'string' ? `layer ${quoted(name)}` : `layer ${index}`;
  return model === null ? own : `${own} of ${model}`;
}

/** The label `label` gives to the layers inside it: null for the top-level model. */
function scope(label: string, config: unknown): string | null {
  if (label === 'the model') return null;
  const name = isObj(config) ? fields(config).get('name') : undefined;
  return typeof name === 'string' ? `model ${quoted(name)}` : label;
}

function sequentialLayers(config: unknown, label: string): Item[] {
  // tfjs accepts the old form, a bare list of layers, as well as {name, layers}.
  const list = Array.isArray(config) ? config : isObj(config) ? fields(config).get('layers') : undefined;
  if (!Array.isArray(list) || !list.length) fail(`${label}: a Sequential config needs a non-empty list of layers`);
  const model = scope(label, config);
  return (list as unknown[]).map((layer, i) => ({ layer, label: labelOf(layer, `${i}`, model) }));
}

function wrappedLayers(cf: Map<string, unknown>, label: string): Item[] {
  const out: Item[] = [];
  for (const key of WRAPPED_KEYS) {
    const value = cf.get(key);
    for (const layer of Array.isArray(value) ? value : [value]) {
      if (isObj(layer)) out.push({ layer, label: labelOf(layer, `${snake(key)}`, label) });
    }
  }
  return out;
}

function checkSizes(cf: Map<string, unknown>, label: string, limits: ModelLimits): void {
  const positive = (key: string, max: number) => {
    const value = cf.get(key);
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === null || v === undefined) continue; // Keras's default for the field
      if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${label}: ${snake(key)} ${shown(value)} is not a positive integer`);
      if ((v as number) > max) fail(`${label}: ${snake(key)} ${shown(value)} is above the limit of ${max}`);
    }
  };
  for (const key of WEIGHT_DIMS) positive(key, limits.maxParams);
  for (const key of WINDOWS) positive(key, limits.maxInputElements);

  const batchSize = cf.get('batchSize');
  if (batchSize != null && !isIndex(batchSize)) fail(`${label}: batch_size ${shown(batchSize)} is not a non-negative integer`);
  for (const key of SHAPES) {
    const shape = cf.get(key);
    if (shape == null) continue;
    if (!Array.isArray(shape) || !shape.every((d) => d === null || isIndex(d))) {
      fail(`${label}: ${snake(key)} ${shown(shape)} is not a list of non-negative integers and nulls`);
    }
    const dims = shape as (number | null)[];
    const [batch, sample] = key === 'inputShape' ? [batchSize ?? null, dims] : [dims[0] ?? null, dims.slice(1)];
    const perSample = sample.reduce<number>((n, d) => n * (d ?? 1), 1);
    if (perSample > limits.maxInputElements) {
      fail(
        `${label}: ${snake(key)} ${shown(shape)} declares ${perSample} elements per sample, more than the limit of ${limits.maxInputElements}`,
      );
    }
    // A fixed batch size makes tfjs allocate per-batch state (a stateful RNN's), so it counts too.
    if (typeof batch === 'number' && batch * perSample > limits.maxInputElements) {
      fail(`${label}: ${snake(key)} ${shown(shape)} with batch size ${batch} declares more than ${limits.maxInputElements} elements`);
    }
  }
}

/** A layer of a functional model, as the graph check sees it. */
interface GraphLayer {
  name: string;
  label: string;
  isInput: boolean;
  /**
   * Nodes it has before any call: 1 for an InputLayer and for a nested model (tfjs gives a model
   * a node of its own at construction, and tfjs's own saves count it), else 0.
   */
  owned: number;
  /** Its calls (inbound_nodes): call k creates its node owned + k. */
  calls: unknown[];
  /** How many output tensors one of its nodes may have. */
  outputs: number;
  /** Id of its node 0 in the model's node graph. */
  base: number;
  /** Its index in the model's list of layers. */
  position: number;
}

/**
 * Checks a functional model's graph: unique names, every reference resolving to an existing
 * node and tensor, and the node graph acyclic, counting each call of a layer as depending on the
 * layer's previous call. That is what guarantees tfjs's re-queuing loop ends: a call that is
 * first in topological order among those not yet made always finds its inputs. Returns the layers
 * to check on their own.
 */
function functionalLayers(config: unknown, label: string, limits: ModelLimits): Item[] {
  if (!isObj(config)) fail(`${label} has no config object`);
  const cf = fields(config);
  const model = scope(label, config);
  const of = model ?? 'the model';
  const list = cf.get('layers');
  if (!Array.isArray(list)) fail(`${of} has no list of layers`);
  const entries = list as unknown[];
  if (entries.length > limits.maxLayers) fail(`the model has more than ${limits.maxLayers} layers`);

  const byName = new Map<string, GraphLayer>();
  const graph: GraphLayer[] = [];
  const items: Item[] = [];
  let nodes = 0;
  entries.forEach((entry, i) => {
    if (!isObj(entry)) fail(`${of}: layers[${i}] is not a layer object`);
    const ef = fields(entry);
    const name = ef.get('name');
    if (typeof name !== 'string') fail(`${of}: layers[${i}] has no name`);
    const layerLabel = model === null ? `layer ${quoted(name)}` : `layer ${quoted(name)} of ${model}`;
    // tfjs keys its layers by name in plain objects, where these names are inherited properties.
    if (name in {}) fail(`${layerLabel}: the name is reserved in JavaScript objects`);
    if (byName.has(name)) fail(`${layerLabel}: two layers have this name`);
    const lc = ef.get('config');
    if (!isObj(lc)) fail(`${layerLabel} has no config object`);
    const lf = fields(lc);
    // tfjs files the layer under its entry's name but queues its calls under config.name.
    if (lf.get('name') !== name) fail(`${layerLabel}: its config.name ${shown(lf.get('name'))} differs from its name`);
    const cls = ef.get('className');
    const className = typeof cls === 'string' ? camel(cls) : '';
    const calls = ef.get('inboundNodes');
    if (!Array.isArray(calls)) fail(`${layerLabel} has no inbound_nodes list`);
    const isInput = className === 'InputLayer';
    if (isInput && calls.length) fail(`${layerLabel}: an InputLayer has no inbound nodes`);
    if (!isInput && !calls.length) fail(`${layerLabel} has no inbound nodes: nothing feeds it`);
    const owned = isInput || MODELS.has(className) ? 1 : 0;
    const layer: GraphLayer = {
      name,
      label: layerLabel,
      isInput,
      owned,
      calls,
      outputs: outputsOf(className, lf),
      base: nodes,
      position: i,
    };
    nodes += owned + calls.length;
    byName.set(name, layer);
    graph.push(layer);
    items.push({ layer: entry, label: layerLabel });
  });

  /** The node id `ref` names, given as input `what` of `user`. */
  const resolve = (ref: unknown[], user: string, what: string): number => {
    const [name, node, tensor] = ref;
    if (typeof name !== 'string') fail(`${user}: ${what} does not start with a layer name`);
    const from = byName.get(name as string) ?? fail(`${user}: ${what} ${quoted(name as string)} is not a layer of ${of}`);
    const count = from.owned + from.calls.length;
    if (!isIndex(node) || node >= count) fail(`${user}: ${what} ${quoted(from.name)} has no node ${shown(node)} (it has ${count})`);
    if (!isIndex(tensor) || tensor >= from.outputs) {
      fail(
        `${user}: ${what} ${quoted(from.name)} has no output tensor ${shown(tensor)} (it has ${from.outputs === 1 ? 'one' : `at most ${from.outputs}`})`,
      );
    }
    return from.base + (node as number);
  };

  const deps: number[][] = [];
  const owner: GraphLayer[] = [];
  for (const layer of graph) {
    if (layer.owned) {
      deps.push([]);
      owner.push(layer);
    }
    layer.calls.forEach((call, k) => {
      const d = k > 0 ? [layer.base + layer.owned + k - 1] : [];
      if (isObj(call) && 'args' in call) {
        fail(
          `${layer.label}: inbound node ${k} is in the Keras 3 format ({"args", "kwargs"}), which TensorFlow.js cannot read; convert the model from Keras 2 (tf.keras)`,
        );
      }
      if (!Array.isArray(call) || !call.length) fail(`${layer.label}: inbound node ${k} is not a non-empty list of inputs`);
      (call as unknown[]).forEach((input, j) => {
        if (!Array.isArray(input)) fail(`${layer.label}: inbound node ${k} input ${j} is not a [layer, node, tensor, kwargs] list`);
        d.push(resolve(input as unknown[], layer.label, 'input'));
        const kwargs = (input as unknown[])[3];
        if (kwargs != null && !isObj(kwargs)) fail(`${layer.label}: inbound node ${k} input ${j} has kwargs that are not an object`);
        // Tensors passed by keyword (MultiHeadAttention's value and key) are inputs too.
        for (const ref of kwargsRefs(kwargs)) d.push(resolve(ref, layer.label, 'keyword input'));
      });
      deps.push(d);
      owner.push(layer);
    });
  }
  checkBuildCost(topologicalOrder(deps, owner), deps, owner, graph.length, of);

  for (const key of ['inputLayers', 'outputLayers']) {
    const refs = cf.get(key);
    const field = snake(key);
    if (!Array.isArray(refs) || !refs.length || !refs.every(isKerasRef))
      fail(`${of}: ${field} is not a non-empty list of [layer, node, tensor] references`);
    (refs as unknown[][]).forEach((ref, i) => {
      const node = resolve(ref, of, `${field}[${i}]`);
      if (key === 'inputLayers' && !owner[node].isInput) fail(`${of}: ${field}[${i}] ${quoted(owner[node].name)} is not an InputLayer`);
    });
  }
  return items;
}

/** Output tensors of one node of a layer: a nested model's outputs, or one, or its RNN states too. */
function outputsOf(className: string, lf: Map<string, unknown>): number {
  if (FUNCTIONAL.has(className)) {
    const outs = lf.get('outputLayers');
    return Array.isArray(outs) && outs.length ? outs.length : 1;
  }
  const wrapped = lf.get('layer');
  const inner = isObj(wrapped) ? fields(wrapped).get('config') : undefined;
  const returnsState = lf.get('returnState') === true || (isObj(inner) && fields(inner).get('returnState') === true);
  return returnsState ? MAX_STATE_OUTPUTS : 1;
}

/** The tensor references anywhere inside a call's kwargs. */
function kwargsRefs(kwargs: unknown): unknown[][] {
  const refs: unknown[][] = [];
  const stack: unknown[] = [kwargs];
  while (stack.length) {
    const v = stack.pop();
    if (isKerasRef(v)) refs.push(v);
    else if (Array.isArray(v) || isObj(v)) for (const child of Object.values(v)) stack.push(child);
  }
  return refs;
}

/** The node graph in topological order, by Kahn's algorithm; on a cycle, names the layers around it. */
function topologicalOrder(deps: number[][], owner: GraphLayer[]): number[] {
  const n = deps.length;
  const waiting = new Uint32Array(n);
  const users: number[][] = Array.from({ length: n }, () => []);
  deps.forEach((d, v) => {
    waiting[v] = d.length;
    for (const u of d) users[u].push(v);
  });
  const ready: number[] = [];
  for (let v = 0; v < n; v++) if (waiting[v] === 0) ready.push(v);
  const done = new Uint8Array(n);
  const order: number[] = [];
  while (ready.length) {
    const u = ready.pop()!;
    done[u] = 1;
    order.push(u);
    for (const v of users[u]) if (--waiting[v] === 0) ready.push(v);
  }
  if (order.length === n) return order;
  // Every node left waits on another left, so following those leads around a cycle.
  const step = new Map<number, number>();
  const path: number[] = [];
  let v = done.indexOf(0);
  while (!step.has(v)) {
    step.set(v, path.length);
    path.push(v);
    v = deps[v].find((u) => !done[u])!;
  }
  // In data-flow order, starting from the layer the message is about.
  const names = path
    .slice(step.get(v))
    .map((u) => owner[u].name)
    .reverse();
  names.unshift(names.pop()!);
  const cycle = names.filter((name, i) => name !== names[(i + 1) % names.length]);
  const first = owner[path[step.get(v)!]];
  if (cycle.length <= 1) fail(`${first.label} takes its own output as an input`);
  const q = cycle.map((name) => quoted(name, 24));
  const text = (q.length > 4 ? [...q.slice(0, 3), '…', q[0]] : [...q, q[0]]).join(' → ');
  return fail(`${first.label}: its inputs form a cycle: ${text}${cycle.length > 4 ? ` (${cycle.length} layers)` : ''}`);
}

/** Bounds the graph's depth and the passes tfjs's build makes over the list (see MAX_BUILD_STEPS). */
function checkBuildCost(order: number[], deps: number[][], owner: GraphLayer[], layers: number, of: string): void {
  const depth = new Uint32Array(deps.length);
  const pass = new Uint32Array(deps.length);
  let passes = 0;
  for (const v of order) {
    // Only a layer's own node (an InputLayer's, a nested model's) has no inputs; it exists before any pass.
    let d = 1;
    let p = deps[v].length ? 1 : 0;
    for (const u of deps[v]) {
      d = Math.max(d, depth[u] + 1);
      // An input from a layer listed later is made later in the pass, so this call waits a pass.
      p = Math.max(p, pass[u] + (owner[u].position > owner[v].position ? 1 : 0));
    }
    if (d > MAX_GRAPH_DEPTH)
      fail(`${owner[v].label} lies ${d} layers deep in the graph, deeper than the ${MAX_GRAPH_DEPTH} TensorFlow.js can build`);
    depth[v] = d;
    pass[v] = p;
    passes = Math.max(passes, p);
  }
  if (passes * layers > MAX_BUILD_STEPS) {
    fail(
      `${of} lists its layers far out of graph order: TensorFlow.js would make ${passes} passes over its ${layers} layers to connect them; list each layer after its inputs, as Keras and tfjs save models`,
    );
  }
}
