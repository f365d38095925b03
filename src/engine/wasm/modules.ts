// Lopper's WebAssembly SIMD kernels: modules written as WAT in wat/ and assembled at build time
// (scripts/build-wasm.ts) into modules/<name>.wasm beside this file. Each imports
// tfjs-backend-wasm's memory (env.memory) and works on tensors in place. A module is compiled
// once per process and instantiated once per memory.
//
// Failure is loud: where WebAssembly SIMD is missing (the probe module does not validate), the
// kernels take their portable paths after one process warning; that is the only fallback. A
// module that is missing, does not compile or does not instantiate on a platform with SIMD is a
// build bug and throws, in the tests and at run time alike.
import { readFileSync } from 'node:fs';

/** The modules wat/ holds, with the functions each exports. */
export const MODULES = {
  bmm: ['bmm'],
  elementwise: ['erf', 'exp', 'gelu', 'geluGrad'],
  'layer-norm': ['lnFwd', 'lnBwd'],
  adamw: ['adamw'],
  colsum: ['colsum'],
  'block-transpose': ['blockTranspose'],
} as const;
export type ModuleName = keyof typeof MODULES;

/** The built bytes of a module (throws when the build did not produce them). */
export function moduleBytes(name: ModuleName | 'simd-probe'): Uint8Array {
  const url = new URL(`./modules/${name}.wasm`, import.meta.url);
  try {
    return readFileSync(url);
  } catch (e) {
    throw new Error(
      `Lopper's WebAssembly module ${name}.wasm is missing at ${url.pathname} (\`npm run build\` assembles it): ${(e as Error).message}`,
      { cause: e },
    );
  }
}

let simd: boolean | undefined;

/** Whether this platform runs WebAssembly SIMD; warns once when it does not. */
export function simdSupported(): boolean {
  if (simd === undefined) {
    simd = WebAssembly.validate(moduleBytes('simd-probe') as Uint8Array<ArrayBuffer>);
    if (!simd) {
      process.emitWarning("WebAssembly SIMD is not available: Lopper's wasm kernels take their portable (slower) paths", {
        code: 'LOPPER_NO_WASM_SIMD',
      });
    }
  }
  return simd;
}

/** Compiles bytes as the module `name`; a module that does not compile is an error naming it. */
export function compileModule(name: string, bytes: Uint8Array): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new Error(`Lopper's WebAssembly module ${name}.wasm does not compile: ${(e as Error).message}`, { cause: e });
  }
}

const compiled = new Map<ModuleName, WebAssembly.Module>();
const instances = new Map<ModuleName, WeakMap<WebAssembly.Memory, WebAssembly.Exports>>();
const uses = new Map<string, number>();

function exportsFor(name: ModuleName, memory: WebAssembly.Memory): WebAssembly.Exports {
  let perMemory = instances.get(name);
  if (!perMemory) instances.set(name, (perMemory = new WeakMap()));
  const known = perMemory.get(memory);
  if (known) return known;
  let mod = compiled.get(name);
  if (!mod) compiled.set(name, (mod = compileModule(name, moduleBytes(name))));
  let exports: WebAssembly.Exports;
  try {
    exports = new WebAssembly.Instance(mod, { env: { memory } }).exports;
  } catch (e) {
    throw new Error(`Lopper's WebAssembly module ${name}.wasm does not instantiate: ${(e as Error).message}`, { cause: e });
  }
  for (const fn of MODULES[name]) {
    if (typeof exports[fn] !== 'function') throw new Error(`Lopper's WebAssembly module ${name}.wasm exports no function ${fn}`);
  }
  perMemory.set(memory, exports);
  return exports;
}

/**
 * The function `fn` of module `name` bound to `memory` (tfjs-backend-wasm's), or null where
 * WebAssembly SIMD is missing. Throws when the module is broken. Kernels look it up right where
 * they call it, once per kernel invocation, and each lookup is counted (simdUses): the tests tell
 * the SIMD path from the portable one that gives the same bits by that count. (Counting in a
 * wrapper around the function instead put a spread call in front of every call of it.)
 */
export function kernel<F extends (...args: never[]) => void>(
  name: ModuleName,
  fn: (typeof MODULES)[ModuleName][number],
): (memory: WebAssembly.Memory) => F | null {
  if (!(MODULES[name] as readonly string[]).includes(fn)) throw new Error(`Lopper's WebAssembly module ${name} has no function ${fn}`);
  const key = `${name}.${fn}`;
  return (memory) => {
    if (!simdSupported()) return null;
    const f = exportsFor(name, memory)[fn] as unknown as F;
    uses.set(key, (uses.get(key) ?? 0) + 1);
    return f;
  };
}

/** Kernel invocations that took each SIMD function so far, by "module.function". */
export function simdUses(): Record<string, number> {
  return Object.fromEntries(uses);
}
