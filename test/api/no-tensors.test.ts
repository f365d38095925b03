// "The API process never allocates a tensor": the API runs in a process whose module resolver
// refuses @tensorflow/* (the inspector children it forks are separate processes and unaffected).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeTinyModel } from '../support/fixtures.js';

test('uploads and job submission never load TensorFlow.js in the API process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lopper-no-tfjs-'));
  try {
    await writeTinyModel(join(dir, 'model'));
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(
      hooks,
      `export async function resolve(specifier, context, next) {
        if (specifier.startsWith('@tensorflow/')) throw new Error('TensorFlow.js imported in the API process: ' + specifier + ' from ' + context.parentURL);
        return next(specifier, context);
      }`,
    );
    const register = join(dir, 'register.mjs');
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const script = fileURLToPath(new URL('./api-without-tfjs.js', import.meta.url));
    const code = `import(${JSON.stringify(pathToFileURL(script).href)}).then((m) => m.main(${JSON.stringify(join(dir, 'model'))}))`;
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, '--input-type=module', '-e', code], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /OK/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
