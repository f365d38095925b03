// zod on every input. Where the bad value came from decides the status: a body that parses but
// breaks the schema is 422 (its syntax was fine, its content is not), a bad query string or header
// is 400, and a path id that cannot exist is simply an unknown id, 404.
import type { z, ZodIssue, ZodTypeAny } from 'zod';

export type InputLocation = 'body' | 'query' | 'params' | 'headers';

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly location: InputLocation,
    readonly issues: ZodIssue[],
  ) {
    super(issues.map((i) => `${fieldOf(location, i)}: ${i.message}`).join('; '));
  }
}

/** The dotted path of an issue ("pruning.ratio"), or the location itself for a whole-value issue. */
export function fieldOf(location: InputLocation, issue: ZodIssue): string {
  // Unknown keys in a strict object are reported on the object; name the key itself.
  if (issue.code === 'unrecognized_keys') return [...issue.path, issue.keys[0]].join('.');
  return issue.path.length ? issue.path.join('.') : location;
}

export function validate<S extends ZodTypeAny>(schema: S, value: unknown, location: InputLocation): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(location, parsed.error.issues);
  return parsed.data;
}
