// The job request: the body of POST /v1/jobs and, unchanged, the BullMQ payload the worker reads.
// Defaults are filled in once, by the API, so the stored request shows exactly what will run.
import { z } from 'zod';
import { fineTuneSchema, pruningSchema } from '../request.js';

/** Ids are UUIDs minted by Lopper; the pattern only keeps Redis keys and paths tame. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a valid id');

export const jobRequestSchema = z
  .object({
    modelId: idSchema,
    datasetId: idSchema,
    evalDatasetId: idSchema.optional(),
    pruning: pruningSchema,
    fineTune: fineTuneSchema.default({}),
  })
  .strict();

export type JobRequest = z.infer<typeof jobRequestSchema>;
