// Where a run writes its files. A hidden scratch folder is made next to `out` before any compute,
// so an unusable --out fails at once with an InputError; the files move into `out` only when the
// whole run succeeded, so a failed or cancelled run leaves nothing there (and removes any parent
// folders it had to create).
import { mkdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';

export interface OutputDir {
  /** The scratch folder to write into. */
  work: string;
  /** Moves the named files from the scratch folder into `out` and removes the scratch folder. */
  publish(names: readonly string[]): Promise<void>;
  /** Removes the scratch folder and the parent folders this run created. */
  discard(): Promise<void>;
}

async function kind(path: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/** mkdir without `recursive`: errors surface (recursive mkdir can spin on special filesystems). */
async function makeDir(path: string, out: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await kind(path)) === 'dir') return;
    throw new InputError('out', `cannot write the output folder ${out}: ${code ?? (e as Error).message} at ${path}`);
  }
}

export async function prepareOutput(out: string): Promise<OutputDir> {
  const target = resolve(out);
  if ((await kind(target)) === 'file') throw new InputError('out', `${out} exists and is not a folder`);
  const missing: string[] = [];
  for (let dir = dirname(target); (await kind(dir)) === null; dir = dirname(dir)) missing.unshift(dir);
  const created: string[] = [];
  for (const dir of missing) {
    await makeDir(dir, out);
    created.push(dir);
  }
  const work = join(dirname(target), `.${basename(target)}-${Math.random().toString(36).slice(2)}.lopper-partial`);
  await makeDir(work, out);
  return {
    work,
    async publish(names) {
      await makeDir(target, out);
      for (const name of names) await rename(join(work, name), join(target, name));
      await rm(work, { recursive: true, force: true });
      created.length = 0;
    },
    async discard() {
      await rm(work, { recursive: true, force: true });
      for (const dir of created.reverse()) await rmdir(dir).catch(() => undefined);
    },
  };
}
