// `npm test`'s runner: `node --test --test-concurrency=1` over an explicit list of compiled test
// files. Given a folder, Node 20's runner treats every .js below a `test/` folder as a test file, so
// helpers and fixtures (harness, request fixtures, fuzz generators) would run as passing "tests"; and
// a test moved or deleted since the last build would run again from its stale .js in dist/. So the
// list is the *.test.ts files under test/, each as its dist/test/**/*.test.js.
//
//   node dist/scripts/test.js                         everything
//   node dist/scripts/test.js test/store test/io/npz.test.ts    only files under these paths
//   node dist/scripts/test.js --test-reporter=spec    options (--…) go to node as they are
//   node dist/scripts/test.js --list test/service    prints the files it would run, runs nothing
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The *.test.ts files below `dir`, as paths relative to the repository root with `/`. */
function testSources(root: string, dir = 'test'): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** `test/x`, `./test/x/`, `dist/test/x/a.test.js` all name the source path `test/x[/a.test.ts]`. */
function sourcePath(arg: string): string {
  return arg
    .replace(/\\/g, '/')
    .replace(/^\.\//, '')
    .replace(/^dist\//, '')
    .replace(/\/+$/, '')
    .replace(/\.test\.js$/, '.test.ts');
}

const list = process.argv.includes('--list');
const options = process.argv.slice(2).filter((a) => a.startsWith('--') && a !== '--list');
const filters = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map(sourcePath);
const sources = testSources(ROOT);
const chosen = filters.length === 0 ? sources : sources.filter((s) => filters.some((f) => s === f || s.startsWith(`${f}/`)));
for (const f of filters) {
  if (!sources.some((s) => s === f || s.startsWith(`${f}/`))) {
    console.error(`no test files under ${f}`);
    process.exit(2);
  }
}
const files = chosen.map((s) => join('dist', s.replace(/\.ts$/, '.js')));
if (list) {
  for (const f of files) console.log(f);
  process.exit(0);
}
const unbuilt = files.filter((f) => !existsSync(join(ROOT, f)));
if (unbuilt.length > 0) {
  console.error(`not compiled (run npx tsc -p tsconfig.json): ${unbuilt.join(', ')}`);
  process.exit(2);
}

const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...options, ...files], { cwd: ROOT, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
