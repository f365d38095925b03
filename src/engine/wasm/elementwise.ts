// The shared shape of Lopper's elementwise float32 kernels (erf, exp): a SIMD loop over whole
// vectors of four, the same approximation in float32 JavaScript for the last n mod 4 elements,
// and the stock kernel for other dtypes or where WebAssembly SIMD is missing.
import { type Info, type KernelArgs, type WasmKernelFunc, memoryOf, offsetOf, sizeOf, stockKernel } from './registry.js';

/** out[i] = f(x[i]) for i < 4·vectors, on tfjs-backend-wasm's heap (byte offsets). */
export type VectorLoop = (x: number, out: number, vectors: number) => void;

export function elementwiseKernel(name: string, simd: (memory: WebAssembly.Memory) => VectorLoop | null, scalar: (v: number) => number): WasmKernelFunc {
  return (args: KernelArgs): Info => {
    const { inputs, backend } = args;
    const x = inputs.x!;
    const kernel = simd(memoryOf(backend));
    if (x.dtype !== 'float32' || !kernel) return stockKernel(name)(args);
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    const n = sizeOf(x.shape);
    const vectors = n >> 2;
    kernel(offsetOf(backend, x), offsetOf(backend, out), vectors);
    if (n > vectors * 4) {
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      for (let i = vectors * 4; i < n; i++) dst[i] = scalar(src[i]);
    }
    return out;
  };
}
