// Writes a file so readers never see it half-written: a crash leaves only a stray temp file,
// never a truncated model.json or weights.bin under the real name.
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path); // atomic within one filesystem, and tmp sits next to path
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
