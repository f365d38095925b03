// Where uploaded models, datasets and job artifacts live. Keys are relative paths such as
// "models/<id>/model.json". The interface says nothing about disks so an S3 (or other object
// store) implementation can follow: writes take whole local files (multipart-uploadable),
// reads are streams with optional byte ranges, and the pipeline asks for a local path
// (a remote store would download to a cache there).
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  /** Hex sha256 of the content, recorded with every artifact and used as its ETag. */
  sha256: string;
}

/** Inclusive byte range, as in HTTP's `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface Storage {
  /** Takes ownership of the local file at `localPath` and stores it under `key`, atomically:
   * readers see the old object or the complete new one, never a partial file. `sha256`, when the
   * caller computed it while writing the file, saves reading it again. */
  putFile(key: string, localPath: string, sha256?: string): Promise<StoredObject>;
  /** Streams the object (or one byte range of it). Rejects when the object does not exist. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** A local file path holding the object, for code that needs a path (the pipeline). */
  localPath(key: string): Promise<string>;
  /** Deletes every object under `folder/` (e.g. "models/<id>"); a no-op when there are none. */
  deleteFolder(folder: string): Promise<void>;
}

/** Rejects keys that could escape the store's root or are not plain relative paths. */
export function checkKey(key: string): string {
  const parts = key.split('/');
  if (key.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'))) {
    throw new Error(`invalid storage key "${key}"`);
  }
  return key;
}
