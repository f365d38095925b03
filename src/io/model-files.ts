// Turns a TF.js Layers model's files (model.json + shards, as written by tensorflowjs_converter
// or tfjs model.save) into validated ModelArtifacts and a LayersModel. Validation happens here,
// before tfjs, so a bad upload gets an error naming the manifest entry at fault.
import * as tf from '@tensorflow/tfjs';
import { InputError, quoted } from '../errors.js';
import '../layers/index.js'; // registers Lopper's Keras layers (MultiHeadAttention, ...) before any load
import { findUnknownClasses } from './layer-classes.js';
import { readModelSource } from './model-source.js';
import { firstNonFinite } from './non-finite.js';
import { checkTopology, DEFAULT_MODEL_LIMITS, type ModelLimits } from './topology-check.js';
import { withWeightBudget, type WeightBudget } from './weight-budget.js';

export { readModelSource } from './model-source.js';

// Bytes per stored element: the quantized dtype when present, else the weight's own dtype.
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** A manifest weight and where its bytes lie in the assembled weight data. */
interface StoredWeight {
  spec: tf.io.WeightsManifestEntry;
  where: string;
  offset: number;
  bytes: number;
}

export function artifactsFromFiles(files: Map<string, Uint8Array>, limits: ModelLimits = DEFAULT_MODEL_LIMITS): tf.io.ModelArtifacts {
  const raw = files.get('model.json');
  if (!raw) throw new InputError('model.json', 'model.json: missing');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(raw)); // TextDecoder drops a UTF-8 BOM
  } catch (e) {
    throw new InputError('model.json', `model.json: not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new InputError('model.json', 'model.json: not a JSON object');
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  if (!topology || typeof topology !== 'object') throw new InputError('model.json', 'model.json: no modelTopology');
  if (json.format === 'graph-model' || Array.isArray(topology.node)) {
    throw new InputError(
      'model.json',
      'model.json: this is a TF.js graph model; Lopper needs a Layers model (tensorflowjs_converter --input_format keras, or tfjs model.save)',
    );
  }
  const config = (topology.model_config ?? topology) as Record<string, unknown>;
  if (typeof config?.class_name !== 'string' && typeof config?.className !== 'string') {
    throw new InputError('model.json', 'model.json: modelTopology has no class_name, so it is not a Keras/Layers model config');
  }
  checkTopology(topology, limits);
  if (!Array.isArray(json.weightsManifest)) throw new InputError('model.json', 'model.json: weightsManifest missing or not a list');

  const stored: StoredWeight[] = [];
  const buffers: Uint8Array[] = [];
  let end = 0;
  json.weightsManifest.forEach((group: unknown, i: number) => {
    const g = group as { paths?: unknown; weights?: unknown };
    const where = `weightsManifest[${i}]`;
    if (!Array.isArray(g?.paths) || !Array.isArray(g.weights)) throw new InputError(where, `${where}: needs "paths" and "weights" lists`);
    let expected = 0;
    g.weights.forEach((w: unknown, k: number) => {
      const field = `${where}.weights[${k}]`;
      const bytes = checkSpec(w, field);
      stored.push({ spec: w as tf.io.WeightsManifestEntry, where: field, offset: end + expected, bytes });
      expected += bytes;
    });
    let actual = 0;
    g.paths.forEach((p: unknown, j: number) => {
      const field = `${where}.paths[${j}]`;
      if (typeof p !== 'string') throw new InputError(field, `${field}: not a file name`);
      const data = files.get(p.split('/').pop()!);
      if (!data) throw new InputError(field, `${field}: weight file "${p}" named in model.json was not provided`);
      actual += data.length;
      buffers.push(data);
    });
    if (actual !== expected) {
      throw new InputError(
        where,
        `${where}: weight files ${g.paths.join(', ')} hold ${actual} bytes but the ${g.weights.length} weights listed need ${expected} bytes`,
      );
    }
    end += expected;
  });

  const weightData = new Uint8Array(buffers.reduce((s, b) => s + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  for (const w of stored) checkFinite(w, weightData);
  // trainingConfig is left out on purpose: Lopper compiles its own training, and tfjs would try to
  // rebuild the Python optimizer/loss named there and fail on ones it lacks.
  return {
    modelTopology: topology,
    format: typeof json.format === 'string' ? json.format : undefined,
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : undefined,
    weightSpecs: stored.map((w) => w.spec),
    weightData: weightData.buffer,
  };
}

/** Validates one manifest weight entry and returns how many bytes it occupies in the shards. */
function checkSpec(w: unknown, where: string): number {
  const spec = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: Record<string, unknown> };
  if (typeof spec?.name !== 'string') throw new InputError(where, `${where}: weight has no name`);
  const shape = spec.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InputError(where, `${where}: weight "${spec.name}" has an invalid shape ${JSON.stringify(shape)}`);
  }
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  const q = spec.quantization;
  if (q != null) {
    const bytes = QUANTIZED_BYTES[q.dtype as string];
    if (!bytes)
      throw new InputError(where, `${where}: weight "${spec.name}" has unsupported quantization dtype ${JSON.stringify(q.dtype)}`);
    if (q.dtype !== 'float16' && !(Number.isFinite(q.scale) && Number.isFinite(q.min))) {
      throw new InputError(where, `${where}: weight "${spec.name}" is ${q.dtype}-quantized but lacks numeric min and scale`);
    }
    // tfjs dequantizes to float32 as q·scale + min, which overflows to ±Infinity past ~3.4e38.
    const top = (bytes === 1 ? 255 : 65535) * (q.scale as number) + (q.min as number);
    if (q.dtype !== 'float16' && !(Number.isFinite(Math.fround(q.min as number)) && Number.isFinite(Math.fround(top)))) {
      throw new InputError(where, `${where}: weight "${spec.name}" has min and scale whose values overflow float32`);
    }
    return count * bytes;
  }
  const bytes = DTYPE_BYTES[spec.dtype as string];
  if (!bytes) throw new InputError(where, `${where}: weight "${spec.name}" has unsupported dtype ${JSON.stringify(spec.dtype)}`);
  return count * bytes;
}

/**
 * Refuses NaN and ±Infinity in float32 and float16 weights: tfjs loads them, and fine-tuning then
 * "completes" at chance accuracy. (uint8/uint16 values are finite whenever checkSpec passed.)
 */
function checkFinite({ spec, where, offset, bytes }: StoredWeight, data: Uint8Array): void {
  const half = spec.quantization?.dtype === 'float16';
  if (!half && (spec.quantization != null || spec.dtype !== 'float32')) return;
  const bad = firstNonFinite(data, offset, bytes / (half ? 2 : 4), half ? 'float16' : 'float32');
  if (bad) throw new InputError(where, `${where}: weight ${quoted(spec.name)} holds ${bad.value} at index ${bad.index}`);
}

/**
 * The weight values a model built from `artifacts` may create. tfjs loads weights strictly (every
 * variable set from a manifest entry of its shape), so a model cannot need more than its manifest
 * holds; past that, building it would only allocate memory before failing.
 */
function weightBudget(artifacts: tf.io.ModelArtifacts, limits: ModelLimits): WeightBudget {
  const declared =
    artifacts.weightData == null || artifacts.weightSpecs == null
      ? Infinity
      : artifacts.weightSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  return declared < limits.maxParams
    ? { limit: declared, what: `the ${declared} values its weightsManifest holds` }
    : { limit: limits.maxParams, what: `the limit of ${limits.maxParams}` };
}

export async function loadModelFromArtifacts(
  artifacts: tf.io.ModelArtifacts,
  limits: ModelLimits = DEFAULT_MODEL_LIMITS,
): Promise<tf.LayersModel> {
  try {
    return await withWeightBudget(weightBudget(artifacts, limits), () => tf.loadLayersModel(tf.io.fromMemory(artifacts)));
  } catch (e) {
    // Unknown classes come first even when the weight budget stopped the build: a Sequential
    // builds the layers before the unknown one, and the user has to replace those classes anyway.
    const unknown = findUnknownClasses(artifacts.modelTopology);
    const parts: string[] = [];
    if (unknown.layers.length) parts.push(`unknown layer class(es): ${unknown.layers.join(', ')}`);
    if (unknown.others.length) parts.push(`unknown class(es) inside layer configs: ${unknown.others.join(', ')}`);
    if (parts.length) throw new InputError('model.json', `model.json: ${parts.join('; ')} (not available in TensorFlow.js)`);
    if (e instanceof InputError) throw e;
    throw new InputError('model.json', `model.json: TensorFlow.js cannot build the model: ${(e as Error).message}`);
  }
}

/** Path (model.json, folder or .zip) to a loaded model, keeping the artifacts for re-saving. */
export async function loadModel(
  path: string,
  limits: ModelLimits = DEFAULT_MODEL_LIMITS,
): Promise<{ model: tf.LayersModel; artifacts: tf.io.ModelArtifacts }> {
  const artifacts = artifactsFromFiles(await readModelSource(path), limits);
  return { model: await loadModelFromArtifacts(artifacts, limits), artifacts };
}
