// The shared shape of Lopper's elementwise float32 kernels (erf, exp, GELU): a SIMD loop over
// whole vectors of four, the same approximation in float32 JavaScript for the last n mod 4
// elements, and the stock kernel for other dtypes or where WebAssembly SIMD is missing.
import { type Info, type KernelArgs, type WasmKernelFunc, memoryOf, offsetOf, sizeOf, stockKernel } from './registry.js';
import { Constants, I32, V128, forLoop, moduleWithFunction, op } from './wasm-writer.js';

/** out[i] = f(x[i]) for i < 4·vectors, on tfjs-backend-wasm's heap (byte offsets). */
export type VectorLoop = (x: number, out: number, vectors: number) => void;
/** out[i] = f(a[i], b[i], c[i]) for i < 4·vectors. */
export type VectorLoop3 = (a: number, b: number, c: number, out: number, vectors: number) => void;

/**
 * Code for one vector: reads the v128 locals `xs` (one per input), may use the v128 locals `t`,
 * takes its constants from `k`, leaves the result on the stack.
 */
export type VectorCode = (xs: number[], t: number[], k: Constants) => number[];

/**
 * A module exporting `name(x, ..., out, vectors)` that maps `f` over 4·vectors floats of each
 * input. (Unrolling the loop and hoisting the constants out of it were measured: no gain, V8
 * overlaps iterations.)
 */
export function vectorMapModule(name: string, inputs: number, temps: number, f: VectorCode): Uint8Array {
  const params = inputs + 2; // inputs, out, vectors
  const [OUT, COUNT, I, OFF] = [inputs, inputs + 1, params, params + 1];
  const xs = Array.from({ length: inputs }, (_, j) => params + 2 + j);
  const t = Array.from({ length: temps }, (_, j) => params + 2 + inputs + j);
  const k = new Constants();
  const body = [
    ...forLoop(I, op.get(COUNT), [
      ...op.get(I), ...op.i32(16), ...op.mul, ...op.set(OFF),
      ...op.get(OUT), ...op.get(OFF), ...op.add, // store address, under the value
      ...xs.flatMap((x, j) => [...op.get(j), ...op.get(OFF), ...op.add, ...op.vload(), ...op.set(x)]),
      ...f(xs, t, k),
      ...op.vstore(),
    ]),
    ...op.end,
  ];
  return moduleWithFunction(name, params, [[2, I32], [inputs + temps, V128]], body, k);
}

/**
 * The tfjs kernel: `simd` on whole vectors, `scalar` on the rest (on everything where WebAssembly
 * SIMD is missing); the stock kernel `name` for other dtypes.
 */
export function elementwiseKernel(name: string, simd: (memory: WebAssembly.Memory) => VectorLoop | null, scalar: (v: number) => number): WasmKernelFunc {
  return (args: KernelArgs): Info => {
    const { inputs, backend } = args;
    const x = inputs.x!;
    if (x.dtype !== 'float32') return stockKernel(name)(args);
    const kernel = simd(memoryOf(backend));
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    const n = sizeOf(x.shape);
    const vectors = kernel ? n >> 2 : 0;
    if (kernel) kernel(offsetOf(backend, x), offsetOf(backend, out), vectors);
    if (n > vectors * 4) {
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      for (let i = vectors * 4; i < n; i++) dst[i] = scalar(src[i]);
    }
    return out;
  };
}
