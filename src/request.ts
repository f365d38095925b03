// The pruning request, shared by the CLI, the HTTP API, the queue payload and the pipeline.
// It is plain data (no tensors), so the API can validate it without loading TensorFlow.js.
// Defaults are the paper's (VBP: AdamW, cosine, batch 32, wd 0.01, 10 epochs) except the learning
// rate: the paper's 1.5e-5 is tuned for ImageNet-scale runs, so it is searched for ('auto').
import { z } from 'zod';

export const CRITERIA = ['variance', 'variance-output', 'magnitude', 'random'] as const;
export const BACKENDS = ['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;

// Every number has a range a real job can use and nothing past it: an absurd value (1e308, 1e-300)
// is a client mistake answered 422, not a job that "completes" with NaN losses. Epochs, batch size
// and calibration samples get tighter, configurable ceilings from the API (payload.ts).
export const SEED_MAX = 2 ** 31 - 1;

/** An outcome to prune for instead of a ratio: the fewest neurons whose removal reaches it. */
export const targetSchema = z
  .union([
    z.object({ macsReduction: z.number().gt(0).lt(1).describe('Share of the MACs per sample to remove.') }).strict(),
    z.object({ paramsReduction: z.number().gt(0).lt(1).describe('Share of the parameters to remove.') }).strict(),
  ])
  .describe('Instead of ratio: the ratio is found that meets this exactly, to within one neuron (report: costSearch).');
export type CostTarget = z.infer<typeof targetSchema>;

export const pruningSchema = z
  .object({
    // Pruning nothing or everything is not a job.
    ratio: z.number().gt(0).lt(1).optional().describe('Share of all MLP hidden neurons to remove; or give target.'),
    target: targetSchema.optional(),
    criterion: z.enum(CRITERIA).default('variance'),
    meanShift: z.boolean().default(true),
    // Variance needs at least two samples (unbiased M2 / (N - 1)); the pipeline clamps to the data.
    calibrationSamples: z
      .number()
      .int()
      .min(2)
      .max(1e8)
      .default(1024)
      .describe("Clamped to the dataset's size; the service's MAX_CALIBRATION_SAMPLES is the ceiling."),
    seed: z.number().int().min(0).max(SEED_MAX).default(0),
    // Ablations: statistics of the pre-activation (fc1 output) instead of the post-activation,
    // and the same ratio in every block instead of one global ranking.
    statistics: z.enum(['post', 'pre']).default('post'),
    scope: z.enum(['global', 'per-block']).default('global'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.ratio !== undefined && p.target !== undefined) {
      for (const path of ['ratio', 'target']) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message: 'ratio and target are mutually exclusive: give one' });
      }
    } else if (p.ratio === undefined && p.target === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['ratio'], message: 'give ratio (the share of neurons to remove) or target' });
    }
  });

export const fineTuneSchema = z
  .object({
    epochs: z.number().int().min(0).max(100_000).default(10).describe("The service's MAX_EPOCHS is the ceiling."),
    batchSize: z
      .number()
      .int()
      .positive()
      .max(1 << 20)
      .default(32)
      .describe("The service's MAX_BATCH_SIZE is the ceiling."),
    learningRate: z
      .union([z.literal('auto'), z.number().positive().max(1)])
      .default('auto')
      .describe(
        "The schedule's peak rate; 'auto' picks it from a short search on a validation split of the training data (report: fineTune.lrSearch).",
      ),
    weightDecay: z.number().min(0).max(10).default(0.01),
    // Distillation: KL(teacher_T || student_T) * T^2, mixed with cross-entropy on labels when
    // the data has labels: loss = distillWeight * KD + (1 - distillWeight) * CE.
    temperature: z.number().min(0.05).max(100).default(1),
    distillWeight: z.number().min(0).max(1).default(0.5),
    // Judged on a validation split of the training data (10%, seeded), never on the evaluation data.
    earlyStop: z
      .object({
        patience: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(2)
          .describe('Stop after this many epochs without a better validation retention.'),
        retention: z.number().gt(0).max(2).optional().describe('Stop as soon as the validation retention reaches this.'),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PruningOptions = z.infer<typeof pruningSchema>;
export type FineTuneOptions = z.infer<typeof fineTuneSchema>;
export type Criterion = (typeof CRITERIA)[number];
export type BackendName = (typeof BACKENDS)[number];

/** The files a pruning run writes (CLI --out dir) and a completed job offers for download. */
export const OUTPUT_FILES = ['model.json', 'weights.bin', 'model.zip', 'report.json', 'statistics.json'] as const;

/** Stages a job goes through, in order; reported as progress by the pipeline. */
export const STAGES = ['loading', 'statistics', 'pruning', 'evaluating', 'fine-tuning', 'measuring', 'saving'] as const;
export type Stage = (typeof STAGES)[number];

export interface Progress {
  stage: Stage;
  /** Overall progress of the job, 0..1. */
  progress: number;
  epoch?: number;
  step?: number;
  loss?: number;
}
