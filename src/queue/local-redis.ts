// For `npm start` on a laptop: when nothing answers at REDIS_URL (on this machine) and redis-server
// is on PATH, run one as a child process with append-only persistence under DATA_DIR/redis, so
// `npm ci && npm start` works with no other setup. It is stopped (and flushes its AOF) on exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface LocalRedis {
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  probe.on('error', () => undefined); // the failure is the answer
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Returns null when Redis already answers; otherwise starts one, or throws saying why it cannot. */
export async function ensureRedis(redisUrl: string, dataDir: string, log: Logger): Promise<LocalRedis | null> {
  if (await answers(redisUrl)) return null;
  const url = new URL(redisUrl);
  if (!LOCAL_HOSTS.has(url.hostname)) throw new Error(`Redis at ${redisUrl} does not answer`);
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(`nothing answers at ${redisUrl} and redis-server is not on PATH: install Redis or set REDIS_URL`);
  }
  const dir = join(dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = url.port || '6379';
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', port, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'],
    // Its own process group: a Ctrl-C in the terminal must not stop Redis before the API and the
    // worker have shut down through it; stop() ends it last.
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await answers(redisUrl)) {
      log.info({ port, dir, pid: child.pid }, 'started redis-server (append-only file under DATA_DIR/redis)');
      return {
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`started redis-server on port ${port} but it did not answer`);
}
