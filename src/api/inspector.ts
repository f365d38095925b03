// The sandbox for untrusted uploads. Everything that parses or builds an uploaded model or reads an
// uploaded dataset runs in a child process (workers/inspector.ts), never on the API's event loop:
// each task has a wall-clock deadline, the child a V8 heap cap (--max-old-space-size) and a
// resident-memory cap watched from here (it also covers wasm and tensor memory, which the heap cap
// does not). A child that overran either, crashed or hung is killed and never reused; the upload
// gets a 422 naming the file. At most `concurrency` children run; idle ones are kept warm a while.
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PARENT_PID_ENV } from '../orphan-watchdog.js';
import { ApiError, fromWire, InputError, type WireError } from '../errors.js';

/** Limits handed to the child with every task (see src/io/topology-check.ts, src/io/npz-stream.ts). */
export interface InspectLimits {
  maxParams: number;
  maxLayers: number;
  maxDepth: number;
  maxUnzippedBytes: number;
  maxCompressionRatio: number;
}

export type InspectTask =
  /** `files`: basename → path; the topology is under "model.json". */
  | { kind: 'model'; files: Record<string, string>; limits: InspectLimits }
  /** A model .zip, unpacked into `dir` (empty) by the child, then inspected like uploaded files. */
  | { kind: 'model-zip'; zip: string; dir: string; field: string; limits: InspectLimits }
  | { kind: 'dataset'; path: string; field: string; limits: InspectLimits };

/** What the child answers: a summary, or the InputError (or other failure) it hit. */
export type InspectReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };

export interface InspectorOptions {
  concurrency: number;
  timeoutMs: number;
  memoryMb: number;
  /** Environment of the children (LOG_LEVEL and the like); no secrets are needed there. */
  env?: NodeJS.ProcessEnv;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Child script; the default is the compiled workers/inspector.js. */
  script?: string;
}

const IDLE_MS = 60_000; // an idle child holds tfjs and wasm memory (~150 MB): give it back after this
const MAX_TASKS = 200; // a child is replaced after this many tasks, so slow leaks cannot add up
const MEMORY_POLL_MS = 100;
const READY_TIMEOUT_MS = 60_000;
const MAX_WAITING_PER_CHILD = 16;

const defaultScript = () => fileURLToPath(new URL('../../workers/inspector.js', import.meta.url));

/** Resident set size of a process in bytes, from /proc (Linux); null where it cannot be read. */
async function residentBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

class Sandbox {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  tasks = 0;
  idleTimer: NodeJS.Timeout | null = null;
  /** The last output of the child, for the log when it dies. */
  output = '';
  private killed = false;
  private nextId = 1;

  constructor(script: string, opts: InspectorOptions) {
    this.child = fork(script, [], {
      env: { ...(opts.env ?? process.env), [PARENT_PID_ENV]: String(process.pid) },
      execArgv: [`--max-old-space-size=${opts.memoryMb}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4096);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`inspector did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.kill();
        reject(err);
      };
      this.child.once('message', (m: { ready?: boolean }) => {
        clearTimeout(timer);
        if (m?.ready) resolve();
        else fail(new Error('inspector sent no ready message'));
      });
      this.child.once('exit', (code, signal) =>
        fail(new Error(`inspector exited while starting (${signal ?? code}): ${this.output.trim()}`)),
      );
      this.child.once('error', fail);
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
  }

  get alive(): boolean {
    return !this.killed && this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
    this.killed = true;
  }

  /** Runs one task; the promise settles on the answer, a deadline, a memory overrun or the child's death. */
  run(task: InspectTask, field: string, opts: InspectorOptions): Promise<unknown> {
    const id = this.nextId++;
    this.tasks++;
    const capBytes = opts.memoryMb * 1024 * 1024;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearInterval(poll);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(value);
      };
      const blame = (why: string) => {
        this.kill();
        finish(new InputError(field, `${field}: ${why}; the file cannot be inspected safely`));
      };
      const deadline = setTimeout(() => blame(`inspection did not finish within ${opts.timeoutMs} ms`), opts.timeoutMs);
      const poll = setInterval(async () => {
        const rss = await residentBytes(this.child.pid!);
        if (rss !== null && rss > capBytes) blame(`inspection needed more than ${opts.memoryMb} MB of memory`);
      }, MEMORY_POLL_MS);
      const onMessage = (m: InspectReply) => {
        if (m.id !== id) return;
        if (m.ok) return finish(null, m.result);
        // Anything but an InputError is Lopper's fault, not the upload's: a 500 with the details in the log.
        finish(m.error.input ? fromWire(m.error) : new Error(`inspector failed: ${m.error.message}`));
      };
      const onExit = (code: number | null, signal: string | null) => {
        opts.log?.warn({ code, signal, output: this.output.slice(-1024) }, 'inspector died during a task');
        // A V8 heap overrun aborts the process; so does anything else a hostile file provokes.
        blame(`inspection stopped (${signal ?? `exit code ${code}`}), most likely out of memory`);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send({ id, task });
    });
  }
}

