// A calibration / evaluation / fine-tuning dataset, read from a .npz with arrays `x` and optional `y`.
// Everything downstream (statistics, evaluation, training) takes this one flat, validated shape.
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import type { NpyArray } from './npy.js';
import { parseNpz } from './npz.js';
import { shuffledIndices } from './random.js';

export interface Dataset {
  /** All samples, row-major, values exactly as stored (no rescaling). */
  x: Float32Array;
  n: number;
  sampleShape: number[];
  /** NumPy dtype of x in the file, e.g. "uint8" for raw images. */
  xDtype: string;
  /** Class id per sample (one-hot / probability labels are argmax-ed). */
  y: Int32Array | null;
  classes: number | null;
}

/** Reads a .npz from a path or bytes. `field` names the request input in errors ("data", "evalData"). */
export async function loadDataset(source: string | Uint8Array, field = 'data'): Promise<Dataset> {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw new InputError(field, `${field}: cannot read ${source}: ${(e as Error).message}`);
    }
  } else bytes = source;
  return datasetFromArrays(parseNpz(bytes, field), field);
}

export function datasetFromArrays(arrays: Map<string, NpyArray>, field = 'data'): Dataset {
  const xa = arrays.get('x');
  if (!xa) {
    const found = [...arrays.keys()].join(', ') || 'no arrays';
    throw new InputError(field, `${field}: missing array "x" (found: ${found}); save with np.savez(path, x=..., y=...)`);
  }
  if (xa.shape.length < 1) throw new InputError(field, `${field}: x must be at least 1-D (one row per sample), got a scalar`);
  const n = xa.shape[0];
  const sampleShape = xa.shape.slice(1);
  if (n < 1) throw new InputError(field, `${field}: x has no samples (shape [${xa.shape.join(', ')}])`);
  if (sampleShape.some((d) => d === 0)) throw new InputError(field, `${field}: x has an empty sample shape [${sampleShape.join(', ')}]`);

  const x = xa.data instanceof Float32Array ? xa.data : Float32Array.from(xa.data);
  if (xa.dtype.startsWith('float')) checkFinite(x, xa.data, field);
  const labels = arrays.has('y') ? readLabels(arrays.get('y')!, n, field) : null;
  return { x, n, sampleShape, xDtype: xa.dtype, y: labels?.y ?? null, classes: labels?.classes ?? null };
}

function checkFinite(x: Float32Array, src: ArrayLike<number>, field: string): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isFinite(v)) continue;
    if (Number.isNaN(v)) throw new InputError(field, `${field}: x contains NaN at index ${i}`);
    // float64 values beyond ±3.4e38 become ±Infinity in float32.
    const what = Number.isFinite(src[i]) ? `a value outside the float32 range (${src[i]})` : 'Infinity';
    throw new InputError(field, `${field}: x contains ${what} at index ${i}`);
  }
}

function readLabels(ya: NpyArray, n: number, field: string): { y: Int32Array; classes: number } {
  const { shape, data } = ya;
  // [n] and Keras-style sparse [n, 1] are class ids; [n, C] with C > 1 is one-hot / probabilities.
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) {
    if (shape[0] !== n) throw new InputError(field, `${field}: y has ${shape[0]} labels but x has ${n} samples`);
    const y = new Int32Array(n);
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!Number.isInteger(v)) throw new InputError(field, `${field}: y[${i}] = ${v} is not an integer class id`);
      if (v < 0) throw new InputError(field, `${field}: y[${i}] = ${v} is negative; class ids start at 0`);
      if (v > 0x7fffffff) throw new InputError(field, `${field}: y[${i}] = ${v} is too large for a class id`);
      y[i] = v;
      if (v > max) max = v;
    }
    return { y, classes: max + 1 };
  }
  if (shape.length === 2 && shape[1] > 1) {
    if (shape[0] !== n) throw new InputError(field, `${field}: y has ${shape[0]} rows but x has ${n} samples`);
    const c = shape[1];
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 0; j < c; j++) {
        const v = data[i * c + j];
        if (!Number.isFinite(v)) throw new InputError(field, `${field}: y contains ${v} at index ${i * c + j}`);
        if (v > data[i * c + best]) best = j;
      }
      y[i] = best;
    }
    return { y, classes: c };
  }
  throw new InputError(
    field,
    `${field}: y must be 1-D class ids [n] or 2-D one-hot [n, classes], got shape [${shape.join(', ')}]`,
  );
}

export function describeDataset(ds: Dataset) {
  return {
    samples: ds.n,
    xShape: [ds.n, ...ds.sampleShape],
    xDtype: ds.xDtype,
    hasLabels: ds.y !== null,
    classes: ds.classes,
  };
}

/** Whether a per-sample shape matches a model input shape without its batch dim (null = any). */
export function sampleShapeFits(sampleShape: number[], inputShape: (number | null)[]): boolean {
  return inputShape.length === sampleShape.length && inputShape.every((d, i) => d == null || d === sampleShape[i]);
}

/** Checks the per-sample shape against the model's input shape without its batch dim (null = any). */
export function checkFitsModel(ds: Dataset, inputShape: (number | null)[], field = 'data'): void {
  if (!sampleShapeFits(ds.sampleShape, inputShape)) {
    const fmt = (s: (number | null)[]) => `[${s.map((d) => d ?? 'null').join(', ')}]`;
    throw new InputError(
      field,
      `${field}: x samples have shape ${fmt(ds.sampleShape)} but the model expects ${fmt(inputShape)} (per sample, without the batch dimension)`,
    );
  }
}

/** Rows `indices` of ds, in that order; `classes` stays that of the full dataset. */
export function takeSamples(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const size = ds.sampleShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(indices.length * size);
  const y = ds.y ? new Int32Array(indices.length) : null;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new RangeError(`sample index ${i} out of range [0, ${ds.n})`);
    x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
    if (y) y[k] = ds.y![i];
  }
  return { ...ds, x, n: indices.length, y };
}

/**
 * Seeded random split: `fraction` of the samples (at least 1, leaving at least 1) go to evaluation.
 * Each part keeps the file's order so results do not depend on how the split was drawn beyond the seed.
 */
export function splitHoldout(ds: Dataset, fraction: number, seed: number, field = 'data'): { train: Dataset; evaluation: Dataset } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`hold-out fraction must be in (0, 1), got ${fraction}`);
  if (ds.n < 2) throw new InputError(field, `${field}: cannot hold out evaluation samples from a dataset of ${ds.n} sample`);
  const k = Math.min(ds.n - 1, Math.max(1, Math.round(ds.n * fraction)));
  const order = shuffledIndices(ds.n, seed);
  return {
    train: takeSamples(ds, order.subarray(k).sort()),
    evaluation: takeSamples(ds, order.subarray(0, k).sort()),
  };
}
