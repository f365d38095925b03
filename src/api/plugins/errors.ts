// One error handler for the whole API: whatever was thrown becomes an RFC 9457
// application/problem+json reply naming the field at fault. Unknown routes, the router's own errors
// (bad percent-encoding, over-long ids) and broken HTTP get the same shape. No reply quotes more
// than a short prefix of what the client sent.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isRedisUnavailable } from '../../queue/connection.js';
import {
  ApiError,
  BadCursorError,
  clip,
  fieldOf,
  InputError,
  problem,
  redisUnavailable,
  ValidationError,
  type Problem,
} from '../../errors.js';

const MAX_ERRORS = 20;

function fromValidation(err: ValidationError): Problem {
  const errors = err.issues.slice(0, MAX_ERRORS).map((i) => ({ field: fieldOf(err.location, i), detail: i.message }));
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
  if (status === 414) return problem('uri-too-long', 414, 'a path segment is too long', { field: 'path' });
  // @fastify/multipart answers a non-multipart request with 406; it is a media type problem.
  if (status === 415 || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return problem('unsupported-media-type', 415, err.message, { field: 'Content-Type' });
  }
  if (err.code === 'FST_ERR_BAD_URL') return problem('bad-request', 400, 'the path is not valid (bad percent-encoding)', { field: 'path' });
  return problem('bad-request', status, err.message, { field: 'body' });
}

export function toProblem(err: unknown): Problem {
  if (err instanceof ApiError) return problem(err.kind, err.status, err.message, err.field ? { field: err.field } : {});
  if (err instanceof ValidationError) return fromValidation(err);
  if (err instanceof BadCursorError) return problem('bad-request', 400, err.message, { field: 'cursor' });
  // From the core (bad model files, bad .npz): the caller's content is at fault.
  if (err instanceof InputError) {
    return problem(err.status === 413 ? 'payload-too-large' : 'invalid-input', err.status, err.message, { field: err.field });
  }
  if (isRedisUnavailable(err)) return toProblem(redisUnavailable());
  const e = err as FastifyError;
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return fromFastify(e);
  return problem('internal-error', 500, 'unexpected server error; the server log has the details under this request id');
}

function headersOf(err: unknown): Record<string, string> {
  if (err instanceof ApiError) return err.headers;
  return isRedisUnavailable(err) ? redisUnavailable().headers : {};
}

/** Client input quoted in a problem (detail, field, instance) is clipped, so a reply stays small. */
function clipped(p: Problem, instance: string): Problem {
  return {
    ...p,
    detail: clip(p.detail, 500),
    instance: clip(instance, 200),
    ...(p.field !== undefined ? { field: clip(p.field, 100) } : {}),
    ...(p.errors ? { errors: p.errors.map((e) => ({ field: clip(e.field, 100), detail: clip(e.detail, 200) })) } : {}),
  };
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, p: Problem, headers: Record<string, string> = {}) {
  return reply.code(p.status).headers(headers).type('application/problem+json').send(clipped(p, req.url));
}

/** Fastify's `frameworkErrors` option: the router's own errors (bad URL, over-long path parameter). */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  return sendProblem(reply, req, toProblem(err));
}

/** Fastify's `clientErrorHandler`: HTTP that never became a request (header overflow, timeouts, garbage). */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const [p, status] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [problem('request-timeout', 408, 'the request was not received in time', { field: 'body' }), '408 Request Timeout']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            problem('header-too-large', 431, 'the request headers are too large', { field: 'headers' }),
            '431 Request Header Fields Too Large',
          ]
        : [problem('bad-request', 400, 'malformed HTTP request', { field: 'request' }), '400 Bad Request'];
  const body = JSON.stringify(p);
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler((err, req, reply) => {
      const p = toProblem(err);
      if (p.status >= 500 && p.status !== 503) req.log.error({ err }, 'request failed');
      else req.log.info({ problem: p.type, field: p.field, status: p.status }, p.detail);
      return sendProblem(reply, req, p, headersOf(err));
    });
    app.setNotFoundHandler((req, reply) =>
      sendProblem(reply, req, problem('not-found', 404, `no route ${req.method} ${clip(req.url.split('?')[0])}`, { field: 'path' })),
    );
  },
  { name: 'lopper-errors' },
);
