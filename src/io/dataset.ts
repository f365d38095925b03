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

/** What inspecting a dataset file reports (the API stores it with the upload). */
export interface DatasetSummary {
  samples: number;
  xShape: number[];
  sampleShape: number[];
  xDtype: string;
  hasLabels: boolean;
  classes: number | null;
}

/** Reads a .npz from a path or bytes. `field` names the request input in errors ("data", "evalData"). */
export async function loadDataset(source: string | Uint8Array, field = 'data'): Promise<Dataset> {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw cannotRead(field, source, e);
    }
  } else bytes = source;
  return datasetFromArrays(parseNpz(bytes, field), field);
}

export const cannotRead = (field: string, path: string, e: unknown) =>
  new InputError(field, `${field}: cannot read ${path}: ${(e as Error).message}`);

export function datasetFromArrays(arrays: Map<string, NpyArray>, field = 'data'): Dataset {
  const xa = arrays.get('x');
  if (!xa) throw missingX([...arrays.keys()], field);
  const { n, sampleShape } = xLayout(xa.shape, field);
  if (xa.dtype.startsWith('float')) checkValues(xa.data, finiteX(field));
  const x = xa.data instanceof Float32Array ? xa.data : Float32Array.from(xa.data);
  const labels = arrays.has('y') ? readLabels(arrays.get('y')!, n, field) : null;
  return { x, n, sampleShape, xDtype: xa.dtype, y: labels?.y ?? null, classes: labels?.classes ?? null };
}

// The checks below are shared with the streaming inspector (npz-stream.ts), which sees the same
// headers but gets the values a block at a time, so they take shapes and value runs, not arrays.

export function missingX(found: string[], field: string): InputError {
  const names = found.join(', ') || 'no arrays';
  return new InputError(field, `${field}: missing array "x" (found: ${names}); save with np.savez(path, x=..., y=...)`);
}

/** x's shape as samples: at least 1-D, at least one sample, no empty sample dimension. */
export function xLayout(shape: number[], field: string): { n: number; sampleShape: number[] } {
  if (shape.length < 1) throw new InputError(field, `${field}: x must be at least 1-D (one row per sample), got a scalar`);
  const n = shape[0];
  const sampleShape = shape.slice(1);
  if (n < 1) throw new InputError(field, `${field}: x has no samples (shape [${shape.join(', ')}])`);
  if (sampleShape.some((d) => d === 0)) throw new InputError(field, `${field}: x has an empty sample shape [${sampleShape.join(', ')}]`);
  return { n, sampleShape };
}

/** A test every value of an array must pass; the first failure in C order is the one reported. */
export interface ValueRule {
  /** Index of the first value in `values` failing the rule, or -1. */
  firstBad(values: ArrayLike<number>): number;
  /** The error for `value`, element `index` (C order) of the whole array. */
  error(index: number, value: number): InputError;
}

/** `first`: the index in the whole array of values[0], for arrays checked a piece at a time. */
export function checkValues(values: ArrayLike<number>, rule: ValueRule, first = 0): void {
  const i = rule.firstBad(values);
  if (i >= 0) throw rule.error(first + i, values[i]);
}

/** x becomes float32: NaN, Infinity and float64 beyond ±3.4e38 (Infinity once converted) are refused. */
export function finiteX(field: string): ValueRule {
  return {
    firstBad(values) {
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(Math.fround(values[i]))) return i;
      return -1;
    },
    error(i, v) {
      if (Number.isNaN(v)) return new InputError(field, `${field}: x contains NaN at index ${i}`);
      const what = Number.isFinite(v) ? `a value outside the float32 range (${v})` : 'Infinity';
      return new InputError(field, `${field}: x contains ${what} at index ${i}`);
    },
  };
}

/**
 * How y's shape is read: [n] and Keras-style sparse [n, 1] are class ids, [n, C] with C > 1 one-hot
 * rows or probabilities. `columns` is C for those, null for class ids.
 */
export function labelForm(shape: number[], field: string): { columns: number | null; rule: ValueRule } {
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) return { columns: null, rule: classIds(field) };
  if (shape.length === 2 && shape[1] > 1) return { columns: shape[1], rule: finiteY(field) };
  throw new InputError(field, `${field}: y must be 1-D class ids [n] or 2-D one-hot [n, classes], got shape [${shape.join(', ')}]`);
}

export function checkLabelCount(shape: number[], columns: number | null, n: number, field: string): void {
  if (shape[0] !== n)
    throw new InputError(field, `${field}: y has ${shape[0]} ${columns === null ? 'labels' : 'rows'} but x has ${n} samples`);
}

function classIds(field: string): ValueRule {
  return {
    firstBad(values) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) return i;
      }
      return -1;
    },
    error(i, v) {
      const why = !Number.isInteger(v)
        ? 'is not an integer class id'
        : v < 0
          ? 'is negative; class ids start at 0'
          : 'is too large for a class id';
      return new InputError(field, `${field}: y[${i}] = ${v} ${why}`);
    },
  };
}

function finiteY(field: string): ValueRule {
  return {
    firstBad(values) {
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
      return -1;
    },
    error: (i, v) => new InputError(field, `${field}: y contains ${v} at index ${i}`),
  };
}

function readLabels(ya: NpyArray, n: number, field: string): { y: Int32Array; classes: number } {
  const { shape, data } = ya;
  const { columns, rule } = labelForm(shape, field);
  checkLabelCount(shape, columns, n, field);
  checkValues(data, rule);
  if (columns === null) {
    const y = Int32Array.from(data);
    return { y, classes: y.reduce((a, b) => Math.max(a, b), 0) + 1 };
  }
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < columns; j++) if (data[i * columns + j] > data[i * columns + best]) best = j;
    y[i] = best;
  }
  return { y, classes: columns };
}

export function describeDataset(ds: Dataset): DatasetSummary {
  return {
    samples: ds.n,
    xShape: [ds.n, ...ds.sampleShape],
    sampleShape: ds.sampleShape,
    xDtype: ds.xDtype,
    hasLabels: ds.y !== null,
    classes: ds.classes,
  };
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
