// zod on every input and every reply. Routes declare zod schemas; Fastify calls these compilers
// with them. Where the bad value came from decides the status: a body that parses but breaks the
// schema is 422 (its syntax was fine, its content is not), a bad query string or header is 400,
// and a path id that cannot exist is simply an unknown id, 404.
import type { FastifySchemaCompiler } from 'fastify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import type { z, ZodTypeAny } from 'zod';
import { ReplyShapeError, ValidationError, type InputLocation } from '../errors.js';

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
