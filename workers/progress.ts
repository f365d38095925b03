// Turns the pipeline's per-batch progress callbacks into BullMQ progress updates and job-record
// updates: at most one write every `intervalMs` (a stage change always goes out at once), and the
// last value repeated every few seconds so watchers see a live job even in long, quiet steps.
// Writes are chained so they land in order; a failed write is logged, never fatal to the job.
// As each epoch ends, `onEpochEnd` runs after the record shows that epoch (webhooks' job.epoch).
import type { Logger } from 'pino';
import type { Progress } from '../src/request.js';
import type { EpochMetric, JobStore } from '../src/store/jobs.js';

export interface ProgressSink {
  updateProgress(value: object): Promise<void>;
}

export class ProgressReporter {
  private latest: Progress | null = null;
  private lastSent = 0;
  private sentStage: string | null = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  /** Mean training loss per epoch so far (the report replaces these with its own at the end). */
  readonly epochs: EpochMetric[] = [];
  private epochSteps = 0;

  constructor(
    private readonly job: ProgressSink,
    private readonly jobs: JobStore,
    private readonly jobId: string,
    private readonly log: Logger,
    private readonly intervalMs = 500,
    keepaliveMs = 3_000,
    private readonly onEpochEnd?: (epoch: number) => Promise<void>,
  ) {
    this.timer = setInterval(() => {
      if (this.latest && Date.now() - this.lastSent >= keepaliveMs) this.send();
    }, keepaliveMs).unref();
  }

  onProgress = (p: Progress): void => {
    this.latest = p;
    if (p.epoch !== undefined && p.loss !== undefined) this.addLoss(p.epoch, p.loss);
    if (p.stage !== this.sentStage || Date.now() - this.lastSent >= this.intervalMs) this.send();
  };

  private addLoss(epoch: number, loss: number): void {
    let last = this.epochs[this.epochs.length - 1];
    if (!last || last.epoch !== epoch) {
      if (last) this.endEpoch(last.epoch);
      last = { epoch, loss: 0 };
      this.epochs.push(last);
      this.epochSteps = 0;
    }
    this.epochSteps += 1;
    last.loss += (loss - last.loss) / this.epochSteps;
  }

  private send(): void {
    const p = this.latest!;
    this.lastSent = Date.now();
    this.sentStage = p.stage;
    const value = { stage: p.stage, progress: p.progress, epoch: p.epoch ?? null, step: p.step ?? null, loss: p.loss ?? null };
    const metrics = { epochs: this.epochs.map((e) => ({ ...e })) };
    this.chain = this.chain
      .then(async () => {
        await this.job.updateProgress(value);
        await this.jobs.transition(this.jobId, { from: ['active'], set: { ...value, metrics } });
      })
      .catch((err) => this.log.warn({ err, jobId: this.jobId }, 'progress update failed'));
  }

  private endEpoch(epoch: number): void {
    const announce = this.onEpochEnd;
    if (!announce) return;
    if (this.latest) this.send();
    this.chain = this.chain.then(() => announce(epoch)).catch((err) => this.log.warn({ err, jobId: this.jobId }, 'epoch event failed'));
  }

  /** The pipeline finished: its last epoch has ended too. */
  finish(): void {
    const last = this.epochs[this.epochs.length - 1];
    if (last) this.endEpoch(last.epoch);
  }

  /** Stops the keepalive and waits for writes already queued. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
  }
}
