// One error handler for the whole API: whatever was thrown becomes an RFC 9457
// application/problem+json reply naming the field at fault. Unknown routes get the same shape.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { BadCursorError } from '../../store/paging.js';
import { ApiError, problem, type Problem } from '../../problem.js';
import { fieldOf, ValidationError } from '../validate.js';

function fromValidation(err: ValidationError): Problem {
  const errors = err.issues.map((i) => ({ field: fieldOf(err.location, i), detail: i.message }));
  const first = errors[0];
  const detail = errors.map((e) => `${e.field}: ${e.detail}`).join('; ');
  if (err.location === 'params') return problem('not-found', 404, `no such resource (${detail})`, { field: first.field });
  if (err.location === 'body') return problem('invalid-input', 422, detail, { field: first.field, errors });
  return problem('bad-request', 400, detail, { field: first.field, errors });
}

/** Errors raised by Fastify itself or its plugins carry a statusCode and a code. */
function fromFastify(err: FastifyError): Problem {
  const status = err.statusCode ?? 500;
  if (status === 413) return problem('payload-too-large', 413, err.message, { field: 'body' });
  // @fastify/multipart answers a non-multipart request with 406; it is a media type problem.
  if (status === 415 || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return problem('unsupported-media-type', 415, err.message, { field: 'Content-Type' });
  }
  return problem('bad-request', status, err.message, { field: 'body' });
}

export function toProblem(err: unknown): Problem {
  if (err instanceof ApiError) return problem(err.kind, err.status, err.message, err.field ? { field: err.field } : {});
  if (err instanceof ValidationError) return fromValidation(err);
  if (err instanceof BadCursorError) return problem('bad-request', 400, err.message, { field: 'cursor' });
  const e = err as FastifyError & { field?: string };
  // InputError from the core (bad model files, bad .npz): the caller's content is at fault.
  if (e?.name === 'InputError') return problem('invalid-input', 422, e.message, { field: e.field });
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return fromFastify(e);
  return problem('internal-error', 500, 'unexpected server error; the server log has the details under this request id');
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, p: Problem, headers: Record<string, string> = {}) {
  return reply
    .code(p.status)
    .headers(headers)
    .type('application/problem+json')
    .send({ ...p, instance: req.url });
}

export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler((err, req, reply) => {
      const p = toProblem(err);
      if (p.status >= 500) req.log.error({ err }, 'request failed');
      else req.log.info({ problem: p.type, field: p.field, status: p.status }, p.detail);
      return sendProblem(reply, req, p, err instanceof ApiError ? err.headers : {});
    });
    app.setNotFoundHandler((req, reply) =>
      sendProblem(reply, req, problem('not-found', 404, `no route ${req.method} ${req.url.split('?')[0]}`, { field: 'path' })),
    );
  },
  { name: 'lopper-errors' },
);
