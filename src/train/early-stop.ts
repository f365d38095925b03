// `fineTune.earlyStop`: end fine-tuning once the student's retention on a validation split of the
// training data reaches a target, or has not improved for `patience` epochs. Retention is accuracy
// as a share of the original's on the same samples, or top-1 agreement with it without labels.
import type { FineTuneOptions } from '../request.js';

export interface EarlyStopReport {
  patience: number;
  retention: number | null;
  validationSamples: number;
  epochsPlanned: number;
  epochsRun: number;
  /** Why it ended before epochsPlanned; null when it ran them all. */
  stopped: 'retention' | 'patience' | null;
  /** Validation retention after each epoch run. */
  validation: number[];
}

export class EarlyStop {
  readonly report: EarlyStopReport;
  private best = -Infinity;
  private sinceBest = 0;

  constructor(options: NonNullable<FineTuneOptions['earlyStop']>, epochsPlanned: number, validationSamples: number) {
    this.report = {
      patience: options.patience,
      retention: options.retention ?? null,
      validationSamples,
      epochsPlanned,
      epochsRun: 0,
      stopped: null,
      validation: [],
    };
  }

  /** Records an epoch's validation retention; true when fine-tuning should end here. */
  record(retention: number): boolean {
    const r = this.report;
    r.validation.push(retention);
    r.epochsRun = r.validation.length;
    if (retention > this.best) {
      this.best = retention;
      this.sinceBest = 0;
    } else {
      this.sinceBest++;
    }
    if (r.epochsRun >= r.epochsPlanned) return false;
    if (r.retention !== null && retention >= r.retention) r.stopped = 'retention';
    else if (this.sinceBest >= r.patience) r.stopped = 'patience';
    return r.stopped !== null;
  }
}
