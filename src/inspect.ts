// Inspection of a model's files and of a dataset: what the CLI's `inspect` prints and what the API
// returns on upload. Callers get plain data; TensorFlow.js stays behind this module.
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend } from './engine/backend.js';
import type { DatasetSummary } from './io/dataset.js';
import { artifactsFromFiles, loadModelFromArtifacts } from './io/model-files.js';
import { inspectNpzFile, type NpzLimits } from './io/npz-stream.js';
import { DEFAULT_MODEL_LIMITS, type ModelLimits } from './io/topology-check.js';
import { findBlocks, type NotPrunable } from './vbp/blocks.js';
import { countMacs, countParams } from './vbp/cost.js';

export interface ModelSummary {
  params: number;
  macs: number;
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  blocks: { fc1: string; fc2: string; hidden: number; activation: string }[];
  notPrunable: NotPrunable[];
}

export type { DatasetSummary } from './io/dataset.js';

export function summarizeModel(model: tf.LayersModel): ModelSummary {
  const { blocks, notPrunable } = findBlocks(model);
  return {
    params: countParams(model),
    macs: countMacs(model),
    inputShape: model.inputs[0].shape,
    outputShape: model.outputs[0].shape,
    blocks: blocks.map(({ fc1, fc2, hidden, activation }) => ({ fc1, fc2, hidden, activation })),
    notPrunable,
  };
}

/** Validates and summarises a model given as its files (basename → bytes). Throws InputError. */
export async function inspectModelFiles(files: Map<string, Uint8Array>, limits: ModelLimits = DEFAULT_MODEL_LIMITS): Promise<ModelSummary> {
  // Reading a topology needs a backend but no real compute: wasm avoids claiming a GPU in the API
  // process (and the cpu backend's "install tfjs-node" banner).
  if (!currentBackend()) await initBackend('wasm');
  const model = await loadModelFromArtifacts(artifactsFromFiles(files, limits), limits);
  try {
    return summarizeModel(model);
  } finally {
    model.dispose();
  }
}

/** Validates and summarises a dataset .npz in bounded memory, whatever its size (see npz-stream.ts). Throws InputError. */
export async function inspectDatasetFile(path: string, field = 'file', limits: NpzLimits): Promise<DatasetSummary> {
  return inspectNpzFile(path, field, limits);
}
