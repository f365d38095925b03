// Parser for one NumPy .npy array (format versions 1, 2 and 3), as stored inside a .npz.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// Every problem is the caller's file, so every failure is an InputError naming the array.
import { InputError } from '../errors.js';

export type NpyData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

export interface NpyArray {
  /** NumPy's name for the stored dtype, e.g. "float32", "int64", "bool" (not the JS array type). */
  dtype: string;
  shape: number[];
  /** C-order values. float16 arrives as Float32Array; int64/uint64 as Int32Array when every value
   * fits, else Float64Array (values beyond 2^53 are rejected rather than silently rounded). */
  data: NpyData;
}

type Ctor = new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => NpyData;
interface DtypeInfo {
  name: string;
  size: number;
  ctor: Ctor | null; // null: needs conversion (float16, 64-bit integers)
  get?: (v: DataView, off: number, le: boolean) => number; // element reader for byte swapping
}

const DTYPES: Record<string, DtypeInfo> = {
  f2: { name: 'float16', size: 2, ctor: null },
  f4: { name: 'float32', size: 4, ctor: Float32Array, get: (v, o, le) => v.getFloat32(o, le) },
  f8: { name: 'float64', size: 8, ctor: Float64Array, get: (v, o, le) => v.getFloat64(o, le) },
  i1: { name: 'int8', size: 1, ctor: Int8Array },
  u1: { name: 'uint8', size: 1, ctor: Uint8Array },
  b1: { name: 'bool', size: 1, ctor: Uint8Array },
  i2: { name: 'int16', size: 2, ctor: Int16Array, get: (v, o, le) => v.getInt16(o, le) },
  u2: { name: 'uint16', size: 2, ctor: Uint16Array, get: (v, o, le) => v.getUint16(o, le) },
  i4: { name: 'int32', size: 4, ctor: Int32Array, get: (v, o, le) => v.getInt32(o, le) },
  u4: { name: 'uint32', size: 4, ctor: Uint32Array, get: (v, o, le) => v.getUint32(o, le) },
  i8: { name: 'int64', size: 8, ctor: null },
  u8: { name: 'uint64', size: 8, ctor: null },
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** numpy's own limit is 10,000 bytes (its max_header_size); anything far past that is not an array header. */
export const MAX_NPY_HEADER_BYTES = 65536;

// numpy 2's NPY_MAXDIMS; also what keeps shapes quoted in error messages short.
const MAX_DIMS = 64;

/** What the preamble and header dict of a .npy say, before any data is read. */
export interface NpyHeader {
  /** NumPy's name for the stored dtype, as in NpyArray. */
  dtype: string;
  descr: string;
  shape: number[];
  fortranOrder: boolean;
  /** Number of elements: the product of the shape. */
  size: number;
  itemSize: number;
  /** Where the data starts, counted from the magic. */
  dataOffset: number;
  /** How many data bytes the shape and dtype call for. */
  dataBytes: number;
}

const npyFail =
  (field: string, name: string) =>
  (why: string): never => {
    throw new InputError(field, `${field}: ${name} is not a valid .npy array: ${why}`);
  };

/** Parses one .npy file. `field` is the request input it came from, `name` the array's key. */
export function parseNpy(bytes: Uint8Array, field: string, name: string): NpyArray {
  const header = readNpyHeader(bytes, field, name);
  checkNpyDataLength(header, bytes.length - header.dataOffset, field, name);
  let data = decodeNpyValues(header, bytes.subarray(header.dataOffset), 0, field, name);
  if (header.fortranOrder && header.shape.length > 1) data = fortranToC(data, header.shape);
  return { dtype: header.dtype, shape: header.shape, data };
}

/**
 * Reads the preamble and header of the .npy that `bytes` starts with. With `complete` false, `bytes`
 * may be just the first part of the file: a number back is how many leading bytes it needs to go on
 * (never more than MAX_NPY_HEADER_BYTES plus the preamble), so a stream can wait for them.
 */
export function readNpyHeader(bytes: Uint8Array, field: string, name: string, complete?: true): NpyHeader;
export function readNpyHeader(bytes: Uint8Array, field: string, name: string, complete: boolean): NpyHeader | number;
export function readNpyHeader(bytes: Uint8Array, field: string, name: string, complete = true): NpyHeader | number {
  const fail = npyFail(field, name);
  if (MAGIC.some((b, i) => i < bytes.length && bytes[i] !== b) || (complete && bytes.length < 10)) {
    fail('missing the \\x93NUMPY magic');
  }
  if (bytes.length < 10) return 10;
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported format version ${major}.${bytes[7]}`);
  // Version 1 has a 2-byte header length; 2 and 3 a 4-byte one (3 also allows UTF-8 in it).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) return complete ? fail('truncated header') : start;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_NPY_HEADER_BYTES) fail(`header of ${headerLen} bytes is longer than the ${MAX_NPY_HEADER_BYTES} allowed`);
  if (start + headerLen > bytes.length) return complete ? fail('truncated header') : start + headerLen;
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const { descr, fortranOrder, shape } = parseHeader(header, fail);

  const dtype = lookupDtype(descr, field, name);
  // Both must be exact: they are compared with byte counts and drive every loop over the data.
  const size = shape.includes(0) ? 0 : shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(size * dtype.size)) fail(`shape [${shape.join(', ')}] is too large`);
  return {
    dtype: dtype.name,
    descr,
    shape,
    fortranOrder,
    size,
    itemSize: dtype.size,
    dataOffset: start + headerLen,
    dataBytes: size * dtype.size,
  };
}

/** `available`: the data bytes after the header; a .npy holds exactly what its shape needs. */
export function checkNpyDataLength(header: NpyHeader, available: number, field: string, name: string): void {
  if (available !== header.dataBytes) {
    const { shape, descr, dataBytes } = header;
    npyFail(field, name)(`shape [${shape.join(', ')}] of ${descr} needs ${dataBytes} data bytes but the file has ${available}`);
  }
}

/**
 * Values of whole elements `raw` (file order, any alignment), the first of them element `first` of the
 * array, so that a stream can decode an array piece by piece and errors still name the element.
 * The result may be a view of `raw`'s memory.
 */
export function decodeNpyValues(header: NpyHeader, raw: Uint8Array, first: number, field: string, name: string): NpyData {
  const little = header.descr[0] !== '>';
  return decode(raw, DTYPES[header.descr.slice(1)], little, raw.length / header.itemSize, npyFail(field, name), first);
}

// The header is a Python dict literal written by numpy, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// scanned in one pass: the regexes this replaced took quadratic time on crafted headers. numpy itself
// reads it with ast.literal_eval and then insists on exactly these three keys.
function parseHeader(header: string, fail: (why: string) => never) {
  let i = 0;
  const bad = (why: string): never =>
    fail(`header is not a numpy header dict (${why} at character ${i}): ${JSON.stringify(header.slice(0, 120))}`);
  const skipSpace = () => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === '\n' || header[i] === '\r')) i++;
  };
  const expect = (c: string) => {
    skipSpace();
    if (header[i] !== c) bad(`expected "${c}"`);
    i++;
  };
  const string = (): string => {
    skipSpace();
    const quote = header[i];
    if (quote !== "'" && quote !== '"') bad('expected a string');
    const end = header.indexOf(quote, i + 1);
    if (end < 0) bad('unterminated string');
    const s = header.slice(i + 1, end);
    if (s.includes('\\')) bad('escape in a string'); // never in the keys or dtype codes numpy writes
    i = end + 1;
    return s;
  };
  const integer = (): number => {
    skipSpace();
    const begin = i;
    while (header[i] >= '0' && header[i] <= '9') i++;
    if (i === begin) bad('expected an integer');
    const v = Number(header.slice(begin, i));
    if (!Number.isSafeInteger(v)) fail(`shape dimension ${header.slice(begin, Math.min(i, begin + 20))}... is too large`);
    if (header[i] === 'L') i++; // Python 2 long, in files from old numpy
    return v;
  };
  const tuple = (): number[] => {
    expect('(');
    const dims: number[] = [];
    skipSpace();
    // "(5)" is an int to Python, but other .npy writers use it for 1-D shapes and it was always accepted here.
    while (header[i] !== ')') {
      if (dims.length === MAX_DIMS) fail(`shape has more than ${MAX_DIMS} dimensions`);
      dims.push(integer());
      skipSpace();
      if (header[i] === ',') i++;
      else if (header[i] !== ')') bad('expected "," or ")"');
      skipSpace();
    }
    i++;
    return dims;
  };
  const bool = (): boolean => {
    skipSpace();
    for (const [word, value] of [
      ['True', true],
      ['False', false],
    ] as const) {
      if (header.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    return bad('expected True or False');
  };

  let descr: string | undefined;
  let fortranOrder: boolean | undefined;
  let shape: number[] | undefined;
  expect('{');
  skipSpace();
  while (header[i] !== '}') {
    const keyAt = i;
    const key = string();
    expect(':');
    skipSpace();
    if (
      (key === 'descr' && descr !== undefined) ||
      (key === 'fortran_order' && fortranOrder !== undefined) ||
      (key === 'shape' && shape !== undefined)
    ) {
      i = keyAt;
      bad(`duplicate key '${key}'`);
    }
    if (key === 'descr') {
      if (header[i] === '[') fail('structured (record) dtypes are not supported');
      descr = string();
    } else if (key === 'fortran_order') fortranOrder = bool();
    else if (key === 'shape') shape = tuple();
    else {
      i = keyAt;
      bad(`unexpected key ${JSON.stringify(key.slice(0, 20))}`);
    }
    skipSpace();
    if (header[i] === ',') i++;
    else if (header[i] !== '}') bad('expected "," or "}"');
    skipSpace();
  }
  i++;
  skipSpace();
  if (i < header.length) bad('text after the dict');
  if (descr === undefined || fortranOrder === undefined || shape === undefined) {
    const missing = [descr === undefined && 'descr', fortranOrder === undefined && 'fortran_order', shape === undefined && 'shape'];
    return bad(`missing ${missing.filter(Boolean).join(', ')}`);
  }
  return { descr, fortranOrder, shape };
}

function lookupDtype(descr: string, field: string, name: string): DtypeInfo {
  const order = descr[0];
  const info = DTYPES[descr.slice(1)];
  if (descr.slice(1) === 'O') {
    throw new InputError(field, `${field}: ${name} has object dtype (|O), which cannot be read safely; save plain numeric arrays instead`);
  }
  // '|' (not applicable) is only meaningful for 1-byte types; '=' (native) never appears in
  // files numpy writes, but means little-endian on every host that could have written it.
  const orderOk = order === '<' || order === '>' || order === '=' || (order === '|' && info?.size === 1);
  if (!info || !orderOk) {
    throw new InputError(
      field,
      `${field}: ${name} has unsupported dtype ${descr} (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool)`,
    );
  }
  return info;
}

function decode(raw: Uint8Array, dt: DtypeInfo, little: boolean, size: number, fail: (why: string) => never, first: number): NpyData {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dt.ctor) {
    if (dt.size === 1 || little === HOST_LITTLE_ENDIAN) {
      // numpy pads headers to 64 bytes, so data in a freshly unzipped member is aligned and can be
      // viewed in place (datasets can be hundreds of MB); otherwise copy into an aligned buffer.
      // Either way the result may not start at .buffer's offset 0: use byteOffset with .buffer.
      const aligned = raw.byteOffset % dt.size === 0;
      return aligned ? new dt.ctor(raw.buffer as ArrayBuffer, raw.byteOffset, size) : new dt.ctor(raw.slice().buffer);
    }
    const out = new dt.ctor(new ArrayBuffer(size * dt.size));
    for (let i = 0; i < size; i++) out[i] = dt.get!(view, i * dt.size, little);
    return out;
  }
  if (dt.name === 'float16') {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = halfToFloat(view.getUint16(i * 2, little));
    return out;
  }
  // 64-bit integers: JS numbers hold integers exactly only up to 2^53.
  const out = new Float64Array(size);
  let fitsInt32 = true;
  for (let i = 0; i < size; i++) {
    const big = dt.name === 'int64' ? view.getBigInt64(i * 8, little) : view.getBigUint64(i * 8, little);
    const v = Number(big);
    if (!Number.isSafeInteger(v)) fail(`${dt.name} value ${big} at index ${first + i} is beyond 2^53 and cannot be represented exactly`);
    if (v < -2147483648 || v > 2147483647) fitsInt32 = false;
    out[i] = v;
  }
  return fitsInt32 ? Int32Array.from(out) : out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Reorders column-major (Fortran) data into the row-major order the rest of Lopper assumes. */
function fortranToC(src: NpyData, shape: number[]): NpyData {
  const nd = shape.length;
  const out = new (src.constructor as new (n: number) => NpyData)(src.length);
  if (src.length === 0) return out;
  const fStride: number[] = [];
  for (let d = 0, s = 1; d < nd; d++) {
    fStride.push(s);
    s *= shape[d];
  }
  // Walk C order with an odometer over the indices, keeping the Fortran offset in step.
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < src.length; c++) {
    out[c] = src[f];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      f += fStride[d];
      if (idx[d] < shape[d]) break;
      idx[d] = 0;
      f -= fStride[d] * shape[d];
    }
  }
  return out;
}
