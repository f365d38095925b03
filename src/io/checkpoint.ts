// A fine-tuning checkpoint on disk: one file, so it is replaced atomically (write, then rename)
// and a process killed while writing leaves the previous checkpoint intact. Layout: a uint32 (LE)
// header length, the JSON header, then every float32 array back to back (weights, then m, v).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FineTuneCheckpoint } from '../train/fine-tune.js';

const FILE = 'checkpoint.bin';

interface Header {
  signature: string;
  epoch: number;
  results: FineTuneCheckpoint['results'];
  sizes: number[];
  optimizer: { iterations: number; size: number } | null;
}

export async function saveCheckpoint(dir: string, c: FineTuneCheckpoint): Promise<void> {
  const header: Header = {
    signature: c.signature,
    epoch: c.epoch,
    results: c.results,
    sizes: c.weights.map((w) => w.length),
    optimizer: c.optimizer ? { iterations: c.optimizer.iterations, size: c.optimizer.m.length } : null,
  };
  const json = Buffer.from(JSON.stringify(header));
  const arrays = [...c.weights, ...(c.optimizer ? [c.optimizer.m, c.optimizer.v] : [])];
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.tmp`);
  await writeFile(tmp, [length, json, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
  await rename(tmp, join(dir, FILE));
}

/** The checkpoint in `dir`, or null when there is none (or it is unreadable: start afresh). */
export async function loadCheckpoint(dir: string): Promise<FineTuneCheckpoint | null> {
  const buf = await readFile(join(dir, FILE)).catch(() => null);
  if (!buf || buf.length < 4) return null;
  try {
    const n = buf.readUInt32LE(0);
    const header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as Header;
    let offset = 4 + n;
    const take = (len: number) => {
      const bytes = buf.subarray(offset, offset + len * 4);
      if (bytes.length !== len * 4) throw new Error('truncated checkpoint');
      offset += len * 4;
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
    const weights = header.sizes.map(take);
    const optimizer = header.optimizer
      ? { iterations: header.optimizer.iterations, m: take(header.optimizer.size), v: take(header.optimizer.size) }
      : null;
    return { signature: header.signature, epoch: header.epoch, results: header.results, weights, optimizer };
  } catch {
    return null;
  }
}
