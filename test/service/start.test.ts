// `npm start` under a supervisor: SIGTERM to the npm process must reach the service (npm's script
// runs it with `exec`), which shuts down gracefully and stops the redis-server it started itself.
// Nothing of it may outlive npm.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../support/harness.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const c of await childrenOf(pid)) out.push(c, ...(await descendants(c)));
  return out;
}

test('SIGTERM to `npm start` stops the service and the redis-server it started', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'lopper-start-'));
  const [port, redisPort] = [await freePort(), await freePort()];
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      LOPPER_BACKEND: 'wasm',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok, 60_000, 'the service to be ready');
    const tree = await descendants(npm.pid!);
    const commands = await Promise.all(tree.map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
    assert.ok(
      commands.some((c) => c.includes('dist/src/service.js')),
      'the service runs under npm',
    );
    assert.ok(
      commands.some((c) => c.startsWith('redis-server')),
      'with the redis-server it started',
    );
    npm.kill('SIGTERM');
    await exited;
    await waitFor(async () => !(await Promise.all(tree.map(alive))).some(Boolean), 30_000, 'every process of the tree to exit');
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
