// A forked child whose parent is SIGKILLed is reparented and nobody will stop it. A watchdog
// thread runs even while the main thread is stuck (a hostile model's loop, a long tfjs kernel, a
// GC storm) and kills the process once it has been orphaned, within half a second.
import { Worker } from 'node:worker_threads';

export function exitWhenOrphaned(): void {
  const parent = process.ppid;
  new Worker(`setInterval(() => { if (process.ppid !== ${parent}) process.kill(process.pid, 'SIGKILL'); }, 500);`, { eval: true }).unref();
}
