// Small zod schemas shared by several routes (path ids, list paging, display names).
import { z } from 'zod';
import { idSchema } from '../queue/payload.js';

export const idParams = z.object({ id: idSchema });

export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(200).optional(),
  })
  .strict();

export const nameSchema = z.string().trim().min(1).max(200);

/** The optional `name` form field of an upload, validated under its own name (errors say "name"). */
export const nameField = z.object({ name: nameSchema.optional() });
