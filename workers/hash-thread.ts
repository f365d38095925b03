// A thread of the inspector child that hashes an uploaded file while the child's main thread
// inspects it: on two cores the SHA-256 of a large dataset then costs no time after the upload.
import { parentPort } from 'node:worker_threads';
import { hashFile } from '../src/store/local-disk.js';

parentPort!.on('message', async ({ id, path }: { id: number; path: string }) => {
  try {
    parentPort!.postMessage({ id, sha256: await hashFile(path) });
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message });
  }
});
