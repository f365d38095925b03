// Reader for NumPy .npz archives (np.savez: STORED members, np.savez_compressed: DEFLATED).
// A .npz is a zip of "<key>.npy" members; the map returned is keyed by <key>.
// The rules and messages below are shared with the streaming inspector (npz-stream.ts).
import { unzipSync } from 'fflate';
import { InputError } from '../errors.js';
import { parseNpy, type NpyArray } from './npy.js';

// DEFLATE cannot expand data by more than ~1032:1, so a member claiming more is corrupt
// (or a zip bomb); refusing it avoids allocating whatever size the header claims.
const MAX_DEFLATE_RATIO = 1100;

export function parseNpz(bytes: Uint8Array, field = 'data'): Map<string, NpyArray> {
  checkZipMagic(bytes, bytes.length, field);
  const declared = new Map<string, number>();
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, {
      filter: (f) => {
        checkDeclaredSizes(f, bytes.length);
        declared.set(f.name, f.originalSize);
        return true;
      },
    });
  } catch (e) {
    throw corruptZip(field, (e as Error).message);
  }

  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(members)) {
    if (name.endsWith('/')) continue; // directory entry
    // fflate does not bounds-check stored members, so a cut-off archive shows up as a short member.
    if (data.length !== declared.get(name)) throw memberSizeMismatch(field, name, data.length, declared.get(name)!);
    const key = arrayKey(name, field);
    out.set(key, parseNpy(data, field, key));
  }
  return out;
}

/** Refuses what is not a zip at all, with a hint for a lone .npy. `head`: the file's first bytes. */
export function checkZipMagic(head: Uint8Array, size: number, field: string): void {
  const isZip = size >= 22 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5);
  if (isZip) return;
  const isNpy = head[0] === 0x93 && head[1] === 0x4e && head[2] === 0x55;
  throw new InputError(
    field,
    isNpy
      ? `${field}: got a single .npy array; Lopper needs a .npz (np.savez(path, x=..., y=...))`
      : `${field}: not a .npz file (expected a zip archive as written by np.savez)`,
  );
}

/** Sizes no honest member of a `fileBytes`-byte archive can claim; throws a plain Error for corruptZip. */
export function checkDeclaredSizes(f: { name: string; compression: number; size: number; originalSize: number }, fileBytes: number): void {
  if (f.size > fileBytes || (f.compression === 8 && f.originalSize > f.size * MAX_DEFLATE_RATIO + 1024)) {
    throw new Error(`member "${f.name}" has impossible sizes`);
  }
}

export const corruptZip = (field: string, why: string) => new InputError(field, `${field}: truncated or corrupt .npz (zip): ${why}`);

export const memberSizeMismatch = (field: string, name: string, actual: number, declared: number) =>
  new InputError(field, `${field}: truncated or corrupt .npz: member "${name}" is ${actual} bytes, expected ${declared}`);

/** The array key a (non-directory) member stands for: every member must be "<key>.npy". */
export function arrayKey(name: string, field: string): string {
  if (!name.endsWith('.npy')) throw new InputError(field, `${field}: member "${name}" is not a .npy array`);
  return name.slice(0, -4);
}
