// Picks and initialises the TensorFlow.js backend. Nothing else in Lopper knows which one runs.
// Order for "auto": webgpu (Dawn, when a GPU adapter exists) → tensorflow (tfjs-node[-gpu], when
// installed) → wasm. `cpu` is never chosen automatically: it is 20-60x slower than wasm.
// The choice is logged once (see setBackendLogger) and returned to callers for /readyz and reports.
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../request.js';
import { registerTileGradient } from './gradients/tile.js';
import { type EngineSettings, loadEngineSettings } from './settings.js';

export interface BackendInfo {
  backend: string;
  device: string;
}

let current: BackendInfo | null = null;
let log: (message: string) => void = (m) => process.stderr.write(`lopper: ${m}\n`);
/** Why each backend that was tried could not be used (for the error, the log and the bench). */
const failures = new Map<string, string>();

/** Where the one-line "backend chosen" message and fallbacks go (default: stderr). */
export function setBackendLogger(fn: (message: string) => void): void {
  log = fn;
}

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/**
 * On Linux Dawn needs libvulkan.so.1; without it, it prints a multi-line warning on every start.
 * dlopen tells without that noise: a library that loads but is no Node addon fails differently
 * ("did not self-register") from one that is missing ("cannot open shared object file").
 */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, 'libvulkan.so.1');
    return true;
  } catch (e) {
    return !/cannot open shared object/.test(reason(e));
  }
}

async function tryWebgpu(settings: EngineSettings): Promise<BackendInfo | null> {
  // Dawn for Node (npm "webgpu"): its `globals` are the WebGPU classes and constants (GPUBufferUsage…)
  // and create([]) the navigator.gpu object. tfjs-backend-webgpu checks navigator.gpu when it is
  // imported, so both must be in place first. Vulkan (libvulkan1 + NVIDIA's ICD with glvnd) must
  // be installed for an adapter to appear on Linux; see README "GPU workers".
  if (!vulkanLoaderPresent()) {
    failures.set('webgpu', 'the Vulkan loader (libvulkan.so.1) is not installed');
    return null;
  }
  let dawn: { create(options: string[]): any; globals: Record<string, unknown> };
  try {
    dawn = await import('webgpu' as string);
  } catch (e) {
    failures.set('webgpu', `the optional package "webgpu" is not installed (${reason(e)})`);
    return null;
  }
  try {
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create(settings.dawnOptions);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      failures.set('webgpu', 'no WebGPU adapter (is the Vulkan loader installed, with a GPU driver ICD?)');
      return null;
    }
    const nav = (globalThis as { navigator?: object }).navigator;
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu' as string);
    if (!(await tf.setBackend('webgpu'))) {
      failures.set('webgpu', 'tf.setBackend("webgpu") failed (see the warning above)');
      return null;
    }
    await tf.ready();
    // tfjs-webgpu submits its command buffer every 15 dispatches by default. Under Dawn for Node,
    // submitting every 1000 was the best of 15/100/1000/5000 measured (bench/dispatch.ts and
    // fine-tuning on an H100/H200: an MLP AdamW step at batch 512 83.6 → 60.8 ms; fine-tuning
    // +5-10%; 5000 was ~40% slower). Reads (data()) still submit whatever is pending.
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', settings.webgpuSubmitBatch);
    // With CPU forwarding on (tfjs-webgpu's default), ops whose inputs are small and still on the
    // host run on the CPU: LayerNormalization's tile of gamma/beta to [batch, tokens, dim] was then
    // computed in JavaScript on every inference call. Off, on an H200: tiny-ViT evaluation 710 →
    // 23.5k samples/s, ViT training at batch 256 594 → 1,034, MLP training at batch 512 16.4k → 18.4k.
    tf.env().set('WEBGPU_CPU_FORWARD', settings.webgpuCpuForward);
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    const device = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'gpu';
    return { backend: 'webgpu', device: `${device} (Dawn WebGPU)` };
  } catch (e) {
    failures.set('webgpu', reason(e));
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
    } catch (e) {
      // not installed, or libtensorflow missing: fall through to the next candidate
      failures.set('tensorflow', `${pkg}: ${reason(e)}`);
    }
  }
  return null;
}

async function tryWasm(): Promise<BackendInfo | null> {
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmKernels } = await import('./wasm-kernels.js');
  // Before setBackend: the replacements keep the stock kernels' setup functions.
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) {
    failures.set('wasm', 'tf.setBackend("wasm") failed');
    return null;
  }
  await tf.ready();
  return { backend: 'wasm', device: `${process.arch} CPU (XNNPACK, 1 thread)` };
}

async function tryCpu(): Promise<BackendInfo | null> {
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', device: `${process.arch} CPU (plain JS)` };
}

const candidates: Record<Exclude<BackendName, 'auto'>, (settings: EngineSettings) => Promise<BackendInfo | null>> = {
  webgpu: tryWebgpu,
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

/**
 * Initialise the requested backend once per process. `auto` (the default, or LOPPER_BACKEND)
 * takes the first that works; an explicit name fails loudly when that backend is unavailable.
 * The engine's environment variables are validated first, whichever backend is asked for: a bad
 * one is a ConfigError naming it, never a silent fallback.
 */
export async function initBackend(requested?: BackendName): Promise<BackendInfo> {
  const settings = loadEngineSettings();
  requested ??= settings.backend;
  if (current && (requested === 'auto' || requested === current.backend)) return current;
  if (!(requested in candidates) && requested !== 'auto') throw new Error(`unknown backend "${requested}"`);
  // tfjs-core's Tile gradient issues one slice+add per repetition; ours is one reduction. It is
  // backend-independent, so it is registered whichever backend runs.
  registerTileGradient();
  const order: Exclude<BackendName, 'auto'>[] = requested === 'auto' ? ['webgpu', 'tensorflow', 'wasm'] : [requested];
  for (const name of order) {
    const info = await candidates[name](settings);
    if (info) {
      current = info;
      const skipped = order.slice(0, order.indexOf(name)).map((n) => `${n}: ${failures.get(n) ?? 'unavailable'}`);
      log(`backend ${info.backend} on ${info.device}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`);
      return info;
    }
  }
  const why = order.map((n) => `${n}: ${failures.get(n) ?? 'unavailable'}`).join('; ');
  throw new Error(`backend "${requested}" is not available on this machine (${why})`);
}

export function currentBackend(): BackendInfo | null {
  return current;
}

/** Why backends that were tried could not be used, by name (empty when none failed). */
export function backendFailures(): Record<string, string> {
  return Object.fromEntries(failures);
}
