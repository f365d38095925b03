// Builds .npy / .npz bytes in the tests themselves, so the npz reader is tested without numpy. The
// .npy files come from Lopper's writer (src/io/npz-write.ts); only what it never writes, because
// numpy never does (headers without the alignment padding, structured dtypes), is framed here.
import { Zip, ZipDeflate, ZipPassThrough, zipSync } from 'fflate';
import { encodeNpyBytes, frameNpy, type NpyVersion } from '../../src/io/npz-write.js';

export interface NpyOptions {
  version?: NpyVersion;
  fortran?: boolean;
  /** false: skip numpy's 64-byte alignment padding (still readable .npy, data then unaligned). */
  pad?: boolean;
}

/** A .npy file from a dtype descr, a shape and the raw data bytes (already in file order). */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, opts: NpyOptions = {}): Uint8Array {
  // A descr starting with "[" is a structured dtype, written as a Python list rather than a string.
  if (descr.startsWith('[') || opts.pad === false) {
    const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    return npyWithHeader(
      `{'descr': ${descr.startsWith('[') ? descr : `'${descr}'`}, 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`,
      data,
      opts,
    );
  }
  return encodeNpyBytes({ descr, shape, data, fortranOrder: opts.fortran }, opts.version);
}

/** A .npy file with the header dict text given as is (numpy's padding added unless opts.pad is false). */
export function npyWithHeader(header: string, data: Uint8Array, opts: NpyOptions = {}): Uint8Array {
  const version = opts.version ?? 1;
  if (opts.pad !== false) return frameNpy(header, data, version);
  // Unpadded: the header ends with its '\n' wherever the dict ends, so the data is not aligned.
  const h = new TextEncoder().encode(`${header}\n`);
  const prefix = version === 1 ? 10 : 12;
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
      case 'f2':
        v.setUint16(o, x, le);
        break;
      case 'f4':
        v.setFloat32(o, x, le);
        break;
      case 'f8':
        v.setFloat64(o, x, le);
        break;
      case 'i1':
        v.setInt8(o, x);
        break;
      case 'u1':
      case 'b1':
        v.setUint8(o, x);
        break;
      case 'i2':
        v.setInt16(o, x, le);
        break;
      case 'u2':
        v.setUint16(o, x, le);
        break;
      case 'i4':
        v.setInt32(o, x, le);
        break;
      case 'u4':
        v.setUint32(o, x, le);
        break;
      case 'i8':
        v.setBigInt64(o, BigInt(x), le);
        break;
      case 'u8':
        v.setBigUint64(o, BigInt(x), le);
        break;
      default:
        throw new Error(`fixture cannot encode ${descr}`);
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

/** Like npz, but written the way a streaming zip writer does: sizes and CRC in data descriptors after each member. */
export function npzWithDescriptors(members: Record<string, Uint8Array>, compressed = false): Uint8Array {
  const parts: Uint8Array[] = [];
  const zip = new Zip((err, data) => {
    if (err) throw err;
    parts.push(data);
  });
  for (const [k, v] of Object.entries(members)) {
    const file = compressed ? new ZipDeflate(`${k}.npy`) : new ZipPassThrough(`${k}.npy`);
    zip.add(file);
    file.push(v, true);
  }
  zip.end();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/**
 * A stored .npz in full zip64 form, as a writer does for members over 4 GiB: 0xFFFFFFFF sizes and offsets
 * in the central directory with the real ones in zip64 extra fields, and the zip64 end records.
 */
export function zip64Npz(members: Record<string, Uint8Array>): Uint8Array {
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [k, data] of Object.entries(members)) {
    const name = new TextEncoder().encode(`${k}.npy`);
    const head = new Uint8Array(30 + name.length + 20);
    const h = new DataView(head.buffer);
    h.setUint32(0, 0x04034b50, true);
    h.setUint16(4, 45, true);
    h.setUint32(18, 0xffffffff, true);
    h.setUint32(22, 0xffffffff, true);
    h.setUint16(26, name.length, true);
    h.setUint16(28, 20, true);
    head.set(name, 30);
    h.setUint16(30 + name.length, 1, true);
    h.setUint16(32 + name.length, 16, true);
    h.setBigUint64(34 + name.length, BigInt(data.length), true);
    h.setBigUint64(42 + name.length, BigInt(data.length), true);
    const entry = new Uint8Array(46 + name.length + 28);
    const c = new DataView(entry.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, 45, true);
    c.setUint32(20, 0xffffffff, true);
    c.setUint32(24, 0xffffffff, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, 28, true);
    c.setUint32(42, 0xffffffff, true);
    entry.set(name, 46);
    c.setUint16(46 + name.length, 1, true);
    c.setUint16(48 + name.length, 24, true);
    c.setBigUint64(50 + name.length, BigInt(data.length), true); // uncompressed, compressed, then offset
    c.setBigUint64(58 + name.length, BigInt(data.length), true);
    c.setBigUint64(66 + name.length, BigInt(offset), true);
    local.push(head, data);
    central.push(entry);
    offset += head.length + data.length;
  }
  const dirSize = central.reduce((n, e) => n + e.length, 0);
  const tail = new Uint8Array(56 + 20 + 22);
  const t = new DataView(tail.buffer);
  const count = BigInt(central.length);
  t.setUint32(0, 0x06064b50, true);
  t.setBigUint64(4, 44n, true);
  t.setUint16(12, 45, true);
  t.setUint16(14, 45, true);
  t.setBigUint64(24, count, true);
  t.setBigUint64(32, count, true);
  t.setBigUint64(40, BigInt(dirSize), true);
  t.setBigUint64(48, BigInt(offset), true);
  t.setUint32(56, 0x07064b50, true);
  t.setBigUint64(64, BigInt(offset + dirSize), true);
  t.setUint32(72, 1, true);
  t.setUint32(76, 0x06054b50, true);
  t.setUint16(84, 0xffff, true);
  t.setUint16(86, 0xffff, true);
  t.setUint32(88, 0xffffffff, true);
  t.setUint32(92, 0xffffffff, true);
  const parts = [...local, ...central, tail];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}
