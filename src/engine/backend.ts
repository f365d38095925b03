// Picks and initialises the TensorFlow.js backend. Nothing else in Lopper knows which one runs.
// Order for "auto": webgpu (Dawn, when a GPU adapter exists) → tensorflow (tfjs-node[-gpu], when
// installed) → wasm. `cpu` is never chosen automatically: it is 20-60x slower than wasm.
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../request.js';

export interface BackendInfo {
  backend: string;
  device: string;
}

let current: BackendInfo | null = null;

async function tryWebgpu(): Promise<BackendInfo | null> {
  try {
    const dawn: any = await import('webgpu' as string);
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu' as string);
    if (!(await tf.setBackend('webgpu'))) return null;
    await tf.ready();
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    return { backend: 'webgpu', device: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'gpu' };
  } catch {
    return null;
  }
}

async function tryTensorflow(): Promise<BackendInfo | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return { backend: 'tensorflow', device: pkg.endsWith('gpu') ? 'libtensorflow (CUDA)' : 'libtensorflow (CPU)' };
      }
    } catch {
      // not installed, or libtensorflow missing: fall through to the next candidate
    }
  }
  return null;
}

async function tryWasm(): Promise<BackendInfo | null> {
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmKernels } = await import('./wasm-kernels.js');
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) return null;
  await tf.ready();
  return { backend: 'wasm', device: `${process.arch} CPU (XNNPACK, 1 thread)` };
}

async function tryCpu(): Promise<BackendInfo | null> {
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', device: `${process.arch} CPU (plain JS)` };
}

const candidates: Record<Exclude<BackendName, 'auto'>, () => Promise<BackendInfo | null>> = {
  webgpu: tryWebgpu,
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

/**
 * Initialise the requested backend once per process. `auto` (the default, or LOPPER_BACKEND)
 * takes the first that works; an explicit name fails loudly when that backend is unavailable.
 */
export async function initBackend(requested: BackendName = (process.env.LOPPER_BACKEND as BackendName) || 'auto'): Promise<BackendInfo> {
  // `cpu` may have been set up just to read a model (inspection); `auto` still looks for better.
  if (current && (requested === current.backend || (requested === 'auto' && current.backend !== 'cpu'))) return current;
  const order: Exclude<BackendName, 'auto'>[] = requested === 'auto' ? ['webgpu', 'tensorflow', 'wasm'] : [requested];
  for (const name of order) {
    const info = await candidates[name]();
    if (info) {
      current = info;
      return info;
    }
  }
  throw new Error(`backend "${requested}" is not available on this machine`);
}

export function currentBackend(): BackendInfo | null {
  return current;
}
