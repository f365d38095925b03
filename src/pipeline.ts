// The whole VBP job — load, statistics, prune with mean shift, evaluate, distill, measure, save —
// as one function. The CLI and the queue worker both call runPipeline, so they share one code path.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './engine/backend.js';
import { CancelledError, InputError } from './errors.js';
import { checkCompatible } from './compatibility.js';
import { describeDataset, loadDataset, splitHoldout, takeSamples, type Dataset } from './io/dataset.js';
import { loadModel } from './io/model-files.js';
import type { ModelLimits } from './io/topology-check.js';
import { saveModelFiles, zipModelFiles } from './io/model-save.js';
import { prepareOutput } from './io/output-dir.js';
import { shuffledIndices } from './io/random.js';
import { agreementRate, topOne } from './measure/accuracy.js';
import { compareLatency } from './measure/latency.js';
import { predictAll } from './measure/predict.js';
import { OUTPUT_FILES, type BackendName, type FineTuneOptions, type Progress, type PruningOptions, type Stage } from './request.js';
import { outputsAreProbabilities, toLogits } from './train/distill-loss.js';
import { fineTune, type FineTuneCheckpoint } from './train/fine-tune.js';
import { EarlyStop } from './train/early-stop.js';
import { searchLearningRate, type LrSearch } from './train/lr-search.js';
import { findBlocks, type BlockSearch } from './vbp/blocks.js';
import { countMacs, countParams } from './vbp/cost.js';
import { scoreNeurons } from './vbp/criteria.js';
import { selectKept } from './vbp/ranking.js';
import { collectStatistics, lowVarianceShare } from './vbp/statistics.js';
import { pruneModel } from './vbp/surgery.js';
import { ratioForCost } from './vbp/cost-target.js';
import { checkTrainable } from './vbp/trainable.js';
import { buildReport, buildStatistics, type Report } from './report.js';
import { ConfigError } from './settings.js';

export interface PipelineInput {
  /** model.json, a folder holding it, or a .zip of model.json and its weight shards. */
  model: string;
  /** Training / calibration data (.npz with x and optional y). */
  data: string;
  /** Held-out data; without it a seeded 10% of `data` is held out and never trained on. */
  evalData?: string;
  outDir: string;
  pruning: PruningOptions;
  fineTune: FineTuneOptions;
  backend?: BackendName;
  /** The operator's model limits (MAX_MODEL_PARAMS, ...); the defaults otherwise. */
  modelLimits?: ModelLimits;
}

export interface PipelineHooks {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Where fine-tuning keeps a checkpoint after each epoch, and resumes from one (a retried job). */
  checkpoint?: {
    load(): Promise<FineTuneCheckpoint | null>;
    save(c: FineTuneCheckpoint): Promise<void>;
  };
}

/** Share of the whole job each stage roughly takes, for one monotone 0..1 progress figure. */
const STAGE_SPAN: Record<Stage, [number, number]> = {
  loading: [0, 0.05],
  statistics: [0.05, 0.2],
  pruning: [0.2, 0.25],
  evaluating: [0.25, 0.32],
  'fine-tuning': [0.32, 0.9],
  measuring: [0.9, 0.97],
  saving: [0.97, 1],
};

const HOLDOUT_FRACTION = 0.1;

interface Outputs {
  predicted: Int32Array;
  accuracy: number | null;
}

async function evaluate(model: tf.LayersModel, data: Dataset): Promise<Outputs> {
  const { data: out, shape } = await predictAll(model, data.x, data.sampleShape, data.n);
  const predicted = topOne(out, shape[shape.length - 1]);
  const accuracy = data.y && predicted.length === data.n ? agreementRate(predicted, data.y) : null;
  return { predicted, accuracy };
}

