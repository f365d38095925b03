// The central directory of a zip file on disk, read without loading the archive: only its tail, the
// directory and each member's local header. It follows fflate's unzipSync step for step (where it
// looks for the end record, when it honours zip64, what it takes from where, and bytes past the end
// of the file reading as 0, as they do there), so that the streaming inspector and the in-memory
// loader agree on what any archive, however damaged, holds.
import type { FileHandle } from 'node:fs/promises';
import { strFromU8 } from 'fflate';
import { InputError } from '../errors.js';
import { corruptZip } from './npz.js';

export interface ZipEntry {
  name: string;
  compression: number;
  /** Compressed size, as the central directory declares it. */
  size: number;
  /** Uncompressed size, as the central directory declares it. */
  originalSize: number;
  /** Where the member's local header starts. */
  headerOffset: number;
}

/** A dataset archive has a handful of members; a directory past this is not worth reading. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 1 << 20;

const END_RECORD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END_RECORD = 0x06064b50;
// The end record is 22 bytes plus a comment of up to 65,535: unzipSync searches that far back.
const END_SEARCH = 65559;

/** Bytes [pos, pos + length) of the file, fewer where it ends first. */
export async function readAt(fh: FileHandle, pos: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(Math.max(0, length));
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** The members the central directory lists, in its order. `fileSize` bytes, at least 22. */
export async function readZipDirectory(fh: FileHandle, fileSize: number, field: string): Promise<ZipEntry[]> {
  const tailStart = Math.max(0, fileSize - END_SEARCH);
  const tail = await readAt(fh, tailStart, fileSize - tailStart);
  let end = tail.length - 22;
  while (end >= 0 && u32(tail, end) !== END_RECORD) end--;
  if (end < 0) throw corruptZip(field, 'invalid zip data');
  let count = u16(tail, end + 8);
  if (count === 0) return [];
  let offset = u32(tail, end + 16);

  const endAt = tailStart + end;
  const locator = endAt >= 20 ? await readAt(fh, endAt - 20, 20) : new Uint8Array(0);
  let zip64 = u32(locator, 0) === ZIP64_LOCATOR;
  if (zip64) {
    // Only the low 32 bits of these 64-bit fields, as unzipSync reads them.
    const record = await readAt(fh, u32(locator, 8), 56);
    zip64 = u32(record, 0) === ZIP64_END_RECORD;
    if (zip64) {
      count = u32(record, 32);
      offset = u32(record, 48);
    }
  }

  const dir = await readAt(fh, offset, Math.min(fileSize - offset, MAX_CENTRAL_DIRECTORY_BYTES));
  const entries: ZipEntry[] = [];
  for (let i = 0, at = 0; i < count; i++) {
    if (at >= dir.length) {
      if (fileSize - offset > MAX_CENTRAL_DIRECTORY_BYTES) {
        throw new InputError(field, `${field}: the .npz's member list is longer than ${MAX_CENTRAL_DIRECTORY_BYTES} bytes`, 413);
      }
      // Every further entry reads as all zeros, an unnamed empty member: one stands for them all
      // (the count may claim billions).
      entries.push({ name: '', compression: 0, size: 0, originalSize: 0, headerOffset: 0 });
      break;
    }
    const nameLength = u16(dir, at + 28);
    const extraAt = at + 46 + nameLength;
    const extraEnd = extraAt + u16(dir, at + 30);
    const utf8 = (u16(dir, at + 8) & 0x800) !== 0;
    let size = u32(dir, at + 20);
    let originalSize = u32(dir, at + 24);
    let headerOffset = u32(dir, at + 42);
    const missing = [originalSize, size, headerOffset].filter((v) => v === 0xffffffff).length;
    if (zip64 && missing) {
      // The zip64 extra field (id 1) holds, in this order, whichever of the three did not fit.
      let b = extraAt;
      while (b + 4 < extraEnd && u16(dir, b) !== 1) b += 4 + u16(dir, b + 2);
      if (!(b + 4 < extraEnd)) throw corruptZip(field, 'invalid zip data');
      let v = b + 4;
      const next = () => ((v += 8), u64(dir, v - 8));
      if (originalSize === 0xffffffff) originalSize = next();
      if (size === 0xffffffff) size = next();
      if (headerOffset === 0xffffffff) headerOffset = next();
    }
    entries.push({
      name: strFromU8(dir.subarray(at + 46, extraAt), !utf8),
      compression: u16(dir, at + 10),
      size,
      originalSize,
      headerOffset,
    });
    at = extraEnd + u16(dir, at + 32);
  }
  return entries;
}

/** Where a member's data starts: after its local header, whose own name and extra lengths count. */
export async function memberDataOffset(fh: FileHandle, entry: ZipEntry): Promise<number> {
  const header = await readAt(fh, entry.headerOffset, 30);
  return entry.headerOffset + 30 + u16(header, 26) + u16(header, 28);
}

// Out of range, b[i] is undefined, which these read as 0.
const u16 = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u32 = (b: Uint8Array, i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, i: number) => u32(b, i) + u32(b, i + 4) * 2 ** 32;
