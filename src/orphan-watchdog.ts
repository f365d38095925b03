// A forked child whose parent is SIGKILLed is reparented and nobody will stop it. A watchdog
// thread runs even while the main thread is stuck (a hostile model's loop, a long tfjs kernel, a
// GC storm) and kills the process once it has been orphaned, within half a second. The parent
// names itself in LOPPER_PARENT_PID when it forks: a parent killed before this code even runs
// would otherwise leave a child that takes its new parent (init) for the real one.
import { Worker } from 'node:worker_threads';

export const PARENT_PID_ENV = 'LOPPER_PARENT_PID';

export function exitWhenOrphaned(): void {
  const parent = Number(process.env[PARENT_PID_ENV]) || process.ppid;
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  new Worker(`setInterval(() => { if (process.ppid !== ${parent}) process.kill(process.pid, 'SIGKILL'); }, 500);`, { eval: true }).unref();
}
