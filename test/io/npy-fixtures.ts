// Builds .npy / .npz bytes in the tests themselves, so the npz reader is tested without numpy.
import { zipSync } from 'fflate';

export interface NpyOptions {
  version?: 1 | 2 | 3;
  fortran?: boolean;
  /** false: skip numpy's 64-byte alignment padding (still valid .npy, data then unaligned). */
  pad?: boolean;
}

/** A .npy file from a dtype descr, a shape and the raw data bytes (already in file order). */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, opts: NpyOptions = {}): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  // A descr starting with "[" is a structured dtype, written as a Python list rather than a string.
  const d = descr.startsWith('[') ? descr : `'${descr}'`;
  return npyWithHeader(`{'descr': ${d}, 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`, data, opts);
}

/** A .npy file with the header dict text given as is (numpy's padding added unless opts.pad is false). */
export function npyWithHeader(header: string, data: Uint8Array, opts: NpyOptions = {}): Uint8Array {
  const version = opts.version ?? 1;
  // numpy pads with spaces so the data starts at a multiple of 64, and ends the header with \n.
  const prefix = version === 1 ? 10 : 12;
  const headerBytes = () => new TextEncoder().encode(header).length;
  while (opts.pad !== false && (prefix + headerBytes() + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(prefix + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, prefix);
  out.set(data, prefix + h.length);
  return out;
}

/** Encodes numbers for a numeric descr such as '<f4', '>i8', '|u1', '<f2' (f2: pass raw bit patterns). */
export function encode(descr: string, values: number[]): Uint8Array {
  const le = descr[0] !== '>';
  const kind = descr.slice(1);
  const size = Number(kind.slice(1));
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const o = i * size;
    switch (kind) {
      case 'f2': v.setUint16(o, x, le); break;
      case 'f4': v.setFloat32(o, x, le); break;
      case 'f8': v.setFloat64(o, x, le); break;
      case 'i1': v.setInt8(o, x); break;
      case 'u1': case 'b1': v.setUint8(o, x); break;
      case 'i2': v.setInt16(o, x, le); break;
      case 'u2': v.setUint16(o, x, le); break;
      case 'i4': v.setInt32(o, x, le); break;
      case 'u4': v.setUint32(o, x, le); break;
      case 'i8': v.setBigInt64(o, BigInt(x), le); break;
      case 'u8': v.setBigUint64(o, BigInt(x), le); break;
      default: throw new Error(`fixture cannot encode ${descr}`);
    }
  });
  return out;
}

export const npy = (descr: string, shape: number[], values: number[], opts?: NpyOptions) =>
  npyBytes(descr, shape, encode(descr, values), opts);

/** Zips named .npy members the way np.savez (level 0, STORED) or np.savez_compressed (DEFLATED) does. */
export function npz(members: Record<string, Uint8Array>, compressed = false): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const [k, v] of Object.entries(members)) entries[`${k}.npy`] = [v, { level: compressed ? 6 : 0 }];
  return zipSync(entries);
}
