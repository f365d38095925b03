// A zip writer that lies on request: every size, CRC, name, method and offset of the local headers,
// the central directory and its end record can be overridden, members can share one local entry
// (overlapping "better zip bombs"), and the deflate streams are node:zlib's raw deflate. Also .npy
// files with the same freedom over the header. Everything is built from code; nothing binary
// is committed.
import { deflateRawSync } from 'node:zlib';
import { frameNpy, npyHeader, type NpyVersion } from '../../src/io/npz-write.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const deflate = (data: Uint8Array, level = 6) => new Uint8Array(deflateRawSync(data, { level }));

const zeroStreams = new Map<number, { deflated: Uint8Array; crc: number }>();
/** A raw deflate stream of `bytes` zero bytes, and their CRC (cached: a 128 MiB one takes ~0.5 s). */
export function zeros(bytes: number): { deflated: Uint8Array; crc: number } {
  let z = zeroStreams.get(bytes);
  if (!z) {
    const data = new Uint8Array(bytes);
    z = { deflated: deflate(data, 9), crc: crc32(data) };
    zeroStreams.set(bytes, z);
  }
  return z;
}

export interface ZipMember {
  name: string | Uint8Array;
  /** The uncompressed content (sizes and CRC are computed from it unless overridden). */
  data?: Uint8Array;
  /** 0 stored, 8 deflate (default), anything else is written as is. */
  method?: number;
  /** The bytes written after the local header, instead of `data` (deflated when method 8). */
  raw?: Uint8Array;
  /** Declared uncompressed size when `data` is absent (e.g. with `raw` = a zero stream). */
  size?: number;
  crc?: number;
  flags?: number;
  extra?: Uint8Array;
  /** Overrides in the local header only. */
  local?: { name?: string | Uint8Array; crc?: number; compressedSize?: number; size?: number; method?: number };
  /** Overrides in the central directory entry only. */
  central?: { name?: string | Uint8Array; crc?: number; compressedSize?: number; size?: number; method?: number; offset?: number };
  /** Write only a central entry pointing at member number `sharesLocalOf`'s local header. */
  sharesLocalOf?: number;
  /** Leave this member out of the central directory. */
  noCentral?: boolean;
  /** Data descriptor after the data (flag bit 3). */
  descriptor?: boolean;
}

export interface ZipOptions {
  comment?: string;
  /** No central directory and no end record (a stream of local entries only). */
  noCentral?: boolean;
  /** Overrides in the end-of-central-directory record. */
  eocd?: { entries?: number; cdSize?: number; cdOffset?: number };
  /** Bytes before the first local header (self-extracting stubs, junk). */
  prefix?: Uint8Array;
}

const enc = (s: string | Uint8Array) => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

export function zip(members: ZipMember[], opts: ZipOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    offset += b.length;
  };
  if (opts.prefix) push(opts.prefix);
  const locals: { offset: number; method: number; crc: number; csize: number; size: number; name: Uint8Array; flags: number }[] = [];
  for (const m of members) {
    if (m.sharesLocalOf !== undefined) {
      locals.push(locals[m.sharesLocalOf]);
      continue;
    }
    const method = m.method ?? 8;
    const data = m.data ?? new Uint8Array(0);
    const body = m.raw ?? (method === 8 ? deflate(data) : data);
    const crc = m.crc ?? (m.data ? crc32(data) : 0);
    const size = m.size ?? data.length;
    const name = enc(m.name);
    const flags = (m.flags ?? 0) | (m.descriptor ? 8 : 0);
    const lname = m.local?.name !== undefined ? enc(m.local.name) : name;
    const extra = m.extra ?? new Uint8Array(0);
    const h = new DataView(new ArrayBuffer(30));
    h.setUint32(0, 0x04034b50, true);
    h.setUint16(4, 20, true);
    h.setUint16(6, flags, true);
    h.setUint16(8, m.local?.method ?? method, true);
    h.setUint32(10, 0, true); // time, date
    const hideSizes = m.descriptor;
    h.setUint32(14, hideSizes ? 0 : (m.local?.crc ?? crc) >>> 0, true);
    h.setUint32(18, hideSizes ? 0 : (m.local?.compressedSize ?? body.length) >>> 0, true);
    h.setUint32(22, hideSizes ? 0 : (m.local?.size ?? size) >>> 0, true);
    h.setUint16(26, lname.length, true);
    h.setUint16(28, extra.length, true);
    const at = offset;
    push(new Uint8Array(h.buffer));
    push(lname);
    push(extra);
    push(body);
    if (m.descriptor) {
      const d = new DataView(new ArrayBuffer(16));
      d.setUint32(0, 0x08074b50, true);
      d.setUint32(4, (m.local?.crc ?? crc) >>> 0, true);
      d.setUint32(8, (m.local?.compressedSize ?? body.length) >>> 0, true);
      d.setUint32(12, (m.local?.size ?? size) >>> 0, true);
      push(new Uint8Array(d.buffer));
    }
    locals.push({ offset: at, method, crc, csize: body.length, size, name, flags });
  }
  if (opts.noCentral) return concatAll(chunks);
  const cdStart = offset;
  let entries = 0;
  members.forEach((m, i) => {
    if (m.noCentral) return;
    const l = locals[i];
    const name = m.central?.name !== undefined ? enc(m.central.name) : m.sharesLocalOf !== undefined ? enc(m.name) : l.name;
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, l.flags, true);
    c.setUint16(10, m.central?.method ?? l.method, true);
    c.setUint32(16, (m.central?.crc ?? l.crc) >>> 0, true);
    c.setUint32(20, (m.central?.compressedSize ?? l.csize) >>> 0, true);
    c.setUint32(24, (m.central?.size ?? l.size) >>> 0, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, (m.central?.offset ?? l.offset) >>> 0, true);
    push(new Uint8Array(c.buffer));
    push(name);
    entries++;
  });
  const cdSize = offset - cdStart;
  const comment = enc(opts.comment ?? '');
  const e = new DataView(new ArrayBuffer(22));
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, (opts.eocd?.entries ?? entries) & 0xffff, true);
  e.setUint16(10, (opts.eocd?.entries ?? entries) & 0xffff, true);
  e.setUint32(12, (opts.eocd?.cdSize ?? cdSize) >>> 0, true);
  e.setUint32(16, (opts.eocd?.cdOffset ?? cdStart) >>> 0, true);
  e.setUint16(20, comment.length, true);
  push(new Uint8Array(e.buffer));
  push(comment);
  return concatAll(chunks);
}

