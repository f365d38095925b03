// Validates a dataset .npz on disk and summarises it, reaching the verdict loadDataset would (same
// checks, same messages) in bounded memory whatever the file's size: members are read one at a time
// at the offsets the central directory gives, streamed through an inflater, and their values checked
// a block at a time. Upload inspection runs this in a memory-capped child process.
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { InputError } from '../errors.js';
import {
  cannotRead,
  checkLabelCount,
  checkValues,
  finiteX,
  labelForm,
  missingX,
  xLayout,
  type DatasetSummary,
  type ValueRule,
} from './dataset.js';
import { checkNpyDataLength, decodeNpyValues, readNpyHeader, type NpyData, type NpyHeader } from './npy.js';
import { arrayKey, checkDeclaredSizes, checkZipMagic, corruptZip, memberSizeMismatch } from './npz.js';
import { memberDataOffset, readAt, readZipDirectory, type ZipEntry } from './zip-directory.js';

export interface NpzLimits {
  /** Most bytes all members together may unpack to (413 past it). */
  maxUnzippedBytes: number;
  /** Most a member may unpack to per compressed byte, once past RATIO_GRACE_BYTES (413 past it). */
  maxCompressionRatio: number;
}

export interface NpzReadOptions {
  /** Bytes per file read; tests make it tiny so that values and headers straddle reads. */
  chunkBytes?: number;
}

// Each read is a trip through libuv's thread pool: at 32 KiB a 500 MB file took 1.1 s to inspect,
// at 1 MiB 0.35 s (memory is one buffer of this size).
const READ_BYTES = 1024 * 1024;
/** Small members may be very compressible (a header and a few zeros) without being bombs. */
const RATIO_GRACE_BYTES = 1 << 20;
// Inflating is node's zlib's, not fflate's (which the in-memory loader uses): fflate's streaming
// Inflate turns each push into one output buffer grown by doubling, so a 64 KiB slice of a bomb is
// 66 MB at once, and it keeps recopying whatever follows the end of a deflate stream. zlib hands out
// pieces of this size, however compressible the input, at about twice the speed. Each piece is a new
// buffer that V8 reclaims late; the RSS they pile up to grows with their size (measured on a bomb:
// 13 MiB at 8 KiB, 19 MiB at 16 KiB, 30 MiB at 32 KiB, with little gain in speed past 16 KiB).
const INFLATE_CHUNK = 16 * 1024;
const BLOCK_BYTES = 64 * 1024; // a multiple of every item size, so a full block holds whole elements

export async function inspectNpzFile(
  path: string,
  field: string,
  limits: NpzLimits,
  options: NpzReadOptions = {},
): Promise<DatasetSummary> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw cannotRead(field, path, e);
  }
  try {
    const { size } = await fh.stat();
    checkZipMagic(await readAt(fh, 0, 3), size, field);
    const members = await planMembers(fh, size, field);
    const dataset = new DatasetCheck(field);
    const unpacked = new UnpackBudget(field, limits);
    const buffer = new Uint8Array(options.chunkBytes ?? READ_BYTES);
    for (const m of members) {
      const sink = m.key === null ? null : new NpyStream(m, m.key, field, dataset);
      await readMember(fh, size, m, buffer, field, unpacked, sink);
    }
    return dataset.summary();
  } finally {
    await fh.close();
  }
}

interface Member extends ZipEntry {
  dataStart: number;
  /** The array it holds; null for a directory entry or a member shadowed by a later one of the same
   * name (unzipSync's result keeps the last): those are unpacked, as there, but not checked further. */
  key: string | null;
}

/**
 * Everything the central directory alone can settle, before any member is unpacked, in the order
 * parseNpz meets it: every entry's sizes and method while unzipping, then each array's size and name.
 */
async function planMembers(fh: FileHandle, fileSize: number, field: string): Promise<Member[]> {
  const entries = await readZipDirectory(fh, fileSize, field);
  for (const e of entries) {
    try {
      checkDeclaredSizes(e, fileSize);
    } catch (err) {
      throw corruptZip(field, (err as Error).message);
    }
    if (e.compression !== 0 && e.compression !== 8) throw corruptZip(field, `unknown compression type ${e.compression}`);
  }
  const last = new Map(entries.map((e, i) => [e.name, i]));
  const members: Member[] = [];
  for (const [i, e] of entries.entries()) {
    const dataStart = await memberDataOffset(fh, e);
    const isArray = !e.name.endsWith('/') && last.get(e.name) === i;
    if (isArray && e.compression === 0) {
      // A stored member is the bytes it spans; unzipSync's copy of them stops at the end of the file.
      const stored = Math.max(0, Math.min(fileSize, dataStart + e.size) - dataStart);
      if (stored !== e.originalSize) throw memberSizeMismatch(field, e.name, stored, e.originalSize);
    }
    members.push({ ...e, dataStart, key: isArray ? arrayKey(e.name, field) : null });
  }
  if (!members.some((m) => m.key === 'x')) {
    const found = [...new Set(entries.filter((e) => !e.name.endsWith('/')).map((e) => e.name.slice(0, -4)))];
    throw missingX(found, field);
  }
  return members;
}

