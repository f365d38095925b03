// Chaos: two real worker processes (`service.js worker`), twelve or more jobs of 3,000 steps,
// and a seeded schedule of SIGKILLs to a worker process or to its job's child — some within
// 0.2 s of the child's start — with a worker started again after each one it kills, and one
// restart of Redis (append-only) in the middle. Every job must end completed exactly once, its artifacts matching the record and
// the files; nothing may be left in DATA_DIR/tmp, and no Lopper process but the live workers.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { client } from '../support/api.js';
import { writeTinyModel } from '../support/fixtures.js';
import { freePort, waitFor } from '../support/harness.js';

const SERVICE = fileURLToPath(new URL('../../src/service.js', import.meta.url));
const JOBS = 12;
const KILLS = 12;

/** mulberry32: a small seeded generator, so a failing schedule can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dataDir: string;
let redisPort: number;
let redis: ChildProcess;
let env: Record<string, string>;
let app: FastifyInstance;
const workers: ChildProcess[] = [];

async function startRedis(): Promise<void> {
  redis = spawn(
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--dir',
      join(dataDir, 'redis'),
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis(`redis://127.0.0.1:${redisPort}`, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  await waitFor(
    async () => {
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    },
    10_000,
    'redis-server to answer',
    50,
  );
  probe.disconnect();
}

async function stopRedis(): Promise<void> {
  if (redis.exitCode !== null || redis.signalCode !== null) return;
  const exited = new Promise((r) => redis.once('exit', r));
  redis.kill('SIGTERM');
  await exited;
}

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [SERVICE, 'worker'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  workers.push(child);
  return child;
}

const live = () => workers.filter((w) => w.exitCode === null && w.signalCode === null);

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** The job child (processor.js) of worker `pid`, if it has one. */
async function jobChildOf(pid: number): Promise<number | null> {
  for (const c of await childrenOf(pid)) {
    if ((await readFile(`/proc/${c}/cmdline`, 'utf8').catch(() => '')).includes('processor.js')) return c;
  }
  return null;
}

/** Every live process whose environment names this test's DATA_DIR. */
async function lopperProcesses(): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`DATA_DIR=${dataDir}`) && stat && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z')
      out.push(Number(name));
  }
  return out;
}

/** The API answers 503 while Redis restarts; callers retry. */
async function inject(opts: InjectOptions) {
  for (;;) {
    const res = await app.inject(opts);
    if (res.statusCode !== 503) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const api = client(() => ({ inject }));

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'lopper-chaos-'));
  redisPort = await freePort();
  await mkdir(join(dataDir, 'redis'));
  await startRedis();
  env = {
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    LOPPER_BACKEND: 'wasm',
    LOCK_DURATION_MS: '2000',
    STALLED_INTERVAL_MS: '1000',
    JOB_ATTEMPTS: '30',
    JOB_BACKOFF_MS: '50',
    RATE_LIMIT_MAX: '1000000000',
  };
  app = await buildApp({ config: loadConfig(env), logger: false });
});

after(async () => {
  for (const w of live()) w.kill('SIGKILL');
  await app?.close();
  if (redis) await stopRedis();
  await rm(dataDir, { recursive: true, force: true });
});

