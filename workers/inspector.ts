// The inspector child (see src/api/inspector.ts, which forks it): validates and summarises uploaded
// models and datasets, one task at a time, so that whatever a hostile file does to TensorFlow.js or
// the parsers happens here, under a deadline and memory caps, and not on the API's event loop.
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { InspectReply, InspectTask } from '../src/api/inspector.js';
import { initBackend } from '../src/engine/backend.js';
import { inspectDatasetFile, inspectModelFiles } from '../src/inspect.js';
import { unpackModelZip } from '../src/io/model-zip.js';
import { DEFAULT_MODEL_LIMITS } from '../src/io/topology-check.js';
import { exitWhenOrphaned } from '../src/orphan-watchdog.js';
import { toWire } from '../src/errors.js';

// The parent kills this process on a deadline, but if the parent itself is SIGKILLed, nobody will.
exitWhenOrphaned();
process.on('disconnect', () => process.exit(0));

/** model.json plus the basenames its manifest names: the files worth keeping. */
function referencedFiles(modelJson: Uint8Array): string[] {
  const manifest = JSON.parse(new TextDecoder().decode(modelJson)).weightsManifest as { paths: string[] }[];
  return ['model.json', ...new Set(manifest.flatMap((g) => g.paths.map((p) => p.split('/').pop()!)))];
}

let hasher: Worker | null = null;
let hashes = 0;

/** The file's SHA-256, computed on the hash thread (started on first use, kept for later tasks). */
function hashOnThread(path: string): Promise<string> {
  if (!hasher) {
    hasher = new Worker(new URL('./hash-thread.js', import.meta.url));
    hasher.unref();
  }
  const thread = hasher;
  const id = hashes++;
  return new Promise((resolve, reject) => {
    const onMessage = (m: { id: number; sha256?: string; error?: string }) => {
      if (m.id !== id) return;
      thread.off('message', onMessage);
      if (m.sha256) resolve(m.sha256);
      else reject(new Error(`hashing ${path} failed: ${m.error}`));
    };
    thread.on('message', onMessage);
    thread.postMessage({ id, path });
  });
}

async function inspect(task: InspectTask): Promise<unknown> {
  if (task.kind === 'dataset') {
    const { maxUnzippedBytes, maxCompressionRatio } = task.limits;
    const [summary, sha256] = await Promise.all([
      inspectDatasetFile(task.path, task.field, { maxUnzippedBytes, maxCompressionRatio }),
      hashOnThread(task.path),
    ]);
    return { ...summary, sha256 };
  }
  // A zip is unpacked here too: inflating is CPU work a hostile archive could make long.
  let unpacked = null;
  let files: Record<string, string>;
  if (task.kind === 'model-zip') {
    unpacked = await unpackModelZip(
      task.zip,
      task.dir,
      { maxBytes: task.limits.maxUnzippedBytes, maxRatio: task.limits.maxCompressionRatio },
      task.field,
    );
    files = Object.fromEntries(unpacked.map((f) => [f.name, f.path]));
  } else {
    files = task.files;
  }
  const bytes = new Map<string, Uint8Array>();
  for (const [name, path] of Object.entries(files)) bytes.set(name, await readFile(path));
  const { maxParams, maxLayers, maxDepth } = task.limits;
  const summary = await inspectModelFiles(bytes, { ...DEFAULT_MODEL_LIMITS, maxParams, maxLayers, maxDepth });
  return { summary, keep: referencedFiles(bytes.get('model.json')!), ...(unpacked ? { unpacked } : {}) };
}

process.on('message', async ({ id, task }: { id: number; task: InspectTask }) => {
  let reply: InspectReply;
  try {
    reply = { id, ok: true, result: await inspect(task) };
  } catch (err) {
    reply = { id, ok: false, error: toWire(err) };
  }
  process.send!(reply);
});

// Reading a topology needs a backend but no real compute: wasm claims no GPU. Initialised once,
// before the first task, so tasks are fast.
await initBackend('wasm');
process.send!({ ready: true });
