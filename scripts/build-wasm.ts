// Assembles Lopper's WebAssembly kernels: every src/engine/wasm/wat/*.wat (not *.inc.wat) into
// dist/src/engine/wasm/modules/<name>.wasm, beside the compiled loader (src/engine/wasm/modules.ts)
// that reads them. Part of `npm run build` (after tsc, which compiles this script), so the CLI,
// the worker, the Docker images and the GPU machine's copy of dist/ all carry the modules; they
// are build output, never committed.
//
// A line `;; @include "file.inc.wat"` is replaced by that file: code shared between kernels (erf
// and exp inside GELU's loops) is written once and pasted where it runs, since V8 does not inline
// calls between wasm functions and a call per vector costs more than the arithmetic.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/scripts/ → the repository
const src = join(root, 'src/engine/wasm/wat');
const out = join(root, 'dist/src/engine/wasm/modules');
const INCLUDE = /^(\s*);; @include "([^"]+)"\s*$/;

/** The file's text with its include lines replaced (one level: included files include nothing). */
export function expandIncludes(file: string, read: (name: string) => string): string {
  return read(file)
    .split('\n')
    .map((line, i) => {
      const m = INCLUDE.exec(line);
      if (!m) return line;
      const text = read(m[2]);
      if (text.split('\n').some((l) => INCLUDE.test(l))) throw new Error(`${m[2]} (included at ${file}:${i + 1}) includes another file`);
      return text
        .trimEnd()
        .split('\n')
        .map((l) => m[1] + l)
        .join('\n');
    })
    .join('\n');
}

export async function buildWasm(): Promise<string[]> {
  const wabt = await wabtInit();
  mkdirSync(out, { recursive: true });
  const built: string[] = [];
  for (const file of readdirSync(src)
    .filter((f) => f.endsWith('.wat') && !f.endsWith('.inc.wat'))
    .sort()) {
    const text = expandIncludes(file, (name) => readFileSync(join(src, name), 'utf8'));
    // Line numbers in wabt's errors count the included files' lines.
    const mod = wabt.parseWat(file, text, { simd: true });
    try {
      mod.resolveNames();
      mod.validate();
      const { buffer } = mod.toBinary({});
      if (!WebAssembly.validate(buffer as Uint8Array<ArrayBuffer>))
        throw new Error(`${file}: wabt accepts it but this Node's WebAssembly.validate does not`);
      const name = `${basename(file, '.wat')}.wasm`;
      writeFileSync(join(out, name), buffer);
      built.push(name);
    } finally {
      mod.destroy();
    }
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const built = await buildWasm();
    console.log(`wasm: ${built.join(', ')} → ${out}`);
  } catch (e) {
    // Just the message: a stack through wabt's minified bundle prints megabytes of it.
    console.error(`build-wasm: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
