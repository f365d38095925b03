// Removes what crashed processes left in DATA_DIR/tmp (partial uploads of a SIGKILLed API, scratch
// folders of killed jobs). The API and every worker sweep at start and then periodically. An entry
// stays while a live request of this process writes it, while it has changed within the grace
// period (another process on the shared volume may be writing it: live uploads are never idle for
// long, slow ones are cut off), or, for a job's scratch folder `job-<id>` and its checkpoint
// `ckpt-<id>`, while that job is queued or active in Redis (training may leave them untouched for
// hours, and a checkpoint waits for the job's retry).
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface SweepOptions {
  tmpDir: string;
  graceMs: number;
  /** Entries (basenames) this process is using now. */
  isOwned(name: string): boolean;
  /** Whether job `id` may still be running somewhere; rejects when that cannot be known. */
  isLiveJob(id: string): Promise<boolean>;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

// Enough to see that a folder is in use without walking a pathological tree for long.
const MAX_ENTRIES_WALKED = 10_000;

/** The newest mtime under `path` (symlinks not followed), in ms. */
async function lastChange(path: string): Promise<number> {
  let newest = 0;
  let walked = 0;
  const stack = [path];
  while (stack.length && walked < MAX_ENTRIES_WALKED) {
    const p = stack.pop()!;
    walked++;
    const s = await lstat(p).catch(() => null);
    if (!s) continue;
    newest = Math.max(newest, s.mtimeMs);
    if (s.isDirectory()) {
      for (const name of await readdir(p).catch(() => [] as string[])) stack.push(join(p, name));
    }
  }
  // A tree too big to walk whole is treated as in use this time round.
  return walked >= MAX_ENTRIES_WALKED ? Date.now() : newest;
}

/** One sweep; returns the basenames removed. */
export async function sweepTmp(opts: SweepOptions): Promise<string[]> {
  const names = await readdir(opts.tmpDir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (opts.isOwned(name)) continue;
    const path = join(opts.tmpDir, name);
    if (Date.now() - (await lastChange(path)) < opts.graceMs) continue;
    const job = /^(?:job|ckpt)-([A-Za-z0-9_-]{1,64})$/.exec(name)?.[1];
    if (job) {
      const live = await opts.isLiveJob(job).catch((err: Error) => {
        opts.log?.warn({ err: err.message, entry: name }, 'tmp sweep: cannot tell whether the job is live; kept');
        return true;
      });
      if (live) continue;
    }
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length) opts.log?.info({ removed }, 'tmp sweep removed leftovers');
  return removed;
}

export interface Sweeper {
  /** Runs a sweep now (one at a time); resolves with what it removed. */
  sweep(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Sweeps now and then every `intervalMs` until stopped. */
export function startSweeper(opts: SweepOptions & { intervalMs: number }): Sweeper {
  let running: Promise<string[]> | null = null;
  const sweep = () =>
    (running ??= sweepTmp(opts)
      .catch((err: Error) => {
        opts.log?.warn({ err: err.message }, 'tmp sweep failed');
        return [] as string[];
      })
      .finally(() => {
        running = null;
      }));
  void sweep();
  const timer = setInterval(() => void sweep(), opts.intervalMs);
  timer.unref();
  return {
    sweep,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
