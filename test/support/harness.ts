// Test harness for the service: an ephemeral redis-server on a free port (no persistence), a temp
// DATA_DIR, and a Config pointing at both. Nothing here mocks Lopper's parts; tests drive the real
// API (app.inject) and the real worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  client: Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 3 });
  client.on('error', () => undefined);
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (err) {
      if (i > 100 || child.exitCode !== null) throw new Error(`redis-server did not start: ${(err as Error).message}`, { cause: err });
      client.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    client,
    stop: async () => {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export interface TestEnv {
  redis: TestRedis;
  dataDir: string;
  config: Config;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A fresh Redis and DATA_DIR; `env` holds extra variables (e.g. MAX_UPLOAD_BYTES). */
export async function testEnv(env: Record<string, string> = {}): Promise<TestEnv> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'lopper-service-'));
  // wasm by default (fast to start, same everywhere); LOPPER_TEST_BACKEND=webgpu runs the same
  // tests through the GPU worker path on a machine with one.
  const backend = process.env.LOPPER_TEST_BACKEND || 'wasm';
  // Tests send hundreds of requests from one address in seconds; limits.test.ts sets its own budget.
  const full = {
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    LOPPER_BACKEND: backend,
    RATE_LIMIT_MAX: '1000000000',
    ...env,
  };
  return {
    redis,
    dataDir,
    config: loadConfig(full),
    env: full,
    cleanup: async () => {
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
