// Every error Lopper raises on purpose, and how each becomes an RFC 9457 problem. The kinds of
// problem are a closed list (a mistyped kind does not compile); callers tell errors apart with
// instanceof. What a client may read: our own messages (which quote client input only clipped).
// What it never reads: an unexpected error's message, which goes to the log under the request's
// or the job's id; the client gets the kind and that id.
import type { ZodIssue } from 'zod';

// ---- problem details

/** `type` is a stable, non-resolvable tag URI per kind (RFC 9457 §3.1.1 allows these). */
const TITLES = {
  'bad-request': 'Bad request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  conflict: 'Conflict',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'invalid-input': 'Invalid input',
  'range-not-satisfiable': 'Range not satisfiable',
  'request-timeout': 'Request timeout',
  'too-many-requests': 'Too many requests',
  'quota-exceeded': 'Quota exceeded',
  'uri-too-long': 'URI too long',
  'header-too-large': 'Request header fields too large',
  'service-unavailable': 'Service unavailable',
  'internal-error': 'Internal error',
  'job-failed': 'Job failed',
} as const satisfies Record<string, string>;

export type ProblemKind = keyof typeof TITLES;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** The input at fault (a body path, a header, a file). */
  field?: string;
  /** Every validation issue when there are several (each with its own field). */
  errors?: { field: string; detail: string }[];
}

export const problemType = (kind: ProblemKind) => `tag:lopper,2025:problem:${kind}`;

export function problem(kind: ProblemKind, status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: problemType(kind), title: TITLES[kind], status, detail, ...extra };
}

/** A piece of client input short enough to quote in an error. */
export function clip(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/** Client text for a message, JSON-quoted and cut to `max` characters, so an upload cannot fill replies and logs. */
export function quoted(text: string, max = 32): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

// ---- the errors

/**
 * The caller's input is at fault (a bad model, a bad .npz, an impossible option). The CLI exits
 * with code 2; the API answers 4xx naming `field`; the worker fails the job without retrying.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    /** The input at fault, e.g. "data", "model.json", "weightsManifest[0].paths[1]", "pruning.ratio". */
    readonly field: string,
    message: string,
    /** 422 for content that is wrong; 413 for content that is too large once unpacked. */
    readonly status: 422 | 413 = 422,
  ) {
    super(message);
  }
}

/** Thrown when an AbortSignal fires mid-pipeline; the caller removes partial outputs. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

/** Thrown by route handlers and hooks: exactly the problem the client gets. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly kind: ProblemKind,
    readonly status: number,
    detail: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export type InputLocation = 'body' | 'query' | 'params' | 'headers';

/** zod refused a request part. The part decides the status (see the API's errors plugin). */
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

/** A list cursor this API did not hand out. */
export class BadCursorError extends Error {
  override readonly name = 'BadCursorError';
}

/** A webhook URL Lopper will not call (syntax, scheme, or an address in a refused range). */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/** A tenant already has the most webhook endpoints it may have. */
export class EndpointLimitError extends Error {
  override readonly name = 'EndpointLimitError';
  constructor(readonly max: number) {
    super(`a tenant may register at most ${max} webhook endpoints`);
  }
}

/** A reply that breaks its own schema: a server bug (500), since the document would be lying. */
export class ReplyShapeError extends Error {
  override readonly name = 'ReplyShapeError';
}

// ---- across a process boundary (the inspector's child, a job's child)

/** What crosses IPC: an InputError keeps its field and status; anything else only its message, for the log. */
export type WireError = { input: true; field: string; message: string; status: 422 | 413 } | { input: false; message: string };

export function toWire(err: unknown): WireError {
  if (err instanceof InputError) return { input: true, field: err.field, message: err.message, status: err.status };
  return { input: false, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

export function fromWire(w: WireError): Error {
  return w.input ? new InputError(w.field, w.message, w.status) : new Error(w.message);
}

// ---- what a failed job says

/**
 * The `error` of a failed job: the input's own message, or for anything else a stable kind and
 * where to look; the internal message itself is for the worker's log only.
 */
export function jobFailure(err: unknown, jobId: string, requestField: (field: string) => string = (f) => f): Problem {
  const instance = `/v1/jobs/${jobId}`;
  if (err instanceof InputError) return problem('invalid-input', 422, err.message, { field: requestField(err.field), instance });
  return problem('job-failed', 500, `the job failed inside Lopper; the worker log has the details under job id ${jobId}`, { instance });
}

// ---- common answers

export const notFound = (what: string, id: string, field = 'id') => new ApiError('not-found', 404, `${what} "${id}" does not exist`, field);

export const RETRY_AFTER_S = 5;

/** Redis is away: every route that needs it answers this until it is back. */
export const redisUnavailable = () =>
  new ApiError('service-unavailable', 503, 'the queue and record store (Redis) is not reachable; try again shortly', 'redis', {
    'retry-after': String(RETRY_AFTER_S),
  });
