// Step 4 of Variance-Based Pruning: distillation fine-tuning of the pruned student against the
// original model's cached outputs, with AdamW and a per-step cosine schedule.
import * as tf from '@tensorflow/tfjs';
import { CancelledError, InputError } from '../errors.js';
import { shuffledIndices } from '../io/random.js';
import type { FineTuneOptions } from '../request.js';
import { AdamW } from './adamw.js';
import { gatherRows } from './batches.js';
import { distillationLoss, outputsAreProbabilities, toLogits } from './distill-loss.js';
import { cosineLr } from './schedule.js';

export interface FineTuneData {
  /** Flat [n, ...sampleShape] inputs. */
  x: Float32Array;
  n: number;
  sampleShape: number[];
  /** One class index per output row (per sample, or per sample × token), or null when unlabelled. */
  y: Int32Array | null;
}

export interface BatchProgress {
  /** 1-based epoch. */
  epoch: number;
  /** Batches done in this epoch, 1..stepsPerEpoch. */
  step: number;
  stepsPerEpoch: number;
  /** Mean loss of this epoch so far, as of the latest download (may lag a few batches). */
  loss: number;
}

export interface EpochResult {
  /** 1-based. */
  epoch: number;
  /** Sample-weighted mean training loss over the epoch. */
  loss: number;
  evalAccuracy: number | null;
  /** Training time of the epoch, excluding `evaluate`. */
  seconds: number;
}

/** Everything a later run needs to continue after `epoch` as if it had never stopped. The
 * per-epoch shuffles derive from the seed and the epoch, so there is no RNG state to keep. */
export interface FineTuneCheckpoint {
  /** The run this belongs to (student weight shapes, data size, schedule); another run ignores it. */
  signature: string;
  epoch: number;
  results: EpochResult[];
  /** Every weight of the student (trainable or not), in `student.weights` order. */
  weights: Float32Array[];
  optimizer: { iterations: number; m: Float32Array; v: Float32Array } | null;
}

export type FineTuneRunOptions = Omit<FineTuneOptions, 'learningRate'> & {
  /** The peak rate of the cosine schedule ('auto' is resolved before, by lr-search.ts). */
  learningRate: number;
  seed: number;
  /** End after this many steps, on the schedule of the whole planned run (the LR search's short trials). */
  stopAfterSteps?: number;
  /** Continue from this checkpoint, if it belongs to this run. */
  resume?: FineTuneCheckpoint | null;
  /** Called after each epoch (evaluation included) with a checkpoint of it. */
  onCheckpoint?: (c: FineTuneCheckpoint) => Promise<void>;
  onBatch?: (p: BatchProgress) => void;
  signal?: AbortSignal;
  /** Called after each epoch (1-based) with the student in its current state. */
  evaluate?: (epoch: number) => Promise<number | null>;
  /** Called after each epoch's evaluation: true ends fine-tuning there (early stopping). */
  shouldStop?: (epoch: number) => Promise<boolean>;
};

// Reading the loss back stalls an asynchronous (GPU) backend's queue, so it happens only for
// progress: when a second has passed or 20 batches were queued since the last read (the latter
// bounds how far a GPU backend runs ahead of the host), and at every epoch end.
const DOWNLOAD_EVERY_MS = 1000;
const DOWNLOAD_EVERY_BATCHES = 20;

const prod = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Sizes of one sample's input, output and labels, after checking the arrays agree with the model. */
function checkShapes(student: tf.LayersModel, data: FineTuneData, teacherLogits: Float32Array) {
  const { n, sampleShape, x, y } = data;
  if (n <= 0) throw new InputError('data', 'fine-tuning needs at least one sample');
  const sampleSize = prod(sampleShape);
  if (x.length !== n * sampleSize) {
    throw new InputError('data', `expected ${n}×[${sampleShape}] = ${n * sampleSize} input values, got ${x.length}`);
  }
  // apply() below is typed for one output; the loss is defined for one too.
  if (student.outputs.length !== 1) throw new InputError('model.json', 'fine-tuning needs a model with a single output');
  const outRowSize = teacherLogits.length / n;
  const outShape = student.outputs[0].shape.slice(1);
  if (!Number.isInteger(outRowSize) || (outShape.every((d) => d != null) && prod(outShape as number[]) !== outRowSize)) {
    throw new Error(`teacher outputs (${teacherLogits.length} values for ${n} samples) do not match the student's output [${outShape}]`);
  }
  // One label per output row: per sample for [n, k] outputs, per sample × token for [n, t, k].
  const classes = outShape[outShape.length - 1];
  const labelsPerSample = y ? y.length / n : 0;
  if (y && (!Number.isInteger(labelsPerSample) || (classes != null && labelsPerSample * classes !== outRowSize))) {
    throw new InputError('data', `${y.length} labels do not match ${n} samples of output [${outShape}]`);
  }
  return { sampleSize, outRowSize, labelsPerSample };
}

