// zod on every input and every reply. Routes declare zod schemas; Fastify calls these compilers
// with them. Where the bad value came from decides the status: a body that parses but breaks the
// schema is 422 (its syntax was fine, its content is not), a bad query string or header is 400,
// and a path id that cannot exist is simply an unknown id, 404.
import type { FastifySchemaCompiler } from 'fastify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
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

/** For input Fastify does not parse itself (multipart form fields). */
export function validate<S extends ZodTypeAny>(schema: S, value: unknown, location: InputLocation): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(location, parsed.error.issues);
  return parsed.data;
}

export const validatorCompiler: FastifySchemaCompiler<ZodTypeAny> = ({ schema, httpPart }) => {
  const location: InputLocation = httpPart === 'querystring' ? 'query' : (httpPart as InputLocation);
  return (value: unknown) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? { value: parsed.data } : { error: new ValidationError(location, parsed.error.issues) };
  };
};

/** Thrown (a 500) when a reply breaks its own schema: the document would be lying to clients. */
export class ReplyShapeError extends Error {
  override readonly name = 'ReplyShapeError';
}

export const serializerCompiler: FastifySerializerCompiler<unknown> = ({ schema, method, url }) => {
  const zod = schema as ZodTypeAny;
  // Bodiless responses (204, 304) declare `{type: 'null'}` for the document only.
  if (typeof zod?.safeParse !== 'function') return (data) => JSON.stringify(data);
  return (data) => {
    const parsed = zod.safeParse(data);
    if (!parsed.success) throw new ReplyShapeError(`${method} ${url}: reply breaks its schema: ${parsed.error.message}`);
    return JSON.stringify(parsed.data);
  };
};
