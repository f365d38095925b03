// Host-side batch assembly: the training set stays in JS memory (it can be far larger than GPU
// memory), and only each shuffled batch is uploaded.

/** Rows idx[start..end) of a flat [n, rowSize] array, copied into one contiguous array. */
export function gatherRows<T extends Float32Array | Int32Array>(src: T, rowSize: number, idx: Int32Array, start: number, end: number): T {
  const out = new (src.constructor as { new (len: number): T })((end - start) * rowSize);
  for (let i = start; i < end; i++) {
    const from = idx[i] * rowSize;
    out.set(src.subarray(from, from + rowSize), (i - start) * rowSize);
  }
  return out;
}