export class InspectorPool {
  private readonly idle: Sandbox[] = [];
  private readonly all = new Set<Sandbox>();
  private readonly waiting: ((s: Sandbox | Error) => void)[] = [];
  private closed = false;
  private readonly script: string;

  constructor(private readonly opts: InspectorOptions) {
    this.script = opts.script ?? defaultScript();
  }

  /** Inspects an uploaded model; `files` maps basenames to paths (the topology under "model.json"). */
  inspectModel<T>(files: Record<string, string>, limits: InspectLimits): Promise<T> {
    return this.run({ kind: 'model', files, limits }, 'model.json') as Promise<T>;
  }

  inspectModelZip<T>(zip: string, dir: string, field: string, limits: InspectLimits): Promise<T> {
    return this.run({ kind: 'model-zip', zip, dir, field, limits }, field) as Promise<T>;
  }

  inspectDataset<T>(path: string, field: string, limits: InspectLimits): Promise<T> {
    return this.run({ kind: 'dataset', path, field, limits }, field) as Promise<T>;
  }

  private async run(task: InspectTask, field: string): Promise<unknown> {
    const sandbox = await this.acquire();
    let healthy = false;
    try {
      const result = await sandbox.run(task, field, this.opts);
      healthy = true;
      return result;
    } catch (err) {
      // An InputError from the child itself leaves the child intact; any kill does not.
      healthy = err instanceof InputError && sandbox.alive;
      throw err;
    } finally {
      await this.release(sandbox, healthy);
    }
  }

  private async acquire(): Promise<Sandbox> {
    if (this.closed) throw new Error('the inspector pool is closed');
    const idle = this.idle.pop();
    if (idle) {
      if (idle.idleTimer) clearTimeout(idle.idleTimer);
      return idle;
    }
    if (this.all.size < this.opts.concurrency) {
      const sandbox = new Sandbox(this.script, this.opts);
      this.all.add(sandbox);
      sandbox.child.once('exit', () => this.forget(sandbox));
      await sandbox.ready;
      return sandbox;
    }
    if (this.waiting.length >= MAX_WAITING_PER_CHILD * this.opts.concurrency) {
      throw new ApiError('service-unavailable', 503, 'too many uploads are being inspected; try again shortly', 'body', {
        'retry-after': '5',
      });
    }
    const got = await new Promise<Sandbox | Error>((resolve) => this.waiting.push(resolve));
    if (got instanceof Error) throw got;
    return got;
  }

  private async release(sandbox: Sandbox, healthy: boolean): Promise<void> {
    const rss = healthy ? await residentBytes(sandbox.child.pid!) : null;
    // wasm memory never shrinks: a child that grew large for one model is replaced, not kept.
    const bloated = rss !== null && rss > (this.opts.memoryMb * 1024 * 1024) / 2;
    if (!healthy || bloated || sandbox.tasks >= MAX_TASKS || this.closed) {
      sandbox.kill();
      this.forget(sandbox);
    } else {
      this.handOn(sandbox);
    }
  }

  /** Gives a usable child to the next waiting task, or parks it as idle. */
  private handOn(sandbox: Sandbox): void {
    const next = this.waiting.shift();
    if (next) return next(sandbox);
    sandbox.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(sandbox);
      if (i >= 0) this.idle.splice(i, 1);
      sandbox.kill();
    }, IDLE_MS);
    sandbox.idleTimer.unref();
    this.idle.push(sandbox);
  }

  /** A child is gone: if tasks wait, start a replacement for the first of them. */
  private forget(sandbox: Sandbox): void {
    if (!this.all.delete(sandbox)) return;
    const i = this.idle.indexOf(sandbox);
    if (i >= 0) this.idle.splice(i, 1);
    if (sandbox.idleTimer) clearTimeout(sandbox.idleTimer);
    const next = this.waiting.shift();
    if (!next || this.closed) return;
    const fresh = new Sandbox(this.script, this.opts);
    this.all.add(fresh);
    fresh.child.once('exit', () => this.forget(fresh));
    fresh.ready.then(
      () => next(fresh),
      (err: Error) => next(err),
    );
  }

  /** Number of live children (for tests and metrics). */
  get size(): number {
    return this.all.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.waiting.splice(0)) resolve(new Error('the inspector pool is closed'));
    const running = (s: Sandbox) => s.child.exitCode === null && s.child.signalCode === null;
    const exits = [...this.all].map((s) => (running(s) ? new Promise((r) => s.child.once('exit', r)) : null));
    for (const s of this.all) s.kill();
    await Promise.all(exits);
  }
}
