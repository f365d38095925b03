// Unpacks an uploaded .zip (a model folder zipped by hand or by `lopper`) into a folder, streaming:
// the archive is read in chunks and every member is written as it inflates. Members are flattened
// to their basenames (model.json names its shards by basename); folders and macOS resource forks
// are skipped; the unpacked total is capped like an upload, and the ratio of bytes unpacked to
// archive bytes read so far is capped too, so a bomb is stopped after its first megabyte or so
// (sizes declared in the archive are not trusted for either).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { closeSync, openSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { readZipDirectory } from '../io/zip-directory.js';
import { ApiError } from '../errors.js';
import { MAX_UPLOAD_FILES, safeName, tooLarge, type UploadedFile } from './upload.js';

// Small archives may legitimately unpack at high ratios (a mostly-zero shard); below this the
// ratio is not judged.
const RATIO_FLOOR_BYTES = 1 << 20;

export async function unzipInto(
  zipPath: string,
  dir: string,
  limits: { maxBytes: number; maxRatio: number },
  field: string,
): Promise<UploadedFile[]> {
  const { maxBytes, maxRatio } = limits;
  // The member count comes from the central directory before anything is unpacked: thousands of
  // tiny members would otherwise each cost a file on the API's event loop.
  const fh = await openFile(zipPath, 'r');
  try {
    const entries = await readZipDirectory(fh, (await fh.stat()).size, field);
    const members = entries.filter((e) => !e.name.endsWith('/') && !e.name.startsWith('__MACOSX/')).length;
    if (members > MAX_UPLOAD_FILES) {
      throw new ApiError('invalid-input', 422, `the zip holds ${members} files, more than ${MAX_UPLOAD_FILES}; a model is model.json and its weight shards`, field);
    }
  } finally {
    await fh.close();
  }
  const files: UploadedFile[] = [];
  const open = new Map<string, number>();
  let total = 0;
  let read = 0;
  let failure = null as Error | null; // set from callbacks, so no narrowing

  const onFile = (entry: UnzipFile) => {
    if (failure || entry.name.endsWith('/') || entry.name.startsWith('__MACOSX/')) return;
    if (files.length >= MAX_UPLOAD_FILES) {
      failure = new ApiError('invalid-input', 422, `the zip holds more than ${MAX_UPLOAD_FILES} files; a model is model.json and its weight shards`, field);
      return;
    }
    let name: string;
    try {
      name = safeName(entry.name, field);
    } catch (e) {
      failure = e as Error;
      return;
    }
    if (files.some((f) => f.name === name)) {
      failure = new ApiError('invalid-input', 422, `the zip holds two files named "${name}"`, field);
      return;
    }
    const file: UploadedFile = { name, field, path: join(dir, name), bytes: 0, sha256: '' };
    const hash = createHash('sha256');
    files.push(file);
    const fd = openSync(file.path, 'w');
    open.set(name, fd);
    entry.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new ApiError('invalid-input', 422, `corrupt zip member "${entry.name}": ${err.message}`, field);
        return;
      }
      total += chunk.length;
      file.bytes += chunk.length;
      if (total > maxBytes) {
        failure = tooLarge(maxBytes);
        return;
      }
      if (total > RATIO_FLOOR_BYTES && total > maxRatio * read) {
        failure = new ApiError('payload-too-large', 413, `the zip unpacks to more than ${maxRatio}× its size (MAX_COMPRESSION_RATIO): refused as a zip bomb`, field);
        return;
      }
      writeSync(fd, chunk);
      hash.update(chunk);
      if (final) {
        file.sha256 = hash.digest('hex');
        closeSync(fd);
        open.delete(name);
      }
    };
    try {
      entry.start();
    } catch (e) {
      failure = new ApiError('invalid-input', 422, `zip member "${entry.name}": ${(e as Error).message}`, field);
    }
  };

  const unzip = new Unzip(onFile);
  unzip.register(UnzipInflate);
  try {
    // Small reads keep each synchronous inflate step short on the API's event loop.
    for await (const chunk of createReadStream(zipPath, { highWaterMark: 4 * 1024 })) {
      read += (chunk as Uint8Array).length;
      unzip.push(chunk as Uint8Array);
      if (failure) break;
    }
    if (!failure) unzip.push(new Uint8Array(0), true);
  } catch (e) {
    failure ??= new ApiError('invalid-input', 422, `not a readable zip archive: ${(e as Error).message}`, field);
  } finally {
    for (const fd of open.values()) closeSync(fd);
  }
  if (failure) throw failure;
  if (open.size > 0 || files.length === 0) {
    throw new ApiError('invalid-input', 422, files.length ? 'the zip archive is truncated' : 'not a valid zip archive (no files found in it)', field);
  }
  return files;
}
