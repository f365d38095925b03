// Gathers a TF.js Layers model's files (model.json + weight shards) from a path: a model.json,
// a folder holding one, or a .zip. Only collects bytes; artifactsFromFiles validates them,
// so a missing shard is reported there with the manifest entry that names it.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, isAbsolute } from 'node:path';
import { unzipSync } from 'fflate';
import { InputError } from '../errors.js';

/** The model's files keyed by basename; model.json is always under "model.json". */
export async function readModelSource(path: string): Promise<Map<string, Uint8Array>> {
  const info = await stat(path).catch(() => {
    throw new InputError('model', `model: ${path} does not exist`);
  });
  if (info.isDirectory()) {
    const json = await readFile(join(path, 'model.json')).catch(() => {
      throw new InputError('model.json', `model.json: no model.json in folder ${path}`);
    });
    return readShards(path, json);
  }
  const bytes = await readFile(path);
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (isZip || path.toLowerCase().endsWith('.zip')) return readZip(bytes);
  return readShards(dirname(path), bytes);
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

/** model.json anywhere in the zip; shards are the files in the same zip folder. */
function readZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const unzip = (keep: (name: string) => boolean) => {
    try {
      return unzipSync(bytes, { filter: (f) => keep(f.name) });
    } catch (e) {
      throw new InputError('model', `model: not a valid zip archive: ${(e as Error).message}`);
    }
  };
  // First pass lists names only (nothing is decompressed); macOS resource forks are skipped.
  const names: string[] = [];
  unzip((name) => (names.push(name), false));
  const jsons = names.filter((n) => basename(n) === 'model.json' && !n.startsWith('__MACOSX/'));
  if (jsons.length === 0) throw new InputError('model.json', 'model.json: the zip holds no model.json');
  if (jsons.length > 1) throw new InputError('model.json', `model.json: the zip holds several: ${jsons.join(', ')}`);
  const folder = jsons[0].slice(0, jsons[0].length - 'model.json'.length);
  const inFolder = (n: string) => n.startsWith(folder) && n.length > folder.length && !n.slice(folder.length).includes('/');
  const files = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(unzip(inFolder))) files.set(basename(name), data);
  return files;
}
