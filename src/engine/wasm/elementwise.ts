// The shared shape of Lopper's elementwise float32 kernels (erf, exp, GELU): a SIMD loop over
// whole vectors of four (wat/elementwise.wat), the same approximation in float32 JavaScript for
// the last n mod 4 elements, and the stock kernel for other dtypes. Where WebAssembly SIMD is
// missing, the JavaScript version does every element.
import { type Info, type KernelArgs, type WasmKernelFunc, memoryOf, offsetOf, sizeOf, stockKernel } from './registry.js';

/** out[i] = f(x[i], ...) for i < 4·vectors: (input offsets..., out offset, vectors), on tfjs-backend-wasm's heap (bytes). */
export type VectorLoop = (...offsetsOutVectors: number[]) => void;

/**
 * The tfjs kernel over the inputs `names` (all of x's shape): `simd` on whole vectors, `scalar`
 * on the rest (on everything where WebAssembly SIMD is missing); the stock kernel `name` for
 * other dtypes (Lopper's own ops send only float32).
 */
export function elementwiseKernel(
  name: string,
  names: string[],
  simd: (memory: WebAssembly.Memory) => VectorLoop | null,
  scalar: (...v: number[]) => number,
): WasmKernelFunc {
  return (args: KernelArgs): Info => {
    const { inputs, backend } = args;
    const ins = names.map((n) => inputs[n]!);
    if (ins[0].dtype !== 'float32') return stockKernel(name)(args);
    const kernel = simd(memoryOf(backend));
    const out = backend.makeOutput(ins[0].shape.slice(), 'float32');
    const n = sizeOf(ins[0].shape);
    const vectors = kernel ? n >> 2 : 0;
    if (kernel) kernel(...ins.map((t) => offsetOf(backend, t)), offsetOf(backend, out), vectors);
    if (n > vectors * 4) {
      const src = ins.map((t) => backend.typedArrayFromHeap(t));
      const dst = backend.typedArrayFromHeap(out);
      for (let i = vectors * 4; i < n; i++) dst[i] = scalar(...src.map((a) => a[i]));
    }
    return out;
  };
}