class UnpackBudget {
  private total = 0;
  constructor(
    private readonly field: string,
    private readonly limits: NpzLimits,
  ) {}

  /** Counts `n` more bytes out of member `m`, which has now given `memberBytes`. */
  add(m: Member, memberBytes: number, n: number): void {
    const { field } = this;
    const { maxUnzippedBytes, maxCompressionRatio } = this.limits;
    this.total += n;
    if (this.total > maxUnzippedBytes) {
      throw new InputError(field, `${field}: the .npz unpacks to more than the ${maxUnzippedBytes} bytes accepted`, 413);
    }
    if (m.compression === 8 && memberBytes > RATIO_GRACE_BYTES && memberBytes > maxCompressionRatio * m.size) {
      throw new InputError(
        field,
        `${field}: member "${m.name}" unpacks to more than ${maxCompressionRatio} times its ${m.size} compressed bytes (at most ${maxCompressionRatio}:1 is accepted)`,
        413,
      );
    }
  }
}

/**
 * Unpacks one member into `sink` (none: just unpacked), checking its size against the directory and
 * the budget as it goes. Stored data is read into `buffer`, reused: the pieces streams hand out are
 * garbage that V8 reclaims late, and on a busy machine they pile up into tens of MiB.
 */
async function readMember(
  fh: FileHandle,
  fileSize: number,
  m: Member,
  buffer: Uint8Array,
  field: string,
  budget: UnpackBudget,
  sink: NpyStream | null,
): Promise<void> {
  let produced = 0;
  const take = (bytes: Uint8Array) => {
    produced += bytes.length;
    budget.add(m, produced, bytes.length);
    if (sink && produced > m.originalSize) {
      throw new InputError(
        field,
        `${field}: truncated or corrupt .npz: member "${m.name}" unpacks to more than the ${m.originalSize} bytes it declares`,
      );
    }
    sink?.push(bytes);
  };
  const end = Math.min(fileSize, m.dataStart + m.size);
  if (m.compression === 0) {
    for (let pos = m.dataStart; pos < end;) {
      const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.length, end - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      take(buffer.subarray(0, bytesRead));
    }
  } else if (end > m.dataStart) {
    // no bytes to inflate give no bytes, as in unzipSync (zlib would say cut short)
    // `end` is inclusive; the handle outlives each member's stream.
    const raw = fh.createReadStream({ start: m.dataStart, end: end - 1, highWaterMark: buffer.length, autoClose: false });
    try {
      // Errors of either stream reach the loop through the last one; leaving the loop destroys both.
      for await (const bytes of pipeline(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK }), () => {})) take(bytes);
    } catch (e) {
      // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR: cut short) are the archive's fault; read errors are not.
      const code = (e as NodeJS.ErrnoException).code;
      throw typeof code === 'string' && code.startsWith('Z_') ? corruptZip(field, (e as Error).message) : e;
    }
  }
  if (!sink) return;
  if (produced !== m.originalSize) throw memberSizeMismatch(field, m.name, produced, m.originalSize);
  sink.end();
}

/** One member's bytes as a .npy: the header once it has all arrived, then its data in whole elements. */
class NpyStream {
  private head = new Uint8Array(0);
  private fill = 0;
  private need = 10; // the preamble; readNpyHeader says how much more once it sees it
  private header: NpyHeader | null = null;
  private values: ElementBlocks | null = null;
  private lengthError: unknown = null;

  constructor(
    private readonly m: Member,
    private readonly key: string,
    private readonly field: string,
    private readonly dataset: DatasetCheck,
  ) {}

  push(bytes: Uint8Array): void {
    let p = 0;
    while (!this.header && p < bytes.length) {
      if (this.head.length < this.need) {
        const grown = new Uint8Array(this.need);
        grown.set(this.head.subarray(0, this.fill));
        this.head = grown;
      }
      const n = Math.min(this.need - this.fill, bytes.length - p);
      this.head.set(bytes.subarray(p, p + n), this.fill);
      this.fill += n;
      p += n;
      if (this.fill === this.need) this.readHeader(false);
    }
    if (p < bytes.length) this.values?.push(bytes.subarray(p));
  }

  end(): void {
    if (!this.header) this.readHeader(true);
    if (this.lengthError) throw this.lengthError;
    this.values?.end();
  }

  private readHeader(complete: boolean): void {
    const { m, key, field } = this;
    const header = readNpyHeader(this.head.subarray(0, this.fill), field, key, complete);
    if (typeof header === 'number') {
      this.need = header;
      return;
    }
    this.header = header;
    this.head = new Uint8Array(0);
    try {
      checkNpyDataLength(header, m.originalSize - header.dataOffset, field, key);
    } catch (e) {
      // Held back to the end: if the member is not the size its entry declares, that is the error.
      this.lengthError = e;
      return;
    }
    this.values = this.dataset.open(key, header);
  }
}

