// Replacing tfjs-backend-wasm kernels: each fix wraps the stock kernelFunc (kept here, so that a
// fix can delegate to it and so that the fixes can be switched off again for before/after runs).
// Kernel funcs receive and return TensorInfos (dataId, shape, dtype); temporaries made inside a
// kernel are released with backend.disposeData, as tfjs-backend-wasm's own kernels do.
import * as tf from '@tensorflow/tfjs';

export type Info = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's BackendWasm that the fixes use. */
export interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number; shape: number[]; memoryOffset: number; dtype: tf.DataType } };
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  typedArrayFromHeap(info: Info): Float32Array | Int32Array | Uint8Array;
}

export interface KernelArgs {
  inputs: Record<string, Info | undefined>;
  backend: WasmBackend;
  attrs: Record<string, any>;
}
export type WasmKernelFunc = (args: KernelArgs) => Info;

const originals = new Map<string, tf.KernelConfig>();
const replacements = new Map<string, tf.KernelConfig>();

/** The kernel tfjs-backend-wasm registered for `name`, before any fix. */
export function stockKernel(name: string): WasmKernelFunc {
  const cfg = originals.get(name) ?? tf.getKernel(name, 'wasm');
  if (!cfg) throw new Error(`wasm kernel ${name} is not registered (import @tensorflow/tfjs-backend-wasm first)`);
  return cfg.kernelFunc as unknown as WasmKernelFunc;
}

/**
 * Registers `make(stock)` as the wasm kernel `name`, keeping the stock setupFunc (the wasm
 * function bindings the stock kernel needs). Idempotent.
 */
export function replaceKernel(name: string, make: (stock: WasmKernelFunc) => WasmKernelFunc): void {
  if (!originals.has(name)) {
    const cfg = tf.getKernel(name, 'wasm');
    if (!cfg) throw new Error(`wasm kernel ${name} is not registered (import @tensorflow/tfjs-backend-wasm first)`);
    originals.set(name, cfg);
    replacements.set(name, { ...cfg, kernelFunc: make(cfg.kernelFunc as unknown as WasmKernelFunc) as unknown as tf.KernelFunc });
  }
  const current = tf.getKernel(name, 'wasm');
  const replacement = replacements.get(name)!;
  if (current === replacement) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel(replacement);
}

/** Puts the stock kernel back (for before/after measurements and tests). */
export function restoreKernel(name: string): void {
  const cfg = originals.get(name);
  if (!cfg || tf.getKernel(name, 'wasm') === cfg) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel(cfg);
}

/** Registers a kernel that tfjs-backend-wasm does not have (Lopper's own ops, e.g. GELU). Idempotent. */
export function addKernel(name: string, kernelFunc: WasmKernelFunc): void {
  if (tf.getKernel(name, 'wasm')) return;
  const config = { kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  replacements.set(name, config);
  tf.registerKernel(config);
}

/** Removes a kernel added by addKernel (ops then take their portable path). */
export function removeKernel(name: string): void {
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
}

export function isReplaced(name: string): boolean {
  const r = replacements.get(name);
  return r != null && tf.getKernel(name, 'wasm') === r;
}

/** tfjs-backend-wasm's heap, which Lopper's SIMD kernels import and work on in place. */
export const memoryOf = (backend: WasmBackend): WebAssembly.Memory =>
  (backend as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;

/** Byte offset of a tensor's data on the heap. */
export const offsetOf = (backend: WasmBackend, t: Info): number => backend.dataIdMap.get(t.dataId).memoryOffset;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A reshaped view sharing x's data (what the wasm Reshape kernel returns); release it after use. */
export function view(backend: WasmBackend, x: Info, shape: number[]): Info {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

export function release(backend: WasmBackend, ...infos: (Info | null | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** Gives a kernel output its final shape (the output tensor and the backend's record agree). */
export function withShape(backend: WasmBackend, out: Info, shape: number[]): Info {
  out.shape = shape;
  backend.dataIdMap.get(out.dataId).shape = shape;
  return out;
}

/**
 * Makes the backend's record of a tensor carry the shape this kernel call sees. The wasm backend
 * keeps one record per data buffer; reshapes and clones share the buffer, so the record can hold
 * an older shape of the same size. Only the fused kernels' bias checks read it.
 */
export function syncRecordShape(backend: WasmBackend, info: Info | null | undefined): void {
  if (!info) return;
  const rec = backend.dataIdMap.get(info.dataId);
  if (rec && rec.shape.length !== info.shape.length && sizeOf(rec.shape) === sizeOf(info.shape)) rec.shape = info.shape.slice();
}
