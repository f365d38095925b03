// Writes NumPy .npy and .npz files (what np.save / np.savez / np.savez_compressed produce) for the
// example data, the results script and test fixtures. Lopper's one .npy writer: the tests build
// their files with it too, and only add what numpy never writes (broken headers) around it.
import { zipSync } from 'fflate';

export interface NpyInput {
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
  shape: number[];
}

/** An array as a dtype descr (e.g. '<f4', '>i8', '|u1') and its bytes already in file order. */
export interface NpyBytesInput {
  descr: string;
  shape: readonly number[];
  data: Uint8Array;
  fortranOrder?: boolean;
}

/** .npy format versions: 1 (header ≤ 64 KiB, latin-1), 2 (4-byte header length), 3 (UTF-8 header). */
export type NpyVersion = 1 | 2 | 3;

// Keyed by the typed array's constructor (data.constructor).
const DESCR = new Map<object, string>([
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int32Array, '<i4'],
  [Uint8Array, '|u1'],
]);

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The header dict numpy writes for an array, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }. */
export function npyHeader(descr: string, shape: readonly number[], fortranOrder = false): string {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  return `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': (${dims}), }`;
}

/**
 * A .npy file around a header dict text and the data bytes: magic, version, header length, the
 * header padded with spaces and ended by '\n' so the data starts at a multiple of 64, as numpy's
 * format._wrap_header does (which pads a full 64 when already aligned).
 */
export function frameNpy(header: string, data: Uint8Array, version: NpyVersion = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const text = version === 3 ? new TextEncoder().encode(header) : latin1(header);
  const length = text.length + 64 - ((prefix + text.length + 1) % 64) + 1;
  if (version === 1 && length > 0xffff) throw new RangeError(`a .npy header of ${length} bytes needs format version 2`);
  const out = new Uint8Array(prefix + length + data.length);
  out.set(MAGIC);
  out.set([version, 0], 6);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, length, true);
  else view.setUint32(8, length, true);
  out.set(text, prefix);
  out.fill(0x20, prefix + text.length, prefix + length - 1);
  out[prefix + length - 1] = 0x0a;
  out.set(data, prefix + length);
  return out;
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError('a .npy header with characters beyond latin-1 needs format version 3');
    out[i] = code;
  }
  return out;
}

/** A .npy file of any numeric dtype, from its bytes. */
export function encodeNpyBytes({ descr, shape, data, fortranOrder }: NpyBytesInput, version: NpyVersion = 1): Uint8Array {
  return frameNpy(npyHeader(descr, shape, fortranOrder), data, version);
}

/** A .npy file (version 1.0) of a typed array. */
export function encodeNpy({ data, shape }: NpyInput): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return encodeNpyBytes({ descr: DESCR.get(data.constructor)!, shape, data: bytes });
}

export function encodeNpz(arrays: Record<string, NpyInput>, compressed = false): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, array] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(array);
  return zipSync(files, { level: compressed ? 6 : 0 });
}
