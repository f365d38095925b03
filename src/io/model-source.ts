// Gathers a TF.js Layers model's files (model.json + weight shards) from a path: a model.json,
// a folder holding one, or a .zip (read by model-zip.ts, as the API reads one).
// Only collects bytes; artifactsFromFiles validates them,
// so a missing shard is reported there with the manifest entry that names it.
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, isAbsolute } from 'node:path';
import { InputError } from '../errors.js';
import { DEFAULT_ZIP_LIMITS, unpackModelZip, type ZipLimits } from './model-zip.js';

/** The model's files keyed by basename; model.json is always under "model.json". */
export async function readModelSource(path: string, zipLimits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<Map<string, Uint8Array>> {
  const info = await stat(path).catch(() => {
    throw new InputError('model', `model: ${path} does not exist`);
  });
  if (info.isDirectory()) {
    const json = await readFile(join(path, 'model.json')).catch(() => {
      throw new InputError('model.json', `model.json: no model.json in folder ${path}`);
    });
    return readShards(path, json);
  }
  if (path.toLowerCase().endsWith('.zip') || (await isZip(path))) return readZip(path, zipLimits);
  return readShards(dirname(path), await readFile(path));
}

async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { buffer } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return buffer[0] === 0x50 && buffer[1] === 0x4b;
  } finally {
    await fh.close();
  }
}

/** model.json plus every manifest path that exists inside `dir` (never outside it). */
async function readShards(dir: string, json: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([['model.json', json]]);
  for (const p of manifestPaths(json)) {
    const full = join(dir, p);
    const rel = relative(dir, full);
    if (rel.startsWith('..') || isAbsolute(rel)) continue; // "../../etc/passwd" in a manifest
    const data = await readFile(full).catch(() => null);
    if (data) files.set(basename(p), data);
  }
  return files;
}

function manifestPaths(json: Uint8Array): string[] {
  try {
    const manifest = JSON.parse(new TextDecoder().decode(json)).weightsManifest;
    return (manifest as { paths: unknown[] }[]).flatMap((g) => g.paths).filter((p): p is string => typeof p === 'string');
  } catch {
    return []; // malformed: artifactsFromFiles reports it properly
  }
}

/** The model in a zip, unpacked by the same reader the API uses, into a folder removed afterwards. */
async function readZip(path: string, limits: ZipLimits): Promise<Map<string, Uint8Array>> {
  const dir = await mkdtemp(join(tmpdir(), 'lopper-zip-'));
  try {
    const files = await unpackModelZip(path, dir, limits, 'model');
    return new Map(await Promise.all(files.map(async (f) => [f.name, await readFile(f.path)] as const)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
