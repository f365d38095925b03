// The shared shape of Lopper's elementwise float32 kernels (erf, exp): a SIMD loop over whole
// vectors of four, the same approximation in float32 JavaScript for the last n mod 4 elements,
// and the stock kernel for other dtypes or where WebAssembly SIMD is missing.
import { type Info, type KernelArgs, type WasmKernelFunc, memoryOf, offsetOf, sizeOf, stockKernel } from './registry.js';
import { I32, V128, forLoop, moduleWithFunction, op } from './wasm-writer.js';

/** out[i] = f(x[i]) for i < 4·vectors, on tfjs-backend-wasm's heap (byte offsets). */
export type VectorLoop = (x: number, out: number, vectors: number) => void;

/** Code for one vector: reads the v128 local `x`, may use the v128 locals `t`, leaves f(x) on the stack. */
export type VectorCode = (x: number, t: number[]) => number[];

/**
 * A module exporting `name(x, out, vectors)` that maps `f` over 4·vectors floats. (Unrolling
 * the loop and hoisting the constants out of it were measured: no gain, V8 overlaps iterations.)
 */
export function vectorMapModule(name: string, temps: number, f: VectorCode): Uint8Array {
  const [X, OUT, COUNT, I, OFF, V] = [0, 1, 2, 3, 4, 5];
  const t = Array.from({ length: temps }, (_, j) => V + 1 + j);
  const body = [
    ...forLoop(I, op.get(COUNT), [
      ...op.get(I), ...op.i32(16), ...op.mul, ...op.set(OFF),
      ...op.get(OUT), ...op.get(OFF), ...op.add, // store address, under the value
      ...op.get(X), ...op.get(OFF), ...op.add, ...op.vload(), ...op.set(V),
      ...f(V, t),
      ...op.vstore(),
    ]),
    ...op.end,
  ];
  return moduleWithFunction(name, 3, [[2, I32], [1 + temps, V128]], body);
}

/** The tfjs kernel: `simd` on whole vectors, `scalar` on the rest. */
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
