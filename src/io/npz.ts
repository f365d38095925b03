// Reader for NumPy .npz archives (np.savez: STORED members, np.savez_compressed: DEFLATED).
// A .npz is a zip of "<key>.npy" members; the map returned is keyed by <key>.
import { unzipSync } from 'fflate';
import { InputError } from '../errors.js';
import { parseNpy, type NpyArray } from './npy.js';

// DEFLATE cannot expand data by more than ~1032:1, so a member claiming more is corrupt
// (or a zip bomb); refusing it avoids allocating whatever size the header claims.
const MAX_DEFLATE_RATIO = 1100;

export function parseNpz(bytes: Uint8Array, field = 'data'): Map<string, NpyArray> {
  const isZip = bytes.length >= 22 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
  if (!isZip) {
    const isNpy = bytes[0] === 0x93 && bytes[1] === 0x4e && bytes[2] === 0x55;
    throw new InputError(
      field,
      isNpy
        ? `${field}: got a single .npy array; Lopper needs a .npz (np.savez(path, x=..., y=...))`
        : `${field}: not a .npz file (expected a zip archive as written by np.savez)`,
    );
  }

  const declared = new Map<string, number>();
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, {
      filter: (f) => {
        if (f.size > bytes.length || (f.compression === 8 && f.originalSize > f.size * MAX_DEFLATE_RATIO + 1024)) {
          throw new Error(`member "${f.name}" has impossible sizes`);
        }
        declared.set(f.name, f.originalSize);
        return true;
      },
    });
  } catch (e) {
    throw new InputError(field, `${field}: truncated or corrupt .npz (zip): ${(e as Error).message}`);
  }

  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(members)) {
    if (name.endsWith('/')) continue; // directory entry
    // fflate does not bounds-check stored members, so a cut-off archive shows up as a short member.
    if (data.length !== declared.get(name)) {
      throw new InputError(field, `${field}: truncated or corrupt .npz: member "${name}" is ${data.length} bytes, expected ${declared.get(name)}`);
    }
    if (!name.endsWith('.npy')) throw new InputError(field, `${field}: member "${name}" is not a .npy array`);
    const key = name.slice(0, -4);
    out.set(key, parseNpy(data, field, key));
  }
  return out;
}
