// The job request: the body of POST /v1/jobs and, unchanged, the BullMQ payload the worker reads.
// Defaults are filled in once, by the API, so the stored request shows exactly what will run.
import { z } from 'zod';
import { fineTuneSchema, pruningSchema } from '../request.js';
import { WEBHOOK_EVENTS, webhookEventSchema } from '../webhooks/events.js';
import { MAX_URL_LENGTH } from '../webhooks/targets.js';

/** Ids are UUIDs minted by Lopper; the pattern only keeps Redis keys and paths tame. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a valid id');

export const jobRequestSchema = z
  .object({
    modelId: idSchema,
    datasetId: idSchema,
    evalDatasetId: idSchema.optional(),
    pruning: pruningSchema,
    fineTune: fineTuneSchema.default({}),
    /** POSTed a signed event when the job ends (and at callbackEvents); the API checks the target. */
    callbackUrl: z
      .string()
      .min(1)
      .max(MAX_URL_LENGTH)
      .optional()
      .describe(
        "Gets a signed POST of each `callbackEvents` event of this job; checked like a webhook endpoint's URL (422 naming callbackUrl).",
      ),
    callbackEvents: z
      .array(webhookEventSchema)
      .min(1)
      .max(WEBHOOK_EVENTS.length)
      .optional()
      .describe('The events callbackUrl gets; by default the terminal ones (job.completed, job.failed, job.cancelled).'),
  })
  .strict();

export type JobRequest = z.infer<typeof jobRequestSchema>;

/** The operator's ceilings (MAX_EPOCHS, MAX_BATCH_SIZE, MAX_CALIBRATION_SAMPLES). */
export interface JobLimits {
  maxEpochs: number;
  maxBatchSize: number;
  maxCalibrationSamples: number;
}

/** jobRequestSchema within the operator's ceilings; each excess is an issue on its own field. */
export function boundedJobRequest(limits: JobLimits) {
  const ceilings: [path: [string, string], max: number, variable: string][] = [
    [['fineTune', 'epochs'], limits.maxEpochs, 'MAX_EPOCHS'],
    [['fineTune', 'batchSize'], limits.maxBatchSize, 'MAX_BATCH_SIZE'],
    [['pruning', 'calibrationSamples'], limits.maxCalibrationSamples, 'MAX_CALIBRATION_SAMPLES'],
  ];
  return jobRequestSchema.superRefine((request, ctx) => {
    for (const [[group, key], max, variable] of ceilings) {
      const value = (request[group as 'pruning' | 'fineTune'] as unknown as Record<string, number>)[key];
      if (value > max) {
        ctx.addIssue({
          code: z.ZodIssueCode.too_big,
          type: 'number',
          maximum: max,
          inclusive: true,
          path: [group, key],
          message: `must be at most ${max} on this service (${variable})`,
        });
      }
    }
  });
}