test(`${JOBS}+ jobs through ${KILLS} seeded SIGKILLs and a Redis restart all complete exactly once`, async () => {
  const random = rng(20261201);
  const modelId = await api.uploadModel(await writeTinyModel(join(dataDir, 'fixture-model'), { hidden: 32 }));
  const datasetId = await api.uploadDataset(4000);
  const ids: string[] = [];
  const submit = async () => {
    const job = await api.createJob({
      modelId,
      datasetId,
      pruning: { ratio: 0.5, calibrationSamples: 64, seed: ids.length },
      fineTune: { epochs: 6, batchSize: 8, learningRate: 1e-3 },
    });
    ids.push(job.id);
  };
  for (let i = 0; i < JOBS; i++) await submit();
  startWorker();
  startWorker();

  const states = async (): Promise<any[]> => Promise.all(ids.map(async (id) => (await inject({ url: `/v1/jobs/${id}` })).json()));
  const log: string[] = [];
  let kills = 0;
  while (kills < KILLS) {
    // However fast the machine, there is always work to kill: every kill lands on a job.
    if ((await states()).filter((j) => j.state !== 'completed').length < 2) await submit();
    await new Promise((r) => setTimeout(r, 200 + random() * 800));
    const targets = live();
    const worker = targets[Math.floor(random() * targets.length)];
    const roll = random();
    if (roll < 0.25) {
      // The next job child of this worker, killed as soon as it appears (within its first 0.2 s).
      const before = await jobChildOf(worker.pid!);
      const child = await waitFor(
        async () => {
          const c = await jobChildOf(worker.pid!);
          return c !== null && c !== before ? c : null;
        },
        30_000,
        'a fresh job child',
        5,
      ).catch(() => null);
      if (child === null) continue;
      process.kill(child, 'SIGKILL');
      log.push(`kill ${++kills}: a job child at its start (worker ${worker.pid})`);
    } else if (roll < 0.65) {
      const child = await waitFor(() => jobChildOf(worker.pid!), 5_000, 'a running job child', 20).catch(() => null);
      if (child === null) continue;
      process.kill(child, 'SIGKILL');
      log.push(`kill ${++kills}: a job child mid-job (worker ${worker.pid})`);
    } else {
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      log.push(`kill ${++kills}: worker process ${worker.pid}; another started`);
      startWorker();
    }
    if (kills === Math.floor(KILLS / 2)) {
      await stopRedis();
      await startRedis();
      log.push('redis-server restarted (append-only)');
    }
  }

  const done = await waitFor(
    async () => {
      const all = await states();
      assert.ok(
        !all.some((j) => j.state === 'failed' || j.state === 'cancelled'),
        JSON.stringify(all.filter((j) => j.state === 'failed').map((j) => j.error)),
      );
      return all.every((j) => j.state === 'completed') ? all : null;
    },
    240_000,
    'every job to complete',
    250,
  );

  let retries = 0;
  let resumes = 0;
  for (const job of done) {
    // Exactly once: one attempt completed, and BullMQ holds it as completed.
    assert.equal(job.attemptLog.filter((a: { outcome: string }) => a.outcome === 'completed').length, 1, JSON.stringify(job.attemptLog));
    assert.equal(job.attempts, job.attemptLog.length);
    assert.ok(job.attemptLog.slice(0, -1).every((a: { endedAt: string | null }) => a.endedAt !== null));
    assert.equal(await app.lopper.queue.getJobState(job.id), 'completed');
    retries += job.attempts - 1;
    resumes += job.attemptLog.filter((a: { resumedFromEpoch?: number }) => a.resumedFromEpoch !== undefined).length;
    assert.equal(job.artifacts.length, 5);
    for (const a of job.artifacts) {
      const bytes = await readFile(join(dataDir, 'jobs', job.id, a.name));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), a.sha256, `${job.id}/${a.name}`);
      assert.equal(bytes.length, a.bytes);
    }
    assert.equal(job.report.fineTune.epochs.length, 6);
  }
  console.log(`# chaos: ${ids.length} jobs, ${kills} kills, ${retries} retries, ${resumes} resumes\n# ${log.join('\n# ')}`);

  // Nothing left behind: no scratch or checkpoint, no process but the live workers.
  await waitFor(async () => (await readdir(join(dataDir, 'tmp'))).length === 0, 10_000, 'DATA_DIR/tmp to be empty');
  const workerPids = new Set(live().map((w) => w.pid));
  await waitFor(
    async () => {
      const procs = (await lopperProcesses()).filter((p) => p !== redis.pid);
      return procs.every((p) => workerPids.has(p)) && procs.length === workerPids.size;
    },
    10_000,
    'only the live workers to remain',
  );
  for (const w of live()) {
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    await exited;
  }
  await waitFor(async () => (await lopperProcesses()).filter((p) => p !== redis.pid).length === 0, 10_000, 'every Lopper process to exit');
});
