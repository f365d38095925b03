// The shared shape of Lopper's elementwise float32 kernels (erf, exp, GELU): a SIMD loop over
// whole vectors of four, the same approximation in float32 JavaScript for the last n mod 4
// elements, and the stock kernel for other dtypes or where WebAssembly SIMD is missing.
import { type Info, type KernelArgs, type WasmKernelFunc, memoryOf, offsetOf, sizeOf, stockKernel } from './registry.js';
import { Constants, I32, V128, forLoop, moduleWithFunction, op } from './wasm-writer.js';

/** out[i] = f(x[i], ...) for i < 4·vectors: (input offsets..., out offset, vectors), on tfjs-backend-wasm's heap (bytes). */
export type VectorLoop = (...offsetsOutVectors: number[]) => void;

/**
 * Code for one vector: reads the v128 locals `xs` (one per input), may use the v128 locals `t`,
 * takes its constants from `k`, leaves the result on the stack.
 */
export type VectorCode = (xs: number[], t: number[], k: Constants) => number[];

/**
 * A module exporting `name(x, ..., out, vectors)` that maps `f` over 4·vectors floats of each
 * input. (Unrolling the loop was measured: no gain, V8 overlaps iterations; the constants are
 * module globals, see Constants.)
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
 * The tfjs kernel over the inputs `names` (all of x's shape): `simd` on whole vectors, `scalar`
 * on the rest (on everything where WebAssembly SIMD is missing); the stock kernel `name` for
 * other dtypes (Lopper's own ops send only float32).
 */
export function elementwiseKernel(name: string, names: string[], simd: (memory: WebAssembly.Memory) => VectorLoop | null, scalar: (...v: number[]) => number): WasmKernelFunc {
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