function concatAll(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Where each section of a zip built by `zip` starts: for truncating inside a chosen part. */
export function centralDirectoryOffset(bytes: Uint8Array): number {
  for (let i = bytes.length - 22; i >= 0; i--) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2] === 5 && bytes[i + 3] === 6) {
      return new DataView(bytes.buffer, bytes.byteOffset).getUint32(i + 16, true);
    }
  }
  return bytes.length;
}

// ---------------------------------------------------------------------------------------------
// .npy

export interface NpyOptions {
  descr: string;
  shape: number[];
  data: Uint8Array;
  fortran?: boolean;
  version?: NpyVersion;
  /** The header dict text instead of the generated one (padding still added). */
  header?: string;
  /** Extra spaces of padding (long but valid headers). */
  pad?: number;
  /** Overrides the header length field. */
  headerLen?: number;
  magic?: Uint8Array;
}

/**
 * Lopper's own writer (src/io/npz-write.ts) frames the file; what numpy never writes (a header
 * text of the caller's, extra padding, a lying length field, a wrong magic) is patched in here.
 */
export function npy(o: NpyOptions): Uint8Array {
  const header = (o.header ?? npyHeader(o.descr, o.shape, o.fortran)) + ' '.repeat(o.pad ?? 0);
  const version = o.version ?? 1;
  const out = frameNpy(header, o.data, version);
  if (o.magic) out.set(o.magic.subarray(0, 6));
  const v = new DataView(out.buffer);
  if (o.headerLen !== undefined && version === 1) v.setUint16(8, o.headerLen & 0xffff, true);
  else if (o.headerLen !== undefined) v.setUint32(8, o.headerLen >>> 0, true);
  return out;
}

export interface DtypeSpec {
  code: string;
  size: number;
  write: (view: DataView, offset: number, value: number, little: boolean) => void;
  float: boolean;
}

const half = (f: number) => {
  if (Number.isNaN(f)) return 0x7e00;
  if (f === Infinity) return 0x7c00;
  if (f === -Infinity) return 0xfc00;
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((x & 0x7fffff) >>> 13);
};

export const DTYPES: Record<string, DtypeSpec> = {
  f2: { code: 'f2', size: 2, float: true, write: (v, o, x, le) => v.setUint16(o, half(x), le) },
  f4: { code: 'f4', size: 4, float: true, write: (v, o, x, le) => v.setFloat32(o, x, le) },
  f8: { code: 'f8', size: 8, float: true, write: (v, o, x, le) => v.setFloat64(o, x, le) },
  i1: { code: 'i1', size: 1, float: false, write: (v, o, x) => v.setInt8(o, x) },
  u1: { code: 'u1', size: 1, float: false, write: (v, o, x) => v.setUint8(o, x) },
  b1: { code: 'b1', size: 1, float: false, write: (v, o, x) => v.setUint8(o, x ? 1 : 0) },
  i2: { code: 'i2', size: 2, float: false, write: (v, o, x, le) => v.setInt16(o, x, le) },
  u2: { code: 'u2', size: 2, float: false, write: (v, o, x, le) => v.setUint16(o, x, le) },
  i4: { code: 'i4', size: 4, float: false, write: (v, o, x, le) => v.setInt32(o, x, le) },
  u4: { code: 'u4', size: 4, float: false, write: (v, o, x, le) => v.setUint32(o, x, le) },
  i8: { code: 'i8', size: 8, float: false, write: (v, o, x, le) => v.setBigInt64(o, BigInt(Math.trunc(x)), le) },
  u8: { code: 'u8', size: 8, float: false, write: (v, o, x, le) => v.setBigUint64(o, BigInt(Math.trunc(Math.abs(x))), le) },
};

/** Values as `dtype` bytes in the given byte order. */
export function encodeValues(values: ArrayLike<number>, dtype: DtypeSpec, little = true): Uint8Array {
  const out = new Uint8Array(values.length * dtype.size);
  const v = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dtype.write(v, i * dtype.size, values[i], little);
  return out;
}
