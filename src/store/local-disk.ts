// Storage on the local file system under DATA_DIR. Atomicity comes from rename(2): a file is
// complete before it appears under its final name. Several workers and API instances may share
// DATA_DIR over a network file system; rename is atomic there too.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, type ByteRange, type Storage, type StoredObject } from './storage.js';

export class LocalDiskStorage implements Storage {
  constructor(readonly root: string) {}

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }

  async putFile(key: string, localPath: string, known?: string): Promise<StoredObject> {
    const dest = this.path(key);
    await mkdir(dirname(dest), { recursive: true });
    const sha256 = known ?? (await hashFile(localPath));
    try {
      await rename(localPath, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      // Another file system (DATA_DIR/tmp mounted apart): copy beside the target, then rename.
      const temp = `${dest}.${process.pid}.${Date.now()}.partial`;
      try {
        await pipeline(createReadStream(localPath), createWriteStream(temp));
        await rename(temp, dest);
      } finally {
        await rm(temp, { force: true });
      }
      await unlink(localPath);
    }
    const { size } = await stat(dest);
    return { key, bytes: size, sha256 };
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const stream = createReadStream(this.path(key), range ? { start: range.start, end: range.end } : {});
    // Surface ENOENT as a rejection here rather than as a stream error mid-response.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return stream;
  }

  async localPath(key: string): Promise<string> {
    return this.path(key);
  }

  async deleteFolder(folder: string): Promise<void> {
    await rm(this.path(folder), { recursive: true, force: true });
  }
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  // 1 MiB reads: each read is a trip through libuv's thread pool.
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
