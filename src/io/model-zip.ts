// The one reader of a model .zip, for the API (in the inspector sandbox) and the CLI alike, so a
// zip is accepted or refused the same way whichever door it came through.
//
// What a model zip holds: model.json (or, when no member is called that, its only .json file)
// anywhere in the archive, and its weight shards beside it in the same folder; members elsewhere
// (other folders, macOS resource forks) are not unpacked. It is streamed to a folder: the archive
// is read in chunks and each kept member written as it inflates. The unpacked total is capped,
// and so is the ratio of bytes unpacked to archive bytes read so far, so a bomb is stopped after
// its first megabyte or so (sizes declared in the archive are trusted for neither).
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { InputError } from '../errors.js';
import { readZipDirectory } from './zip-directory.js';

export interface ZipLimits {
  /** Unpacked bytes of the kept members together (413 past it). */
  maxBytes: number;
  /** Unpacked bytes per archive byte read, judged past the first MiB (413 past it). */
  maxRatio: number;
}

export interface UnpackedFile {
  /** The member's basename: model.json names its shards by basename. */
  name: string;
  path: string;
  bytes: number;
  sha256: string;
}

/** The service's defaults (MAX_UPLOAD_BYTES, MAX_COMPRESSION_RATIO), which the CLI uses too. */
export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxBytes: 2 * 1024 ** 3, maxRatio: 200 };

/** Members a model zip may list (real models have model.json and a few shards). */
export const MAX_ZIP_MEMBERS = 256;

// Small archives may legitimately unpack at high ratios (a mostly-zero shard); below this the
// ratio is not judged.
const RATIO_FLOOR_BYTES = 1 << 20;

const isFolderOrFork = (name: string) => name.endsWith('/') || name.startsWith('__MACOSX/');
const folderOf = (name: string) => name.slice(0, name.length - basename(name).length);

/** Basenames that could mean a path, or that no file system takes, are not members Lopper keeps. */
function usableName(name: string): boolean {
  const base = basename(name);
  return base !== '' && base !== '.' && base !== '..' && !/[\x00-\x1f\\]/.test(base) && base.length <= 255;
}

/** Which member is the topology, from the central directory: model.json, else the only .json. */
function topologyMember(names: string[], field: string): string {
  const members = names.filter((n) => !isFolderOrFork(n));
  if (members.length > MAX_ZIP_MEMBERS) {
    throw new InputError(
      field,
      `the zip holds ${members.length} files, more than ${MAX_ZIP_MEMBERS}; a model is model.json and its weight shards`,
    );
  }
  const named = members.filter((n) => basename(n) === 'model.json');
  const candidates = named.length > 0 ? named : members.filter((n) => n.toLowerCase().endsWith('.json'));
  if (candidates.length === 0) throw new InputError('model.json', 'model.json: the zip holds no model.json');
  if (candidates.length > 1) {
    const list = candidates
      .slice(0, 5)
      .map((n) => JSON.stringify(n.slice(0, 100)))
      .join(', ');
    throw new InputError('model.json', `model.json: the zip holds several (${list}${candidates.length > 5 ? ', …' : ''}); zip one model`);
  }
  return candidates[0];
}

/**
 * Unpacks the model in `zipPath` into `dir` (which must exist and be empty). The topology comes
 * back as "model.json" whatever its name in the archive. Throws InputError naming `field`.
 */
export async function unpackModelZip(zipPath: string, dir: string, limits: ZipLimits, field: string): Promise<UnpackedFile[]> {
  const fh = await openFile(zipPath, 'r');
  let topology: string;
  try {
    // The directory reader is shared with the .npz inspector; its words are about a dataset.
    const entries = await readZipDirectory(fh, (await fh.stat()).size, field).catch((e: Error) => {
      throw new InputError(field, `not a readable zip archive (${e.message.replace(/^.*\(zip\): /, '')})`);
    });
    topology = topologyMember(
      entries.map((e) => e.name),
      field,
    );
  } finally {
    await fh.close();
  }
  const folder = folderOf(topology);
  const kept = (name: string) => !isFolderOrFork(name) && folderOf(name) === folder;

  const files: UnpackedFile[] = [];
  const open = new Map<string, number>();
  let total = 0;
  let read = 0;
  let failure = null as Error | null; // set from callbacks, so no narrowing

  const onFile = (entry: UnzipFile) => {
    if (failure || !kept(entry.name)) return;
    if (!usableName(entry.name)) {
      failure = new InputError(field, `zip member ${JSON.stringify(entry.name.slice(0, 100))} has no usable file name`);
      return;
    }
    const name = entry.name === topology ? 'model.json' : basename(entry.name);
    if (files.some((f) => f.name === name)) {
      failure = new InputError(field, `the zip holds two files named "${name}" beside ${JSON.stringify(topology.slice(0, 100))}`);
      return;
    }
    const file: UnpackedFile = { name, path: join(dir, name), bytes: 0, sha256: '' };
    const hash = createHash('sha256');
    files.push(file);
    const fd = openSync(file.path, 'w');
    open.set(name, fd);
    entry.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new InputError(field, `corrupt zip member ${JSON.stringify(entry.name.slice(0, 100))}: ${err.message}`);
        return;
      }
      total += chunk.length;
      file.bytes += chunk.length;
      if (total > limits.maxBytes) {
        failure = new InputError(field, `the zip unpacks to more than ${limits.maxBytes} bytes (MAX_UPLOAD_BYTES)`, 413);
        return;
      }
      if (total > RATIO_FLOOR_BYTES && total > limits.maxRatio * read) {
        failure = new InputError(
          field,
          `the zip unpacks to more than ${limits.maxRatio}× its size (MAX_COMPRESSION_RATIO): refused as a zip bomb`,
          413,
        );
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
      failure = new InputError(field, `zip member ${JSON.stringify(entry.name.slice(0, 100))}: ${(e as Error).message}`);
    }
  };

  const unzip = new Unzip(onFile);
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(zipPath, { highWaterMark: 64 * 1024 })) {
      read += (chunk as Uint8Array).length;
      unzip.push(chunk as Uint8Array);
      if (failure) break;
    }
    if (!failure) unzip.push(new Uint8Array(0), true);
  } catch (e) {
    failure ??= new InputError(field, `not a readable zip archive: ${(e as Error).message}`);
  } finally {
    for (const fd of open.values()) closeSync(fd);
  }
  if (failure) throw failure;
  if (open.size > 0 || !files.some((f) => f.name === 'model.json')) throw new InputError(field, 'the zip archive is truncated');
  return files;
}