/** Loads the data and checks it and the model against each other before any compute. */
async function loadInputs(input: PipelineInput, model: tf.LayersModel, blocks: BlockSearch) {
  const data = await loadDataset(input.data, 'data');
  const evaluation = input.evalData ? await loadDataset(input.evalData, 'evalData') : null;
  const facts = { inputShape: model.inputs[0].shape, outputShape: model.outputs[0].shape, ...blocks };
  checkCompatible(facts, describeDataset(data), evaluation && describeDataset(evaluation), {
    model: 'model',
    data: 'data',
    evalData: 'evalData',
  });
  return evaluation ? { train: data, evaluation } : splitHoldout(data, HOLDOUT_FRACTION, input.pruning.seed);
}

export async function runPipeline(input: PipelineInput, hooks: PipelineHooks = {}): Promise<Report> {
  const { pruning, fineTune: tuning } = input;
  const timings = { loading: 0, statistics: 0, prune: 0, evaluate: 0, fineTune: 0, measure: 0, save: 0 };
  const report = (stage: Stage, fraction: number, extra: Partial<Progress> = {}) => {
    const [a, b] = STAGE_SPAN[stage];
    hooks.onProgress?.({ stage, progress: a + (b - a) * Math.min(1, Math.max(0, fraction)), ...extra });
  };
  const checkAbort = () => {
    if (hooks.signal?.aborted) throw new CancelledError();
  };
  let clock = performance.now();
  const lap = () => {
    const now = performance.now();
    const seconds = (now - clock) / 1000;
    clock = now;
    return seconds;
  };

  report('loading', 0);
  const engine = await initBackend(input.backend).catch((e: Error) => {
    // A named backend that is missing is the caller's choice; a bad engine variable is not.
    throw input.backend && !(e instanceof ConfigError) ? new InputError('backend', e.message) : e;
  });
  const output = await prepareOutput(input.outDir);
  const disposables: tf.LayersModel[] = [];
  let published = false;
  try {
    const { model } = await loadModel(input.model, input.modelLimits);
    disposables.push(model);
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new InputError(
        'model',
        `models with ${model.inputs.length} inputs and ${model.outputs.length} outputs are not supported: one input and one output`,
      );
    }
    const found = findBlocks(model);
    const { blocks, notPrunable } = found;
    const { train, evaluation } = await loadInputs(input, model, found);
    if (tuning.epochs > 0) checkTrainable(model, train.sampleShape); // fail now, not after statistics
    timings.loading = lap();

    report('statistics', 0);
    const calibration = takeSamples(
      train,
      shuffledIndices(train.n, pruning.seed).subarray(0, Math.min(train.n, pruning.calibrationSamples)),
    );
    if (calibration.n < 2)
      throw new InputError('data', `variance needs at least 2 calibration samples, the training data has ${calibration.n}`);
    const onBatch = (done: number, total: number) => report('statistics', done / total);
    const stats = await collectStatistics(model, blocks, calibration, { mode: 'post', signal: hooks.signal, onBatch });
    const rankingStats =
      pruning.statistics === 'pre' ? await collectStatistics(model, blocks, calibration, { mode: 'pre', signal: hooks.signal }) : stats;
    timings.statistics = lap();

    checkAbort();
    report('pruning', 0);
    const scores = await scoreNeurons(pruning.criterion, model, blocks, rankingStats, pruning.seed);
    const costSearch = pruning.target ? await ratioForCost(model, blocks, scores, pruning.scope, pruning.target) : null;
    const ratio = costSearch?.ratio ?? pruning.ratio!;
    const kept = selectKept(scores, ratio, pruning.scope);
    const plans = blocks.map((block, i) => ({ block, kept: kept[i], mean: pruning.meanShift ? stats[i].mean : null }));
    const pruned = await pruneModel(model, plans);
    disposables.push(pruned);
    timings.prune = lap();

    checkAbort();
    report('evaluating', 0);
    const original = await evaluate(model, evaluation);
    const afterPrune = await evaluate(pruned, evaluation);
    timings.evaluate = lap();

    const epochs: Report['fineTune']['epochs'] = [];
    let afterTune: Outputs | null = null;
    let lrSearch: LrSearch | null = null;
    let learningRate: number | null = typeof tuning.learningRate === 'number' ? tuning.learningRate : null;
    let earlyStop: EarlyStop | null = null;
    if (tuning.epochs > 0) {
      report('fine-tuning', 0);
      // Early stopping decides on a validation split of the training data, never on the evaluation data.
      const { fit, validation } =
        tuning.earlyStop && train.n >= 2
          ? (({ train: fit, evaluation: validation }) => ({ fit, validation }))(
              splitHoldout(train, HOLDOUT_FRACTION, (pruning.seed ^ 0x2545f491) >>> 0),
            )
          : { fit: train, validation: null };
      const validationOriginal = validation && (await evaluate(model, validation));
      if (tuning.earlyStop && validation) earlyStop = new EarlyStop(tuning.earlyStop, tuning.epochs, validation.n);
      const teacherOut = await predictAll(model, fit.x, fit.sampleShape, fit.n);
      const asLogits = tf.tidy(() => toLogits(tf.tensor(teacherOut.data, teacherOut.shape), outputsAreProbabilities(model)));
      const teacherLogits = (await asLogits.data()) as Float32Array;
      asLogits.dispose();
      if (tuning.learningRate === 'auto') {
        lrSearch = await searchLearningRate(pruned, fit, teacherLogits, { ...tuning, seed: pruning.seed, signal: hooks.signal });
        learningRate = lrSearch.chosen;
      }
      const result = await fineTune(pruned, fit, teacherLogits, {
        ...tuning,
        learningRate: learningRate!,
        seed: pruning.seed,
        signal: hooks.signal,
        resume: await hooks.checkpoint?.load(),
        onCheckpoint: hooks.checkpoint?.save,
        onBatch: ({ epoch, step, stepsPerEpoch, loss }) =>
          report('fine-tuning', (epoch - 1 + step / stepsPerEpoch) / tuning.epochs, { epoch, step, loss }),
        evaluate: async () => {
          const out = await evaluate(pruned, evaluation);
          return out.accuracy ?? agreementRate(out.predicted, original.predicted);
        },
        shouldStop:
          earlyStop && validation && validationOriginal
            ? async () => {
                const out = await evaluate(pruned, validation);
                const retention =
                  out.accuracy !== null && validationOriginal.accuracy
                    ? out.accuracy / validationOriginal.accuracy
                    : agreementRate(out.predicted, validationOriginal.predicted);
                return earlyStop!.record(retention);
              }
            : undefined,
      });
      epochs.push(...result.epochs);
      afterTune = await evaluate(pruned, evaluation);
    }
    timings.fineTune = lap();

    checkAbort();
    report('measuring', 0);
    const latency = await compareLatency(model, pruned, train.sampleShape);
    const cost = {
      params: { before: countParams(model), after: countParams(pruned) },
      macs: { before: countMacs(model), after: countMacs(pruned) },
    };
    timings.measure = lap();

    checkAbort();
    report('saving', 0);
    const statistics = buildStatistics(blocks, stats, lowVarianceShare);
    const result = buildReport({
      engine,
      pruning,
      tuning,
      ratio,
      costSearch,
      learningRate,
      lrSearch,
      earlyStop: earlyStop?.report ?? null,
      blocks,
      kept,
      notPrunable,
      cost,
      latency,
      epochs,
      timings,
      calibrationSamples: calibration.n,
      samples: { train: train.n, evaluation: evaluation.n },
      accuracy: { original: original.accuracy, pruned: afterPrune.accuracy, fineTuned: afterTune?.accuracy ?? null },
      agreement: {
        pruned: agreementRate(afterPrune.predicted, original.predicted),
        fineTuned: afterTune ? agreementRate(afterTune.predicted, original.predicted) : null,
      },
      lowVarianceShare: statistics.lowVarianceShare,
    });
    await saveModelFiles(pruned, output.work);
    await zipModelFiles(output.work);
    await writeJson(join(output.work, 'statistics.json'), statistics);
    result.timings.save = lap();
    await writeJson(join(output.work, 'report.json'), result);
    checkAbort();
    await output.publish(OUTPUT_FILES);
    published = true;
    report('saving', 1);
    return result;
  } finally {
    if (!published) await output.discard();
    for (const m of disposables) m.dispose();
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}
