// The shapes of report.json and statistics.json, and their assembly from the pipeline's results.
// Clients (the API, dashboards, acceptance checks) read these files: keep field names stable.
import type { BackendInfo } from './engine/backend.js';
import type { LatencyResult } from './measure/latency.js';
import type { FineTuneOptions, PruningOptions } from './request.js';
import type { EpochResult } from './train/fine-tune.js';
import type { EarlyStopReport } from './train/early-stop.js';
import type { LrSearch } from './train/lr-search.js';
import type { CostSearch } from './vbp/cost-target.js';
import type { Block, NotPrunable } from './vbp/blocks.js';
import type { BlockStatistics } from './vbp/statistics.js';

export interface Report {
  version: 1;
  createdAt: string;
  backend: string;
  device: string;
  /** The share of hidden neurons removed: the requested ratio, or the one found for `target`. */
  ratio: number;
  target: PruningOptions['target'] | null;
  /** How the ratio for a cost target was found (null for a given ratio). */
  costSearch: CostSearch | null;
  criterion: PruningOptions['criterion'];
  meanShift: boolean;
  statistics: PruningOptions['statistics'];
  scope: PruningOptions['scope'];
  seed: number;
  calibrationSamples: number;
  samples: { train: number; evaluation: number };
  blocks: { fc1: string; fc2: string; hidden: number; kept: number; keptIndices: number[] }[];
  notPrunable: NotPrunable[];
  prunedNeurons: { removed: number; total: number };
  params: { before: number; after: number; reduction: number };
  macs: { before: number; after: number; reduction: number };
  accuracy: { original: number | null; pruned: number | null; fineTuned: number | null };
  /** Accuracy as a fraction of the original model's (null without labels). */
  retention: { pruned: number | null; fineTuned: number | null };
  /** Top-1 agreement with the original model on the evaluation data. */
  agreement: { pruned: number; fineTuned: number | null };
  latency: LatencyResult[];
  /** Share of total hidden variance held by the lowest-variance 60% of neurons (all blocks). */
  lowVarianceShare: number;
  fineTune: {
    /** As requested (learningRate may be 'auto'). */
    options: FineTuneOptions;
    /** The peak rate the schedule used: the requested one, or the search's choice; null without fine-tuning. */
    learningRate: number | null;
    /** The search behind learningRate 'auto' (null for a given rate, or without fine-tuning). */
    lrSearch: LrSearch | null;
    /** Epochs run against planned, and why it stopped (null without earlyStop). */
    earlyStop: EarlyStopReport | null;
    epochs: EpochResult[];
  };
  timings: { loading: number; statistics: number; prune: number; evaluate: number; fineTune: number; measure: number; save: number };
}

export interface StatisticsFile {
  lowVarianceShare: number;
  blocks: { fc1: string; fc2: string; hidden: number; samples: number; mean: number[]; variance: number[]; lowVarianceShare: number }[];
}

export function buildStatistics(
  blocks: Block[],
  stats: BlockStatistics[],
  share: (variance: Float64Array, fraction?: number) => number,
): StatisticsFile {
  const all = new Float64Array(stats.reduce((n, s) => n + s.variance.length, 0));
  let offset = 0;
  for (const s of stats) {
    all.set(s.variance, offset);
    offset += s.variance.length;
  }
  return {
    lowVarianceShare: share(all),
    blocks: blocks.map((b, i) => ({
      fc1: b.fc1,
      fc2: b.fc2,
      hidden: b.hidden,
      samples: stats[i].count,
      mean: Array.from(stats[i].mean),
      variance: Array.from(stats[i].variance),
      lowVarianceShare: share(stats[i].variance),
    })),
  };
}

interface ReportParts {
  engine: BackendInfo;
  pruning: PruningOptions;
  tuning: FineTuneOptions;
  ratio: number;
  costSearch: CostSearch | null;
  learningRate: number | null;
  lrSearch: LrSearch | null;
  earlyStop: EarlyStopReport | null;
  blocks: Block[];
  kept: Int32Array[];
  notPrunable: NotPrunable[];
  cost: { params: { before: number; after: number }; macs: { before: number; after: number } };
  latency: LatencyResult[];
  epochs: EpochResult[];
  timings: Report['timings'];
  calibrationSamples: number;
  samples: Report['samples'];
  accuracy: Report['accuracy'];
  agreement: Report['agreement'];
  lowVarianceShare: number;
}

const reduction = (c: { before: number; after: number }) => ({ ...c, reduction: c.before > 0 ? 1 - c.after / c.before : 0 });
const ratioOf = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);

export function buildReport(p: ReportParts): Report {
  const total = p.blocks.reduce((n, b) => n + b.hidden, 0);
  const keptTotal = p.kept.reduce((n, k) => n + k.length, 0);
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    backend: p.engine.backend,
    device: p.engine.device,
    ratio: p.ratio,
    target: p.pruning.target ?? null,
    costSearch: p.costSearch,
    criterion: p.pruning.criterion,
    meanShift: p.pruning.meanShift,
    statistics: p.pruning.statistics,
    scope: p.pruning.scope,
    seed: p.pruning.seed,
    calibrationSamples: p.calibrationSamples,
    samples: p.samples,
    blocks: p.blocks.map((b, i) => ({
      fc1: b.fc1,
      fc2: b.fc2,
      hidden: b.hidden,
      kept: p.kept[i].length,
      keptIndices: Array.from(p.kept[i]),
    })),
    notPrunable: p.notPrunable,
    prunedNeurons: { removed: total - keptTotal, total },
    params: reduction(p.cost.params),
    macs: reduction(p.cost.macs),
    accuracy: p.accuracy,
    retention: { pruned: ratioOf(p.accuracy.pruned, p.accuracy.original), fineTuned: ratioOf(p.accuracy.fineTuned, p.accuracy.original) },
    agreement: p.agreement,
    latency: p.latency,
    lowVarianceShare: p.lowVarianceShare,
    fineTune: { options: p.tuning, learningRate: p.learningRate, lrSearch: p.lrSearch, earlyStop: p.earlyStop, epochs: p.epochs },
    timings: p.timings,
  };
}
