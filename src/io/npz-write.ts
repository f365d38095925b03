// Writes NumPy .npz files (what np.savez / np.savez_compressed produce) for the example data,
// the results script and test fixtures.
import { zipSync } from 'fflate';

export interface NpyInput {
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
  shape: number[];
}

const DESCR = new Map<Function, string>([
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int32Array, '<i4'],
  [Uint8Array, '|u1'],
]);

/** .npy version 1.0: magic, header length, a Python dict literal padded to 64 bytes, raw data. */
export function encodeNpy({ data, shape }: NpyInput): Uint8Array {
  const descr = DESCR.get(data.constructor)!;
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function encodeNpz(arrays: Record<string, NpyInput>, compressed = false): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, array] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(array);
  return zipSync(files, { level: compressed ? 6 : 0 });
}