export async function fineTune(
  student: tf.LayersModel,
  data: FineTuneData,
  teacherLogits: Float32Array,
  opts: FineTuneRunOptions,
): Promise<{ epochs: EpochResult[] }> {
  if (opts.epochs === 0) return { epochs: [] };
  const { n, sampleShape, x, y } = data;
  const { sampleSize, outRowSize, labelsPerSample } = checkShapes(student, data, teacherLogits);
  const areProbabilities = outputsAreProbabilities(student);
  // read() hands back the underlying tf.Variable (typed as Tensor), which minimize() updates in place.
  const vars = student.trainableWeights.map((w) => w.read() as tf.Variable);

  const { batchSize, epochs } = opts;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const optimizer = new AdamW({ learningRate: opts.learningRate, weightDecay: opts.weightDecay });
  const signature = JSON.stringify({
    weights: student.weights.map((w) => w.shape),
    n,
    batchSize,
    epochs,
    seed: opts.seed,
    lr: opts.learningRate,
    wd: opts.weightDecay,
  });
  // Running sum of loss × rows for the current epoch, kept on the device between reads.
  let lossSum: tf.Tensor = tf.scalar(0);
  const results: EpochResult[] = [];
  let first = 1;
  const resume = opts.resume?.signature === signature ? opts.resume : null;
  if (resume) {
    student.weights.forEach((w, i) => {
      const value = tf.tensor(resume.weights[i], w.shape as number[]);
      w.write(value);
      value.dispose();
    });
    if (resume.optimizer) optimizer.importState(vars, resume.optimizer);
    results.push(...resume.results);
    first = resume.epoch + 1;
  }
  try {
    for (let epoch = first; epoch <= epochs; epoch++) {
      const started = performance.now();
      // A different, reproducible permutation per epoch (golden-ratio mixing of seed and epoch).
      const order = shuffledIndices(n, (opts.seed ^ Math.imul(epoch, 0x9e3779b9)) >>> 0);
      lossSum.dispose();
      lossSum = tf.scalar(0);
      let rows = 0;
      let loss = NaN;
      let lastRead = -Infinity;
      let sinceRead = 0;
      const lastStep =
        opts.stopAfterSteps === undefined ? stepsPerEpoch : Math.min(stepsPerEpoch, opts.stopAfterSteps - (epoch - 1) * stepsPerEpoch);
      if (lastStep <= 0) break;
      for (let step = 1; step <= lastStep; step++) {
        // Let timers and I/O (e.g. a cancel request) run: on CPU backends a batch never yields.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (opts.signal?.aborted) throw new CancelledError();
        const start = (step - 1) * batchSize;
        const end = Math.min(n, start + batchSize);
        optimizer.setLearningRate(cosineLr((epoch - 1) * stepsPerEpoch + step - 1, totalSteps, opts.learningRate));
        const next = tf.tidy(() => {
          const xb = tf.tensor(gatherRows(x, sampleSize, order, start, end), [end - start, ...sampleShape]);
          const tb = tf.tensor(gatherRows(teacherLogits, outRowSize, order, start, end));
          const yb = y ? tf.tensor(gatherRows(y, labelsPerSample, order, start, end), undefined, 'int32') : null;
          const cost = optimizer.minimize(
            () => {
              // training: true so Dropout is active, as in the paper's fine-tuning.
              const out = student.apply(xb, { training: true }) as tf.Tensor;
              const s = toLogits(out, areProbabilities);
              return distillationLoss(s, tf.reshape(tb, s.shape), yb, opts);
            },
            true,
            vars,
          )!;
          return tf.add(lossSum, tf.mul(cost, end - start));
        });
        lossSum.dispose();
        lossSum = next;
        rows += end - start;
        sinceRead++;
        const now = performance.now();
        if (step === lastStep || sinceRead >= DOWNLOAD_EVERY_BATCHES || now - lastRead >= DOWNLOAD_EVERY_MS) {
          loss = (await lossSum.data())[0] / rows;
          lastRead = performance.now();
          sinceRead = 0;
        }
        opts.onBatch?.({ epoch, step, stepsPerEpoch, loss });
      }
      const seconds = (performance.now() - started) / 1000;
      const evalAccuracy = opts.evaluate ? await opts.evaluate(epoch) : null;
      results.push({ epoch, loss, evalAccuracy, seconds });
      if (lastStep < stepsPerEpoch || (opts.shouldStop && (await opts.shouldStop(epoch)))) break;
      if (opts.onCheckpoint && epoch < epochs) {
        const weights = await Promise.all(student.weights.map(async (w) => (await w.read().data()) as Float32Array));
        await opts.onCheckpoint({
          signature,
          epoch,
          results: results.map((r) => ({ ...r })),
          weights,
          optimizer: await optimizer.exportState(),
        });
      }
    }
  } finally {
    lossSum.dispose();
    optimizer.dispose();
  }
  return { epochs: results };
}
