// The fuzz runner: one class of hostile requests against the real API (a real redis-server and a
// temp DATA_DIR from the service harness, buildApp + app.inject), with the invariants every case
// and every class must keep. Each *.test.ts in this folder calls fuzzClass once, so every class runs
// in its own process (node --test) and can be run alone.
//
// Environment:
//   LOPPER_FUZZ_CLASSES      comma list of classes to run (default: all)
//   LOPPER_FUZZ_SEED         suite seed (default 1)
//   LOPPER_FUZZ_SCALE        multiplies every class's case count (default 1; 0.1 for a quick run)
//   LOPPER_FUZZ_CASE         comma list of case ids (e.g. model#12) to run only those
//   LOPPER_FUZZ_EXCLUDE      comma list of tag prefixes to skip (e.g. model.graph,npz.header.quadratic)
//   LOPPER_FUZZ_TAGS         comma list of tag prefixes: run only the cases with one of them
//   LOPPER_FUZZ_CONCURRENCY  requests in flight at once (default 2)
//   LOPPER_FUZZ_HANG_MS      the watchdog kills the process (naming the cases in flight) when the
//                            event loop has been blocked this long (default 15000)
//   LOPPER_FUZZ_RSS_MB       bound on process RSS at the end (default 600)
//   LOPPER_FUZZ_REPORT       a folder: <class>.json with the summary and every failure
//   LOPPER_FUZZ_DUMP         a folder: the request of every failing case (for curl / replay)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { datasetNpz, modelParts, multipart, writeTinyModel } from '../support/fixtures.js';
import { testEnv, type TestEnv } from '../support/harness.js';
import { Rng } from './random.js';
import { Readable } from 'node:stream';

// ---------------------------------------------------------------------------------------------
// Cases and expectations

/** What a case must get back, beyond the invariants every response keeps. */
export type Expect =
  /** 2xx: a valid (or harmlessly odd) request. */
  | { kind: 'accept' }
  /** 4xx: the input is broken and must be refused. */
  | { kind: 'reject' }
  /** 2xx or 4xx: either is defensible; only the invariants apply. */
  | { kind: 'any' }
  /** One of these statuses exactly, optionally naming `field` in the problem, with these headers. */
  | { kind: 'status'; status: number[]; field?: string | RegExp; headers?: string[] };

export const accept = (): Expect => ({ kind: 'accept' });
export const reject = (): Expect => ({ kind: 'reject' });
export const any = (): Expect => ({ kind: 'any' });
export const status = (s: number | number[], field?: string | RegExp, headers?: string[]): Expect => ({
  kind: 'status',
  status: Array.isArray(s) ? s : [s],
  field,
  headers,
});

export interface FuzzRequest {
  method: string;
  url: string;
  headers?: Record<string, string | string[]>;
  payload?: string | Buffer | Uint8Array;
}

export interface CaseSpec {
  /** What was done, most specific last: ['model.graph.cycle'] or several for stacked mutations. */
  tags: string[];
  expect: Expect;
  request: FuzzRequest;
  /** The collection a 2xx adds a record to (checked against the listing at the end). */
  creates?: 'models' | 'datasets' | 'jobs';
  /** A few words for the failure report. */
  note?: string;
  /** For a 2xx: what the body must say (null when it does), e.g. a dataset's sample count. */
  check2xx?: (body: any) => string | null;
  /**
   * Requests sent after the first, in order, each with its own expectation; `sameId` / `differentId`
   * compare the id of a 2xx body with the first response's (Idempotency-Key replays).
   */
  then?: { request: FuzzRequest; expect: Expect; sameId?: boolean; differentId?: boolean }[];
}

export interface FuzzCase extends CaseSpec {
  id: string;
}

/** What a class's generator gets: the app's paths and whatever the class prepared. */
export interface FuzzContext {
  app: FastifyInstance;
  env: TestEnv;
  dataDir: string;
  /** A folder beside DATA_DIR that must stay empty: path-traversal names aim at it. */
  canaryDir: string;
  /** The ids made by the warm-up: a valid model, dataset and (queued) job. */
  ids: { model: string; dataset: string; job: string };
  /** The tiny MLP's files (fixtures.writeTinyModel). */
  tiny: { modelJson: Buffer; weights: Buffer };
  maxUploadBytes: number;
  /** Counts a record a class made itself (in prepare) for the end-of-class record check. */
  made(kind: 'models' | 'datasets' | 'jobs', id: string): void;
  /** Kills the test Redis (the harness's stop(); cleanup calling it again is harmless). */
  stopRedis(): Promise<void>;
}

