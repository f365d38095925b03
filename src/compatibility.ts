// Can this model be pruned with these data? One check for the API (from the stored records, before
// a job is queued) and the pipeline (from the loaded files, the CLI's and the worker's path), so a
// job the API accepts is one the pipeline runs, and both say the same thing when it is not.
// Plain data in, InputError out: no tensors.
import { InputError } from './errors.js';

export interface ModelFacts {
  /** With the batch dimension. */
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  blocks: readonly unknown[];
  notPrunable: readonly { layer: string; reason: string }[];
}

export interface DataFacts {
  samples: number;
  sampleShape: number[];
  hasLabels: boolean;
  classes: number | null;
}

/** The request inputs these facts came from: the API's ids or the pipeline's file arguments. */
export interface JobFields {
  model: string;
  data: string;
  evalData: string;
}

const fmt = (shape: (number | null)[]) => `[${shape.map((d) => d ?? 'null').join(', ')}]`;

/** Whether a per-sample shape matches a model input shape without its batch dim (null = any). */
export function sampleShapeFits(sampleShape: number[], inputShape: (number | null)[]): boolean {
  return inputShape.length === sampleShape.length && inputShape.every((d, i) => d == null || d === sampleShape[i]);
}

/** The samples fit the model's input (per sample, without the batch dimension). */
export function checkFitsModel(data: Pick<DataFacts, 'sampleShape'>, inputShape: (number | null)[], field: string): void {
  if (!sampleShapeFits(data.sampleShape, inputShape)) {
    throw new InputError(
      field,
      `${field}: x samples have shape ${fmt(data.sampleShape)} but the model expects ${fmt(inputShape)} (per sample, without the batch dimension)`,
    );
  }
}

/** Everything that keeps a job from running that is known before any compute. */
export function checkCompatible(model: ModelFacts, data: DataFacts, evaluation: DataFacts | null, fields: JobFields): void {
  if (model.blocks.length === 0) {
    const why = model.notPrunable.map((n) => `${n.layer}: ${n.reason}`).join('; ');
    throw new InputError(fields.model, `no prunable MLP block (Dense → activation → Dense) found${why ? ` (${why})` : ''}`);
  }
  const inputShape = model.inputShape.slice(1);
  const classes = model.outputShape[model.outputShape.length - 1];
  for (const [field, ds] of [
    [fields.data, data],
    [fields.evalData, evaluation],
  ] as const) {
    if (!ds) continue;
    checkFitsModel(ds, inputShape, field);
    if (ds.hasLabels && ds.classes !== null && typeof classes === 'number' && ds.classes > classes) {
      throw new InputError(field, `${field}: y has class ids up to ${ds.classes - 1} but the model outputs ${classes} classes`);
    }
  }
  // Without separate evaluation data a share of the data is held out, and both parts need a sample.
  if (!evaluation && data.samples < 2) {
    throw new InputError(
      fields.data,
      `${fields.data}: cannot hold out evaluation samples from a dataset of ${data.samples} sample; give separate evaluation data`,
    );
  }
}