/** Gathers bytes into blocks of whole elements, so values split between reads decode as one. */
class ElementBlocks {
  private readonly block = new Uint8Array(BLOCK_BYTES);
  private fill = 0;
  private first = 0;

  constructor(
    private readonly itemSize: number,
    private readonly onBlock: (raw: Uint8Array, first: number) => void,
    private readonly onEnd: () => void,
  ) {}

  push(bytes: Uint8Array): void {
    for (let p = 0; p < bytes.length;) {
      const n = Math.min(BLOCK_BYTES - this.fill, bytes.length - p);
      this.block.set(bytes.subarray(p, p + n), this.fill);
      this.fill += n;
      p += n;
      if (this.fill === BLOCK_BYTES) this.flush();
    }
  }

  /** Only once the member is known to hold exactly the data its header calls for. */
  end(): void {
    this.flush();
    this.onEnd();
  }

  private flush(): void {
    if (this.fill === 0) return;
    this.onBlock(this.block.subarray(0, this.fill), this.first);
    this.first += this.fill / this.itemSize;
    this.fill = 0;
  }
}

/** The dataset-level checks of datasetFromArrays, fed headers and value blocks as members arrive. */
class DatasetCheck {
  private x: { n: number; sampleShape: number[]; dtype: string } | null = null;
  private y: { shape: number[]; columns: number | null; maxId: number } | null = null;

  constructor(private readonly field: string) {}

  /** Takes the header of array `key`; returns where its data goes, or null when no value needs a look. */
  open(key: string, header: NpyHeader): ElementBlocks | null {
    const { field } = this;
    let scan: ValueScan | null = null;
    if (key === 'x') {
      this.x = { ...xLayout(header.shape, field), dtype: header.dtype };
      if (this.y) checkLabelCount(this.y.shape, this.y.columns, this.x.n, field);
      if (header.dtype.startsWith('float')) scan = new ValueScan(finiteX(field), header);
    } else if (key === 'y') {
      const { columns, rule } = labelForm(header.shape, field);
      this.y = { shape: header.shape, columns, maxId: 0 };
      if (this.x) checkLabelCount(header.shape, columns, this.x.n, field);
      scan = new ValueScan(rule, header);
    }
    // 64-bit integers are decoded even when unused: ones beyond 2^53 make the file unreadable.
    if (!scan && header.dtype !== 'int64' && header.dtype !== 'uint64') return null;
    const y = key === 'y' && this.y!.columns === null ? this.y! : null;
    return new ElementBlocks(
      header.itemSize,
      (raw, first) => {
        const values = decodeNpyValues(header, raw, first, field, key);
        scan?.block(values, first);
        if (y) for (let i = 0; i < values.length; i++) if (values[i] > y.maxId) y.maxId = values[i];
      },
      () => scan?.end(),
    );
  }

  summary(): DatasetSummary {
    const { n, sampleShape, dtype } = this.x!; // planMembers saw to it that there is an x, and it was read
    const classes = this.y ? (this.y.columns ?? this.y.maxId + 1) : null;
    return { samples: n, xShape: [n, ...sampleShape], sampleShape, xDtype: dtype, hasLabels: this.y !== null, classes };
  }
}

/**
 * Applies a rule to values arriving in file order, reporting, like the in-memory check, the first
 * failure in C order. For a Fortran-order array the two orders differ, so each failure is mapped to its
 * C index and the least wins once the array has been read.
 */
class ValueScan {
  private readonly fortranShape: number[] | null;
  private bestIndex = Infinity;
  private bestValue = 0;

  constructor(
    private readonly rule: ValueRule,
    header: NpyHeader,
  ) {
    this.fortranShape = header.fortranOrder && header.shape.length > 1 ? header.shape : null;
  }

  block(values: NpyData, first: number): void {
    const shape = this.fortranShape;
    if (!shape) return checkValues(values, this.rule, first);
    for (let from = 0; ;) {
      const i = this.rule.firstBad(values.subarray(from));
      if (i < 0) return;
      const at = from + i;
      const c = cOrderIndex(first + at, shape);
      if (c < this.bestIndex) {
        this.bestIndex = c;
        this.bestValue = values[at];
      }
      from = at + 1;
    }
  }

  end(): void {
    if (this.bestIndex < Infinity) throw this.rule.error(this.bestIndex, this.bestValue);
  }
}

/** The C-order offset of the element at Fortran-order offset `f`. */
function cOrderIndex(f: number, shape: number[]): number {
  const idx: number[] = [];
  for (const d of shape) {
    idx.push(f % d);
    f = Math.floor(f / d);
  }
  return idx.reduce((c, i, d) => c * shape[d] + i, 0);
}