export interface ClassSpec<B> {
  name: string;
  /** Cases at LOPPER_FUZZ_SCALE=1. */
  count: number;
  /** Extra environment for the app (over the fuzz defaults). */
  env?: Record<string, string>;
  /** Builds the class's material once (base models, ...); runs before the prober starts. */
  prepare?: (ctx: FuzzContext) => Promise<B>;
  generate: (rng: Rng, index: number, base: B, ctx: FuzzContext) => CaseSpec;
  /**
   * Runs instead of the generic loop (the Redis-down class drives its own sequence). It gets
   * `send`, which applies the same checks as the generic loop.
   */
  custom?: (ctx: FuzzContext, base: B, send: (c: FuzzCase) => Promise<void>) => Promise<void>;
  /** Whether the end-of-class record check applies (false when Redis is gone). */
  checkRecords?: boolean;
  /** The /healthz and event-loop bound of this class when it is not HEALTHZ_LIMIT_MS (see the class's file for why). */
  healthzLimitMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Settings

export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
export const RESPONSE_LIMIT_MS = 5000;
export const HEALTHZ_LIMIT_MS = 100;
export const PROBLEM_BODY_LIMIT = 4096;
const PROBE_EVERY_MS = 50;
/** A fresh event-loop-delay monitor records nothing until its first 10 ms tick: wait that out. */
const LOOP_WARMUP_MS = 25;

const envList = (name: string) =>
  (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const settings = {
  seed: Number(process.env.LOPPER_FUZZ_SEED ?? 1),
  scale: Number(process.env.LOPPER_FUZZ_SCALE ?? 1),
  classes: envList('LOPPER_FUZZ_CLASSES'),
  only: envList('LOPPER_FUZZ_CASE'),
  exclude: envList('LOPPER_FUZZ_EXCLUDE'),
  tags: envList('LOPPER_FUZZ_TAGS'),
  concurrency: Math.max(1, Number(process.env.LOPPER_FUZZ_CONCURRENCY ?? 2)),
  hangMs: Number(process.env.LOPPER_FUZZ_HANG_MS ?? 15000),
  rssMb: Number(process.env.LOPPER_FUZZ_RSS_MB ?? 600),
  report: process.env.LOPPER_FUZZ_REPORT,
  dump: process.env.LOPPER_FUZZ_DUMP,
};

export function classEnabled(name: string): boolean {
  if (settings.only.length) return settings.only.some((id) => id.split('#')[0] === name);
  return settings.classes.length === 0 || settings.classes.includes(name);
}

const excluded = (tags: string[]) =>
  tags.some((t) => settings.exclude.some((p) => t.startsWith(p))) ||
  (settings.tags.length > 0 && !tags.some((t) => settings.tags.some((p) => t.startsWith(p))));

export function reproLine(cls: string, ids: string[]): string {
  return `LOPPER_FUZZ_SEED=${settings.seed} LOPPER_FUZZ_CASE=${ids.join(',')} node --test dist/test/fuzz/${cls}.test.js`;
}

// ---------------------------------------------------------------------------------------------
// The healthz prober and the event-loop watchdog

interface ProbeStats {
  count: number;
  /** Slowest probe, less any overlap with a stall of the whole machine (see MachineMeter). */
  max: number;
  /** Slowest probe as measured. */
  maxRaw: number;
  samples: number[];
  worstAt: string;
}

/**
 * Milliseconds this process's main thread has spent runnable but waiting for a CPU (Linux
 * schedstat; 0 elsewhere). On a 2-core box shared with other test runs, that wait is the machine's
 * doing, not the API's: it is taken out of /healthz latencies and loop stalls before they are held
 * to the bound (both numbers are printed).
 */
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
function runqueueWaitMs(): number {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** Probes /healthz every 50 ms; latency counts from when the probe was due, so a blocked loop shows. */
class Prober {
  private timer: NodeJS.Timeout | null = null;
  private due = 0;
  private waitAtSchedule = 0;
  readonly stats: ProbeStats = { count: 0, max: 0, maxRaw: 0, samples: [], worstAt: '' };
  constructor(
    private app: FastifyInstance,
    private inFlight: () => string,
  ) {}

  /** Bumped by stop(): a probe that straddles a pause (case generation) is not a sample. */
  private epoch = 0;

  start() {
    if (this.timer) return;
    const tick = async () => {
      const due = this.due;
      const epoch = this.epoch;
      const fired = performance.now();
      const waitAtFire = runqueueWaitMs();
      const during = this.inFlight();
      let ok: boolean;
      try {
        const res = await this.app.inject({ method: 'GET', url: '/healthz' });
        ok = res.statusCode === 200;
      } catch {
        ok = false;
      }
      if (epoch !== this.epoch) return; // stopped meanwhile: the pause is not the API's latency
      const latency = performance.now() - due;
      // CPU waits while the request ran, and (at most the lateness) while the timer was due.
      const waited = runqueueWaitMs() - waitAtFire + Math.min(waitAtFire - this.waitAtSchedule, Math.max(0, fired - due));
      const own = ok ? latency - waited : Infinity;
      this.stats.count++;
      this.stats.samples.push(own);
      this.stats.maxRaw = Math.max(this.stats.maxRaw, ok ? latency : Infinity);
      if (own > this.stats.max || (!ok && this.stats.max !== Infinity)) {
        this.stats.max = own;
        this.stats.worstAt = during;
      }
      if (this.timer) this.schedule(tick);
    };
    this.schedule(tick);
  }

  private schedule(tick: () => void) {
    this.due = performance.now() + PROBE_EVERY_MS;
    this.waitAtSchedule = runqueueWaitMs();
    this.timer = setTimeout(tick, PROBE_EVERY_MS);
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.epoch++;
  }
}

/** Stalls of the event loop: how late a 10 ms timer came, with and without the CPU waits in it. */
class LoopStalls {
  private timer: NodeJS.Timeout | null = null;
  private prev = 0;
  private prevWait = 0;
  own = 0;
  raw = 0;
  start() {
    if (this.timer) return;
    this.prev = performance.now();
    this.prevWait = runqueueWaitMs();
    this.timer = setInterval(() => {
      const now = performance.now();
      const wait = runqueueWaitMs();
      const late = now - this.prev - 10;
      this.raw = Math.max(this.raw, late);
      this.own = Math.max(this.own, late - Math.min(late, wait - this.prevWait));
      this.prev = now;
      this.prevWait = wait;
    }, 10);
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * A worker thread that notices when the main thread's event loop stops turning (a topology tfjs
 * loops on forever, a quadratic regex, ...). A blocked loop cannot be recovered from inside, so it
 * prints the cases in flight with their repro line, kills the processes this one started (by pid:
 * redis-server, sandbox children), removes the temp DATA_DIR and kills this process: the file
 * fails instead of hanging the suite.
 */
class Watchdog {
  private beat = new Float64Array(new SharedArrayBuffer(8));
  private label = new Uint8Array(new SharedArrayBuffer(8192));
  private labelLen = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker;
  private timer: NodeJS.Timeout;

  constructor(cls: string, hangMs: number, dataDir: string) {
    this.beat[0] = Date.now();
    this.worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      workerData: {
        beat: this.beat.buffer,
        label: this.label.buffer,
        labelLen: this.labelLen.buffer,
        hangMs,
        dataDir,
        cls,
        seed: settings.seed,
      },
    });
    this.worker.unref();
    this.timer = setInterval(() => (this.beat[0] = Date.now()), 100);
    this.timer.unref();
  }

  setInFlight(text: string) {
    const bytes = new TextEncoder().encode(text.slice(0, 2000));
    this.label.set(bytes.subarray(0, this.label.length));
    Atomics.store(this.labelLen, 0, Math.min(bytes.length, this.label.length));
  }

  async stop() {
    clearInterval(this.timer);
    await this.worker.terminate();
  }
}

const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const beat = new Float64Array(workerData.beat);
const label = new Uint8Array(workerData.label);
const labelLen = new Int32Array(workerData.labelLen);
function descendants(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync('/proc/' + d + '/stat', 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out = [];
  const walk = (p) => { for (const [c, pp] of parent) if (pp === p) { out.push(c); walk(c); } };
  walk(root);
  return out;
}
setInterval(() => {
  const blocked = Date.now() - beat[0];
  if (blocked < workerData.hangMs) return;
  const inFlight = Buffer.from(label.subarray(0, Atomics.load(labelLen, 0))).toString('utf8');
  const ids = (inFlight.match(/[a-z-]+#\\d+/g) || []).join(',');
  fs.writeSync(2, '\\nFUZZ WATCHDOG: the event loop of the ' + workerData.cls + ' class has been blocked for ' + blocked +
    ' ms (limit ' + workerData.hangMs + ' ms). In flight: ' + inFlight + '\\n  repro: LOPPER_FUZZ_SEED=' + workerData.seed +
    ' LOPPER_FUZZ_CASE=' + ids + ' node --test dist/test/fuzz/' + workerData.cls + '.test.js\\n  (exclude with LOPPER_FUZZ_EXCLUDE=<tag>)\\n');
  try { for (const pid of descendants(process.pid).reverse()) { try { process.kill(pid, 'SIGKILL'); } catch {} } } catch {}
  try { fs.rmSync(workerData.dataDir, { recursive: true, force: true }); fs.rmSync(workerData.dataDir + '-canary', { recursive: true, force: true }); } catch {}
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

// ---------------------------------------------------------------------------------------------
// Checking one response

interface Outcome {
  id: string;
  tags: string[];
  note?: string;
  status: number | null;
  ms: number;
  problems: string[];
  detail?: string;
  /** Cases in flight when this one was sent (a slow neighbour can make this one late). */
  alongside?: string[];
}

interface Resp {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  rawPayload: Buffer;
}

function statusMatches(expect: Expect, s: number): boolean {
  switch (expect.kind) {
    case 'accept':
      return s >= 200 && s < 300;
    case 'reject':
      return s >= 400 && s < 500;
    case 'any':
      return s >= 200 && s < 500;
    case 'status':
      return expect.status.includes(s);
  }
}

const describeExpect = (e: Expect) =>
  e.kind === 'status'
    ? `status ${e.status.join('|')}${e.field ? ` naming field ${e.field}` : ''}`
    : { accept: '2xx', reject: '4xx', any: '2xx or 4xx' }[e.kind];

export function checkResponse(c: FuzzCase, res: Resp, ms: number): { problems: string[]; detail?: string; body?: any } {
  const problems: string[] = [];
  const s = res.statusCode;
  const allows5xx = c.expect.kind === 'status' && c.expect.status.some((x) => x >= 500);
  if (s >= 500 && !allows5xx) problems.push(`status ${s} (server error)`);
  if (ms > RESPONSE_LIMIT_MS) problems.push(`answered after ${Math.round(ms)} ms (limit ${RESPONSE_LIMIT_MS} ms)`);
  if (!statusMatches(c.expect, s)) problems.push(`status ${s}, expected ${describeExpect(c.expect)}`);
  let body: any;
  let detail: string | undefined;
  const type = String(res.headers['content-type'] ?? '');
  if (s >= 400) {
    if (!/^application\/problem\+json\b/.test(type)) problems.push(`content-type "${type}" is not application/problem+json`);
    if (c.request.method !== 'HEAD') {
      if (res.rawPayload.length >= PROBLEM_BODY_LIMIT)
        problems.push(`problem body is ${res.rawPayload.length} bytes (limit ${PROBLEM_BODY_LIMIT}: it echoes input)`);
      try {
        body = JSON.parse(res.body);
      } catch {
        problems.push(`error body is not JSON: ${JSON.stringify(res.body.slice(0, 80))}`);
      }
      if (body !== undefined) {
        detail = typeof body.detail === 'string' ? body.detail.slice(0, 300) : undefined;
        for (const k of ['type', 'title', 'detail', 'field']) {
          if (typeof body?.[k] !== 'string' || body[k] === '') problems.push(`problem lacks a string "${k}"`);
        }
        if (body?.status !== s) problems.push(`problem.status ${JSON.stringify(body?.status)} differs from HTTP ${s}`);
        if (c.expect.kind === 'status' && c.expect.field !== undefined && statusMatches(c.expect, s)) {
          const f = String(body?.field ?? '');
          const ok = typeof c.expect.field === 'string' ? f.toLowerCase() === c.expect.field.toLowerCase() : c.expect.field.test(f);
          if (!ok) problems.push(`problem.field is ${JSON.stringify(body?.field)}, expected ${String(c.expect.field)}`);
        }
      }
    }
  } else if (s >= 200 && s < 300 && type.startsWith('application/json')) {
    try {
      body = JSON.parse(res.body);
    } catch {
      problems.push('2xx body is not JSON');
    }
  }
  if (c.expect.kind === 'status' && c.expect.headers) {
    for (const h of c.expect.headers) if (res.headers[h] === undefined) problems.push(`no ${h} header`);
  }
  return { problems, detail, body };
}

// ---------------------------------------------------------------------------------------------
// Running a class

interface ClassResult {
  cls: string;
  cases: number;
  skipped: number;
  statuses: Record<string, number>;
  maxMs: number;
  maxCase: string;
  wallMs: number;
  outcomes: Outcome[];
  failures: Outcome[];
  created: { models: Set<string>; datasets: Set<string>; jobs: Set<string> };
  probe: ProbeStats;
  /** monitorEventLoopDelay over the measured stretches, as measured (reported). */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** The longest stall of the event loop, less the CPU waits in it (asserted), and as measured. */
  loopStall: { own: number; raw: number };
  /** Milliseconds the main thread waited for a CPU while measured (other processes' doing). */
  cpuWaitMs: number;
  warmup: { ms: number; loopDelayMaxMs: number };
  rssMb: number;
  heapMb: number;
  /** RSS of this process's descendants (redis-server, inspector children), reported only. */
  childrenRssMb: { mb: number; processes: number };
  protoBefore: string[];
  protoAfter: string[];
  leftInTmp: string[];
  leftInCanary: string[];
  records: { models: string[]; datasets: string[]; jobs: string[] } | null;
  stored: { models: string[]; datasets: string[] } | null;
}

async function listAll(app: FastifyInstance, path: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const res: { statusCode: number; body: string; json(): any } = await app.inject({
      method: 'GET',
      url: `${path}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    });
    assert.equal(res.statusCode, 200, `GET ${path}: ${res.body.slice(0, 300)}`);
    const j = res.json();
    ids.push(...j.items.map((x: { id: string }) => x.id));
    cursor = j.nextCursor;
    if (!cursor) break;
  }
  return ids;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

/** Total RSS of this process's descendants, from /proc (Linux; zero elsewhere). */
async function descendantsRssMb(): Promise<{ mb: number; processes: number }> {
  const parent = new Map<number, number>();
  for (const d of await readdirSafe('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const mine: number[] = [];
  const walkTree = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp === p) {
        mine.push(c);
        walkTree(c);
      }
    }
  };
  walkTree(process.pid);
  let kb = 0;
  for (const pid of mine) {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return { mb: kb / 1024, processes: mine.length };
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

function toBuffer(p: FuzzRequest['payload']): Buffer | string | undefined {
  if (p === undefined || typeof p === 'string' || Buffer.isBuffer(p)) return p;
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

// Node's HTTP server reads a socket at most 64 KiB at a time, each read its own I/O event, so no
// body reaches a parser in a larger piece; inject would hand over a whole body at once, which no
// client can do.
const SOCKET_READ_BYTES = 64 * 1024;

async function* socketReads(body: Buffer) {
  for (let at = 0; at < body.length; at += SOCKET_READ_BYTES) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    yield body.subarray(at, at + SOCKET_READ_BYTES);
  }
}

/** The payload as a socket delivers it, and the Content-Length inject would have set. */
function delivered(req: FuzzRequest): { payload: Buffer | string | Readable | undefined; headers: FuzzRequest['headers'] } {
  const body = toBuffer(req.payload);
  if (!Buffer.isBuffer(body) || body.length <= SOCKET_READ_BYTES) return { payload: body, headers: req.headers };
  const given = Object.keys(req.headers ?? {}).some((k) => ['content-length', 'transfer-encoding'].includes(k.toLowerCase()));
  const headers = given ? req.headers : { ...req.headers, 'content-length': String(body.length) };
  return { payload: Readable.from(socketReads(body), { objectMode: false }), headers };
}

async function dumpCase(c: FuzzCase) {
  if (!settings.dump) return;
  const dir = join(settings.dump, c.id.replace('#', '-'));
  await mkdir(dir, { recursive: true });
  const { payload, ...rest } = c.request;
  await writeFile(join(dir, 'request.json'), JSON.stringify({ ...rest, tags: c.tags, expect: c.expect, note: c.note }, null, 2));
  if (payload !== undefined) await writeFile(join(dir, 'payload.bin'), toBuffer(payload)!);
}

async function runClass<B>(spec: ClassSpec<B>): Promise<ClassResult> {
  const env = await testEnv({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), INSPECT_TIMEOUT_MS: '4000', LOG_LEVEL: 'silent', ...spec.env });
  const canaryDir = `${env.dataDir}-canary`;
  await mkdir(canaryDir);
  const watchdog = new Watchdog(spec.name, settings.hangMs, env.dataDir);
  const app = await buildApp({ config: env.config, logger: false });
  const inFlight = new Map<string, string>();
  const inFlightText = () => [...inFlight.entries()].map(([id, t]) => `${id} [${t}]`).join('; ');
  const prober = new Prober(app, inFlightText);
  // Event-loop delay, measured only while requests run. A disabled-then-enabled monitor counts the
  // pause as one long delay, so each measured stretch gets a fresh monitor; the stretches' max and
  // (as an upper bound) their largest p99 are kept.
  const loopAll = { max: 0, p99: 0, count: 0 };
  let loopNow: IntervalHistogram | null = null;
  const stalls = new LoopStalls();
  let waitFrom = 0;
  const loop = {
    enable() {
      stalls.start();
      waitFrom = runqueueWaitMs();
      if (loopNow) return;
      loopNow = monitorEventLoopDelay({ resolution: 10 });
      loopNow.enable();
    },
    disable() {
      if (loopNow) result.cpuWaitMs += runqueueWaitMs() - waitFrom;
      stalls.stop();
      if (!loopNow) return;
      loopNow.disable();
      if (loopNow.count > 0) {
        loopAll.max = Math.max(loopAll.max, loopNow.max);
        loopAll.p99 = Math.max(loopAll.p99, loopNow.percentile(99));
        loopAll.count += loopNow.count;
      }
      loopNow = null;
    },
  };
  const t0 = performance.now();
  const result: ClassResult = {
    cls: spec.name,
    cases: 0,
    skipped: 0,
    statuses: {},
    maxMs: 0,
    maxCase: '',
    wallMs: 0,
    outcomes: [],
    failures: [],
    created: { models: new Set(), datasets: new Set(), jobs: new Set() },
    probe: prober.stats,
    loopStall: { own: 0, raw: 0 },
    cpuWaitMs: 0,
    loopDelayMaxMs: 0,
    loopDelayP99Ms: 0,
    warmup: { ms: 0, loopDelayMaxMs: 0 },
    rssMb: 0,
    heapMb: 0,
    childrenRssMb: { mb: 0, processes: 0 },
    protoBefore: Object.getOwnPropertyNames(Object.prototype).sort(),
    protoAfter: [],
    leftInTmp: [],
    leftInCanary: [],
    records: null,
    stored: null,
  };
  try {
    // Warm-up: the first upload loads TensorFlow.js and its wasm backend, the first job the
    // inspection module; they are measured (printed) but not held to the probe limit.
    const warmLoop = monitorEventLoopDelay({ resolution: 10 });
    warmLoop.enable();
    const w0 = performance.now();
    const tiny = await writeTinyModel(join(env.dataDir, '..', `${basename(env.dataDir)}-fixture`));
    await rm(join(env.dataDir, '..', `${basename(env.dataDir)}-fixture`), { recursive: true, force: true });
    const up = (url: string, parts: Parameters<typeof multipart>[0]) => {
      const body = multipart(parts);
      return app.inject({ method: 'POST', url, payload: body.payload, headers: body.headers });
    };
    const m = await up('/v1/models', modelParts(tiny));
    assert.equal(m.statusCode, 201, `warm-up model upload: ${m.body}`);
    const d = await up('/v1/datasets', [{ field: 'file', filename: 'train.npz', content: datasetNpz(64) }]);
    assert.equal(d.statusCode, 201, `warm-up dataset upload: ${d.body}`);
    const j = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { modelId: m.json().id, datasetId: d.json().id, pruning: { ratio: 0.5, calibrationSamples: 32 }, fineTune: { epochs: 1 } },
    });
    assert.equal(j.statusCode, 202, `warm-up job: ${j.body}`);
    warmLoop.disable();
    result.warmup = { ms: performance.now() - w0, loopDelayMaxMs: warmLoop.max / 1e6 };
    result.created.models.add(m.json().id);
    result.created.datasets.add(d.json().id);
    result.created.jobs.add(j.json().id);

    const ctx: FuzzContext = {
      app,
      env,
      dataDir: env.dataDir,
      canaryDir,
      ids: { model: m.json().id, dataset: d.json().id, job: j.json().id },
      tiny,
      maxUploadBytes: MAX_UPLOAD_BYTES,
      made: (kind, id) => void result.created[kind].add(id),
      stopRedis: () => env.redis.stop(),
    };
    const base = spec.prepare ? await spec.prepare(ctx) : (undefined as B);

    /** One request with the response deadline; null response and an error when none came. */
    const exchange = async (req: FuzzRequest): Promise<{ res: Resp | null; error: string | null; ms: number }> => {
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([
          app.inject({ method: req.method as 'GET', url: req.url, ...delivered(req) }),
          new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), RESPONSE_LIMIT_MS + 1000))),
        ]);
        const ms = performance.now() - start;
        if (r === 'timeout') return { res: null, error: `no response within ${RESPONSE_LIMIT_MS + 1000} ms`, ms };
        return { res: { statusCode: r.statusCode, headers: r.headers, body: r.body, rawPayload: r.rawPayload }, error: null, ms };
      } catch (e) {
        return { res: null, error: `inject failed: ${(e as Error).message}`, ms: performance.now() - start };
      } finally {
        clearTimeout(timer);
      }
    };

    const send = async (c: FuzzCase) => {
      const alongside = [...inFlight.keys()];
      inFlight.set(c.id, c.tags.join('+'));
      watchdog.setInFlight(inFlightText());
      const outcome: Outcome = { id: c.id, tags: c.tags, note: c.note, status: null, ms: 0, problems: [], alongside };
      const steps: { request: FuzzRequest; expect: Expect; sameId?: boolean; differentId?: boolean }[] = [
        { request: c.request, expect: c.expect },
        ...(c.then ?? []),
      ];
      let firstId: string | undefined;
      try {
        for (const [k, step] of steps.entries()) {
          const { res, error, ms } = await exchange(step.request);
          const label = steps.length > 1 ? `request ${k + 1}: ` : '';
          result.cases += k === 0 ? 1 : 0;
          const key = res ? String(res.statusCode) : 'none';
          result.statuses[key] = (result.statuses[key] ?? 0) + 1;
          if (ms > result.maxMs) {
            result.maxMs = ms;
            result.maxCase = c.id;
          }
          outcome.ms = Math.max(outcome.ms, Math.round(ms));
          if (k === 0) outcome.status = res?.statusCode ?? null;
          if (error) {
            outcome.problems.push(label + error);
            break;
          }
          const checked = checkResponse({ ...c, request: step.request, expect: step.expect }, res!, ms);
          outcome.problems.push(...checked.problems.map((p) => label + p));
          outcome.detail ??= checked.detail;
          const ok2xx = res!.statusCode >= 200 && res!.statusCode < 300;
          const id = typeof checked.body?.id === 'string' ? (checked.body.id as string) : undefined;
          if (ok2xx && c.creates && id) result.created[c.creates].add(id);
          if (ok2xx && k === 0 && c.check2xx) {
            const wrong = c.check2xx(checked.body);
            if (wrong) outcome.problems.push(`2xx body: ${wrong}`);
          }
          if (k === 0) firstId = id;
          else if (step.sameId && ok2xx && id !== firstId)
            outcome.problems.push(`${label}id ${id} differs from the first response's ${firstId}`);
          else if (step.differentId && ok2xx && id === firstId) outcome.problems.push(`${label}got the first response's id ${id} again`);
        }
      } finally {
        inFlight.delete(c.id);
        watchdog.setInFlight(inFlightText());
      }
      result.outcomes.push(outcome);
      if (outcome.problems.length) {
        result.failures.push(outcome);
        await dumpCase(c);
      }
    };

    loop.enable();
    prober.start();
    await new Promise((r) => setTimeout(r, LOOP_WARMUP_MS));
    if (spec.custom) {
      await spec.custom(ctx, base, send);
    } else {
      const total = Math.max(1, Math.round(spec.count * settings.scale));
      const indices = settings.only.length
        ? settings.only.filter((id) => id.split('#')[0] === spec.name).map((id) => Number(id.split('#')[1]))
        : Array.from({ length: total }, (_, i) => i);
      // Cases are built in chunks with the prober paused and nothing in flight, so building a
      // large payload is never counted as the API's latency.
      const CHUNK = 32;
      for (let from = 0; from < indices.length; from += CHUNK) {
        prober.stop();
        loop.disable();
        const chunk: FuzzCase[] = [];
        for (const i of indices.slice(from, from + CHUNK)) {
          let c: FuzzCase;
          try {
            c = { id: `${spec.name}#${i}`, ...spec.generate(Rng.forCase(settings.seed, spec.name, i), i, base, ctx) };
          } catch (e) {
            throw new Error(`the generator of ${spec.name}#${i} failed: ${(e as Error).stack}`, { cause: e });
          }
          if (excluded(c.tags)) result.skipped++;
          else chunk.push(c);
        }
        // libuv's clock is stale after a long synchronous stretch: let it tick before measuring,
        // or the first event-loop-delay sample counts the generation as the API's delay. Then let
        // the fresh monitor take its first sample (it records deltas from there on), or a block in
        // the chunk's first request would go unseen.
        await new Promise((r) => setTimeout(r, 1));
        loop.enable();
        prober.start();
        await new Promise((r) => setTimeout(r, LOOP_WARMUP_MS));
        let next = 0;
        const lane = async () => {
          while (next < chunk.length) {
            const c = chunk[next];
            chunk[next++] = undefined as unknown as FuzzCase; // let the payload go once sent
            await send(c);
          }
        };
        await Promise.all(Array.from({ length: settings.concurrency }, lane));
      }
    }
    // One last probe round after the load, then stop measuring.
    await new Promise((r) => setTimeout(r, 3 * PROBE_EVERY_MS));
    prober.stop();
    loop.disable();
    result.loopStall = { own: stalls.own, raw: stalls.raw };
    result.loopDelayMaxMs = loopAll.count ? loopAll.max / 1e6 : 0;
    result.loopDelayP99Ms = loopAll.p99 / 1e6;
    result.wallMs = performance.now() - t0;

    // End state.
    result.leftInTmp = await walk(join(env.dataDir, 'tmp'));
    result.leftInCanary = await walk(canaryDir);
    if (spec.checkRecords !== false) {
      result.records = {
        models: await listAll(app, '/v1/models'),
        datasets: await listAll(app, '/v1/datasets'),
        jobs: await listAll(app, '/v1/jobs'),
      };
      result.stored = {
        models: await readdirSafe(join(env.dataDir, 'models')),
        datasets: await readdirSafe(join(env.dataDir, 'datasets')),
      };
    }
    result.protoAfter = Object.getOwnPropertyNames(Object.prototype).sort();
    result.childrenRssMb = await descendantsRssMb();
    global.gc?.();
    const mem = process.memoryUsage();
    result.rssMb = mem.rss / 2 ** 20;
    result.heapMb = mem.heapUsed / 2 ** 20;
    return result;
  } finally {
    prober.stop();
    loop.disable();
    // Close with a deadline: a class may leave Redis unreachable.
    let closeTimer: NodeJS.Timeout | undefined;
    await Promise.race([app.close(), new Promise((r) => (closeTimer = setTimeout(r, 5000)))]).catch(() => undefined);
    clearTimeout(closeTimer);
    app.lopper?.redis.disconnect();
    await watchdog.stop();
    await env.cleanup();
    await rm(canaryDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

const pct = (xs: number[], p: number) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

function summaryLines(r: ClassResult): string[] {
  const ms = r.outcomes.map((o) => o.ms);
  const histogram = Object.entries(r.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  const byTag = new Map<string, number>();
  for (const o of r.outcomes) for (const t of new Set(o.tags)) byTag.set(t, (byTag.get(t) ?? 0) + 1);
  return [
    `class ${r.cls}: ${r.cases} cases (${r.skipped} excluded) in ${(r.wallMs / 1000).toFixed(1)} s, seed ${settings.seed}, scale ${settings.scale}, concurrency ${settings.concurrency}`,
    `  statuses ${histogram}`,
    `  latency p50 ${pct(ms, 50)} ms, p99 ${pct(ms, 99)} ms, max ${Math.round(r.maxMs)} ms (${r.maxCase})`,
    `  /healthz: ${r.probe.count} probes, max ${r.probe.max === Infinity ? 'FAILED' : `${r.probe.max.toFixed(1)} ms`} less CPU waits (${r.probe.maxRaw.toFixed(1)} ms measured), p99 ${pct(r.probe.samples, 99).toFixed(1)} ms${r.probe.worstAt ? ` (worst during ${r.probe.worstAt.slice(0, 200)})` : ''}`,
    `  event-loop stall max ${r.loopStall.own.toFixed(1)} ms less CPU waits (${r.loopStall.raw.toFixed(1)} ms measured); the main thread waited ${Math.round(r.cpuWaitMs)} ms in all for a CPU (other processes, the inspector children included)`,
    `  monitorEventLoopDelay max ${r.loopDelayMaxMs.toFixed(1)} ms, p99 ≤ ${r.loopDelayP99Ms.toFixed(1)} ms (as measured); warm-up ${Math.round(r.warmup.ms)} ms with loop delay max ${r.warmup.loopDelayMaxMs.toFixed(1)} ms (not asserted)`,
    `  rss ${r.rssMb.toFixed(0)} MB (bound ${settings.rssMb} MB), heap ${r.heapMb.toFixed(0)} MB; child processes ${r.childrenRssMb.mb.toFixed(0)} MB in ${r.childrenRssMb.processes} (not asserted)`,
    `  failures ${r.failures.length}`,
    `  most time: ${timeByTag(r)}`,
    `  tags: ${[...byTag.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([t, n]) => `${t}=${n}`)
      .join(' ')}`,
  ];
}

/** The tags that took the most request time in all (where a class spends its minutes). */
function timeByTag(r: ClassResult): string {
  const sum = new Map<string, { ms: number; n: number }>();
  for (const o of r.outcomes) {
    const t = o.tags[0];
    const e = sum.get(t) ?? { ms: 0, n: 0 };
    e.ms += o.ms;
    e.n++;
    sum.set(t, e);
  }
  return [...sum.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 6)
    .map(([t, e]) => `${t} ${(e.ms / 1000).toFixed(1)} s/${e.n}`)
    .join(', ');
}

/** Failures grouped by their most specific tag: count, an example, and the repro line. */
function failureReport(r: ClassResult, limit = 60): string {
  const groups = new Map<string, Outcome[]>();
  for (const f of r.failures) {
    const key = `${f.tags.join('+')} → ${f.problems.map((p) => p.replace(/\d+ ms/g, 'N ms').replace(/\d+ bytes/g, 'N bytes')).join('; ')}`;
    const list = groups.get(key) ?? [];
    list.push(f);
    groups.set(key, list);
  }
  const lines = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, limit)
    .map(([key, list]) => {
      const ex = list[0];
      const late = ex.problems.some((p) => p.startsWith('answered after') || p.startsWith('no response'));
      const withOthers = late && ex.alongside?.length ? `, sent while ${ex.alongside.join(', ')} ran` : '';
      return `  ${list.length}× ${key}\n      e.g. ${ex.id} (status ${ex.status}, ${ex.ms} ms${withOthers}${ex.note ? `, ${ex.note}` : ''})${ex.detail ? `: ${JSON.stringify(ex.detail.slice(0, 160))}` : ''}\n      repro: ${reproLine(
        r.cls,
        list.slice(0, 3).map((o) => o.id),
      )}`;
    });
  if (groups.size > limit) lines.push(`  ... and ${groups.size - limit} more groups (LOPPER_FUZZ_REPORT=dir for all)`);
  return `${r.failures.length} of ${r.cases} cases broke the contract:\n${lines.join('\n')}`;
}

async function writeReport(r: ClassResult) {
  if (!settings.report) return;
  await mkdir(settings.report, { recursive: true });
  const { outcomes, created, ...rest } = r;
  await writeFile(
    join(settings.report, `${r.cls}.json`),
    JSON.stringify(
      {
        ...rest,
        created: { models: created.models.size, datasets: created.datasets.size, jobs: created.jobs.size },
        slow: outcomes.filter((o) => o.ms > 1000).map(({ id, tags, ms, status: s, alongside }) => ({ id, tags, ms, status: s, alongside })),
        summary: summaryLines(r),
        probe: { ...r.probe, samples: undefined, p99: pct(r.probe.samples, 99) },
      },
      (_k, v) => (v === Infinity ? 'Infinity' : v),
      2,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// The node:test suite of one class

export function fuzzClass<B>(spec: ClassSpec<B>): void {
  const enabled = classEnabled(spec.name);
  describe(`fuzz ${spec.name}`, { skip: enabled ? false : `not in LOPPER_FUZZ_CLASSES` }, () => {
    let r: ClassResult;
    before(async () => {
      r = await runClass(spec);
      for (const line of summaryLines(r)) console.log(line);
      await writeReport(r);
    });
    after(() => undefined);

    test('every response: < 500, within 5 s, as expected, problem+json (type, title, status, detail, field; < 4 KiB) on errors', (t) => {
      for (const line of summaryLines(r)) t.diagnostic(line);
      assert.ok(r.cases > 0, 'no case ran');
      assert.equal(r.failures.length, 0, failureReport(r));
    });

    const healthzLimit = spec.healthzLimitMs ?? HEALTHZ_LIMIT_MS;
    test(`GET /healthz answers within ${healthzLimit} ms throughout, and the event loop never stalls ${healthzLimit} ms`, () => {
      assert.ok(r.probe.count > 0, 'the prober never ran');
      assert.ok(
        r.probe.max < healthzLimit,
        `slowest /healthz ${r.probe.max === Infinity ? 'failed' : `${r.probe.max.toFixed(1)} ms`} (p99 ${pct(r.probe.samples, 99).toFixed(1)} ms) while in flight: ${r.probe.worstAt.slice(0, 500)}`,
      );
      assert.ok(
        r.loopStall.own < healthzLimit,
        `the event loop stalled ${r.loopStall.own.toFixed(1)} ms besides waiting for a CPU (${r.loopStall.raw.toFixed(1)} ms measured; monitorEventLoopDelay max ${r.loopDelayMaxMs.toFixed(1)} ms)`,
      );
    });

    test(`process RSS at the end is below ${settings.rssMb} MB`, () => {
      assert.ok(r.rssMb < settings.rssMb, `rss ${r.rssMb.toFixed(0)} MB`);
    });

    test('DATA_DIR/tmp is empty and nothing was written outside DATA_DIR; Object.prototype is untouched', () => {
      assert.deepEqual(r.leftInTmp, [], 'left in DATA_DIR/tmp');
      assert.deepEqual(r.leftInCanary, [], `written into the canary folder beside DATA_DIR (${dirname(r.leftInCanary[0] ?? '')})`);
      assert.deepEqual(r.protoAfter, r.protoBefore, 'Object.prototype gained properties');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype.polluted is set');
    });

    if (spec.checkRecords !== false) {
      test('exactly one record (and one stored folder) per 2xx; none from rejected requests', () => {
        const rec = r.records!;
        for (const kind of ['models', 'datasets', 'jobs'] as const) {
          const listed = new Set(rec[kind]);
          const made = r.created[kind];
          assert.equal(listed.size, rec[kind].length, `${kind}: the listing repeats ids`);
          const extra = [...listed].filter((id) => !made.has(id));
          const missing = [...made].filter((id) => !listed.has(id));
          assert.deepEqual(extra, [], `${kind}: records no 2xx announced`);
          assert.deepEqual(missing, [], `${kind}: 2xx ids missing from the listing`);
        }
        assert.deepEqual(new Set(r.stored!.models), new Set(rec.models), 'DATA_DIR/models folders differ from the records');
        assert.deepEqual(new Set(r.stored!.datasets), new Set(rec.datasets), 'DATA_DIR/datasets folders differ from the records');
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers for generators

/** A multipart upload request of `parts` (fixtures.multipart), to `url`. */
export function uploadRequest(url: string, parts: Parameters<typeof multipart>[0], extraHeaders: Record<string, string> = {}): FuzzRequest {
  const body = multipart(parts);
  return { method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...extraHeaders } };
}
