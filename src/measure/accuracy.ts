// Top-1 accuracy against labels, and top-1 agreement between two models' outputs.
import { argmaxRows } from './predict.js';

export function topOne(outputs: Float32Array, classes: number): Int32Array {
  return argmaxRows(outputs, classes);
}

/** Fraction of positions where the two label arrays agree. */
export function agreementRate(a: Int32Array, b: Int32Array): number {
  if (a.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
