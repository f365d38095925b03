// RFC 9457 problem details: every error the API returns, and the `error` of a failed job.
// `type` is a stable, non-resolvable tag URI per kind of problem (RFC 9457 §3.1.1 allows these),
// so clients can switch on it; `field` names the input at fault (a body path, a header, a file).

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  field?: string;
  /** Every validation issue when there are several (each with its own field). */
  errors?: { field: string; detail: string }[];
}

const TITLES: Record<string, string> = {
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
};

export type ProblemKind = keyof typeof TITLES;

export const problemType = (kind: string) => `tag:lopper,2025:problem:${kind}`;

export function problem(kind: ProblemKind, status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: problemType(kind), title: TITLES[kind] ?? kind, status, detail, ...extra };
}

/** Thrown by route handlers; the errors plugin turns it into an application/problem+json reply. */
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

export const notFound = (what: string, id: string, field = 'id') => new ApiError('not-found', 404, `${what} "${id}" does not exist`, field);

/** Redis is away: every route that needs it answers this until it is back. */
export const redisUnavailable = () =>
  new ApiError('service-unavailable', 503, 'the queue and record store (Redis) is not reachable; try again shortly', 'redis', {
    'retry-after': String(RETRY_AFTER_S),
  });

export const RETRY_AFTER_S = 5;

/** A piece of client input short enough to quote in an error. */
export function clip(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}
