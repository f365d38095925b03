// `learningRate: 'auto'`: the peak rate of the fine-tuning schedule, chosen for this model, data,
// batch size and schedule. The paper's 1.5e-5 is tuned for ImageNet-scale runs and barely moves a
// small model in 10 epochs; the right rate differs by 100× between real models. Each candidate
// trains the pruned student for a short, equal number of steps (on the schedule's first steps,
// from the same starting weights), and the one with the lowest distillation loss on a validation
// split carved from the training data wins. The evaluation data is never read here.
import * as tf from '@tensorflow/tfjs';
import { shuffledIndices } from '../io/random.js';
import type { FineTuneOptions } from '../request.js';
import { gatherRows } from './batches.js';
import { distillationLoss, outputsAreProbabilities, toLogits } from './distill-loss.js';
import { fineTune, type FineTuneData } from './fine-tune.js';

/** Half-decades around the rates that work for small and mid-sized models. */
export const LR_CANDIDATES = [3e-5, 1e-4, 3e-4, 1e-3, 3e-3] as const;
/** The search's share of the planned fine-tuning steps, all candidates together (the bound is 15%). */
export const SEARCH_SHARE = 0.08;
const MIN_STEPS = 8;
const VALIDATION_FRACTION = 0.1;
const VALIDATION_BATCH = 256;

export interface LrSearch {
  candidates: { learningRate: number; validationLoss: number | null }[];
  chosen: number;
  /** Training steps of each candidate. */
  steps: number;
  validationSamples: number;
  seconds: number;
}

type Rows = { x: Float32Array; teacher: Float32Array; y: Int32Array | null; n: number };

function subset(data: FineTuneData, teacher: Float32Array, order: Int32Array, start: number, end: number): Rows {
  const size = data.sampleShape.reduce((a, b) => a * b, 1);
  const outRow = teacher.length / data.n;
  const labels = data.y ? data.y.length / data.n : 0;
  return {
    x: gatherRows(data.x, size, order, start, end),
    teacher: gatherRows(teacher, outRow, order, start, end),
    y: data.y ? gatherRows(data.y, labels, order, start, end) : null,
    n: end - start,
  };
}

/** Mean distillation loss of the student (inference mode) on `rows`. */
async function validationLoss(student: tf.LayersModel, rows: Rows, sampleShape: number[], opts: FineTuneOptions): Promise<number> {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const outRow = rows.teacher.length / rows.n;
  const labels = rows.y ? rows.y.length / rows.n : 0;
  const probabilities = outputsAreProbabilities(student);
  let sum = 0;
  // Inference only: batches larger than training's cost fewer round trips.
  const batch = Math.max(opts.batchSize, VALIDATION_BATCH);
  for (let start = 0; start < rows.n; start += batch) {
    const end = Math.min(rows.n, start + batch);
    const loss = tf.tidy(() => {
      const xb = tf.tensor(rows.x.subarray(start * size, end * size), [end - start, ...sampleShape]);
      const s = toLogits(student.apply(xb, { training: false }) as tf.Tensor, probabilities);
      const tb = tf.reshape(tf.tensor(rows.teacher.subarray(start * outRow, end * outRow)), s.shape);
      const yb = rows.y ? tf.tensor(rows.y.subarray(start * labels, end * labels), undefined, 'int32') : null;
      return distillationLoss(s, tb, yb, opts);
    });
    sum += (await loss.data())[0] * (end - start);
    loss.dispose();
  }
  return sum / rows.n;
}

/** Tries each candidate rate on the student and leaves its weights as they were. */
export async function searchLearningRate(
  student: tf.LayersModel,
  data: FineTuneData,
  teacherLogits: Float32Array,
  opts: FineTuneOptions & { seed: number; signal?: AbortSignal },
): Promise<LrSearch> {
  const started = performance.now();
  // A seeded split of the training data: its own stream, apart from the epochs' shuffles.
  const order = shuffledIndices(data.n, (opts.seed ^ 0x5bd1e995) >>> 0);
  const k = data.n < 2 ? 0 : Math.min(data.n - 1, Math.max(1, Math.round(data.n * VALIDATION_FRACTION)));
  const validation = k > 0 ? subset(data, teacherLogits, order, 0, k) : subset(data, teacherLogits, order, 0, data.n);
  const train = k > 0 ? subset(data, teacherLogits, order, k, data.n) : validation;
  const planned = opts.epochs * Math.ceil(data.n / opts.batchSize);
  const steps = Math.max(MIN_STEPS, Math.floor((SEARCH_SHARE * planned) / LR_CANDIDATES.length));

  const initial = student.weights.map((w) => w.read().clone());
  const restore = () => student.weights.forEach((w, i) => w.write(initial[i]));
  const candidates: LrSearch['candidates'] = [];
  try {
    for (const learningRate of LR_CANDIDATES) {
      const trainData = { x: train.x, n: train.n, sampleShape: data.sampleShape, y: train.y };
      await fineTune(student, trainData, train.teacher, { ...opts, learningRate, stopAfterSteps: steps });
      const loss = await validationLoss(student, validation, data.sampleShape, opts);
      candidates.push({ learningRate, validationLoss: Number.isFinite(loss) ? loss : null });
      restore();
    }
  } finally {
    restore();
    for (const t of initial) t.dispose();
  }
  // The lowest validation loss; none finite (every rate diverged) falls back to the smallest.
  const best = candidates.reduce<(typeof candidates)[number] | null>(
    (b, c) => (c.validationLoss !== null && (b === null || c.validationLoss < b.validationLoss!) ? c : b),
    null,
  );
  return {
    candidates,
    chosen: best?.learningRate ?? LR_CANDIDATES[0],
    steps,
    validationSamples: validation.n,
    seconds: (performance.now() - started) / 1000,
  };
}
