// What the worker (job-runner.ts) and the job's own child process (processor.ts) say to each other
// over IPC. The child runs the pipeline and keeps the record in step with it; how an attempt ended
// is its last message. A child that exits without one died (signal, OOM, crash).
import { join } from 'node:path';
import type { Problem } from '../src/errors.js';
import type { JobRequest } from '../src/queue/payload.js';

export type ToChild = { cmd: 'run'; id: string; data: JobRequest } | { cmd: 'abort'; reason: string };

export type Outcome =
  /** The record says completed, with its artifacts. */
  | { kind: 'completed' }
  /** The input is at fault (a 4xx problem); the record says failed. Never retried. */
  | { kind: 'failed'; detail: string }
  /** The record says cancelled. */
  | { kind: 'cancelled' }
  /** Aborted for a worker shutdown; the record is back to queued, for another worker. */
  | { kind: 'released' }
  /** Something broke on our side; the record is untouched and the worker decides on a retry. */
  | { kind: 'error'; error: Problem }
  /** The record is not runnable (finished meanwhile, or gone). */
  | { kind: 'gone'; detail: string };

export type FromChild = { cmd: 'progress'; value: object } | { cmd: 'outcome'; outcome: Outcome };

/** An attempt's scratch space (each attempt starts it afresh) and the job's fine-tuning checkpoint
 * (kept across attempts until the job ends), both under DATA_DIR/tmp so the sweeper knows them. */
export const scratchDir = (dataDir: string, id: string) => join(dataDir, 'tmp', `job-${id}`);
export const checkpointDir = (dataDir: string, id: string) => join(dataDir, 'tmp', `ckpt-${id}`);
