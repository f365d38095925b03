// The OpenAPI document, generated: @fastify/swagger walks the registered routes, and this module
// turns their zod schemas into JSON Schema (named schemas become $refs to components), adds the
// error responses every route shares and the scope each needs. `npm run openapi` writes the result
// to openapi.yaml; a test fails when the committed file and the generated one differ.
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { stringify } from 'yaml';
import { z, type ZodTypeAny } from 'zod';
import { ignoreOverride, zodToJsonSchema } from 'zod-to-json-schema';
import type { ProblemKind } from '../errors.js';
import { COMPONENTS, problemSchema } from './schemas.js';

type Json = Record<string, unknown>;

const COMPONENT_NAMES = new Map<unknown, string>(Object.entries(COMPONENTS).map(([name, schema]) => [schema._def, name]));

/**
 * An input schema documents what a client may send (defaults shown); an output what it gets. A
 * named schema anywhere inside is a $ref to its component (`except`: the component being written).
 */
function jsonSchema(schema: ZodTypeAny, io: 'input' | 'output', except?: string): Json {
  const json = zodToJsonSchema(schema, {
    target: 'jsonSchema7',
    $refStrategy: 'none',
    override: (def) => {
      const name = COMPONENT_NAMES.get(def);
      return name && name !== except ? { $ref: `#/components/schemas/${name}` } : ignoreOverride;
    },
    effectStrategy: 'input',
    pipeStrategy: io,
    // Only .strict() objects (requests that refuse unknown keys) say additionalProperties: false;
    // replies may gain fields.
    removeAdditionalStrategy: 'strict',
    allowedAdditionalProperties: undefined,
    postProcess: (json, def) => (def === binary._def ? { ...json, format: 'binary' } : json),
  }) as Json;
  delete json.$schema;
  return json;
}

export function componentSchemas(): Record<string, Json> {
  return Object.fromEntries(Object.entries(COMPONENTS).map(([name, s]) => [name, jsonSchema(s, 'output', name)]));
}

/** A file part of a multipart form (documented as a binary string). */
export const binary = z.string();

const isZod = (v: unknown): v is ZodTypeAny => typeof (v as ZodTypeAny | undefined)?.safeParse === 'function';

/** A response with a body: `{description, headers?, content: {type: {schema}}}`, which Fastify serialises by content type. */
export function reply(schema: ZodTypeAny, description: string, headers?: Json, type = 'application/json') {
  return { description, ...(headers ? { headers } : {}), content: { [type]: { schema } } };
}

/** A response without a body (204, 304). */
export const empty = (description: string) => ({ type: 'null', description });

export const locationHeader = { Location: { type: 'string', description: 'The URL of the created resource.' } };

const retryAfter = (description: string) => ({ 'Retry-After': { type: 'integer', description } });

const PROBLEM_RESPONSES: Record<number, { name: string; description: string; headers?: Json; kinds: ProblemKind[] }> = {
  400: { name: 'BadRequest', description: 'The request is malformed: bad JSON, query string or header.', kinds: ['bad-request'] },
  401: { name: 'Unauthorized', description: 'No key, or a key that is not valid.', kinds: ['unauthorized'] },
  403: { name: 'Forbidden', description: "The key's scopes do not include the one the route needs.", kinds: ['forbidden'] },
  404: { name: 'NotFound', description: 'No such resource (or one of another tenant).', kinds: ['not-found'] },
  408: {
    name: 'RequestTimeout',
    description: 'The upload was too slow (UPLOAD_MIN_BYTES_PER_SEC over UPLOAD_IDLE_TIMEOUT_MS).',
    kinds: ['request-timeout'],
  },
  409: { name: 'Conflict', description: 'The resource is in a state that does not allow this.', kinds: ['conflict'] },
  413: {
    name: 'TooLarge',
    description: 'Too large (MAX_UPLOAD_BYTES, unpacked sizes, the stored-bytes quota).',
    kinds: ['payload-too-large'],
  },
  415: {
    name: 'UnsupportedMediaType',
    description: 'The body has another media type than the route takes.',
    kinds: ['unsupported-media-type'],
  },
  416: { name: 'RangeNotSatisfiable', description: 'The byte range is outside the file.', kinds: ['range-not-satisfiable'] },
  422: { name: 'InvalidInput', description: 'The content is not valid; `field` names the input at fault.', kinds: ['invalid-input'] },
  429: {
    name: 'TooManyRequests',
    description: "The key's rate limit is spent, or a count quota of the tenant is reached (`field` says which).",
    headers: {
      ...retryAfter('Seconds until the rate-limit window resets (rate limits only).'),
      'RateLimit-Limit': { type: 'integer' },
      'RateLimit-Remaining': { type: 'integer' },
      'RateLimit-Reset': { type: 'integer', description: 'Seconds until the window resets.' },
    },
    kinds: ['too-many-requests', 'quota-exceeded'],
  },
  503: {
    name: 'Unavailable',
    description: 'Redis (the queue and record store) is unreachable, or too many uploads wait for inspection.',
    headers: retryAfter('Seconds after which to try again.'),
    kinds: ['service-unavailable'],
  },
};

/** The problem+json responses for these statuses, to spread into a route's `response`. */
export function problems(...statuses: (keyof typeof PROBLEM_RESPONSES)[]) {
  return Object.fromEntries(
    statuses.map((s) => {
      const { description, headers } = PROBLEM_RESPONSES[s];
      return [s, reply(problemSchema, description, headers, 'application/problem+json')];
    }),
  );
}

/**
 * What every route of a kind answers besides its own responses: the errors of authentication,
 * rate limits and Redis for /v1, and those of its inputs (a JSON body: 400, 415, 422; a query or
 * header: 400; a path id: 404; an upload: 400, 408, 413, 415, 422).
 */
export function addSharedResponses(route: RouteOptions, v1: boolean): void {
  const schema = (route.schema ??= {}) as Json & { response?: Json };
  const statuses = new Set<keyof typeof PROBLEM_RESPONSES>(v1 ? [401, 403, 429, 503] : []);
  if (schema.body) [400, 415, 422].forEach((s) => statuses.add(s as 400));
  if (schema.querystring || schema.headers) statuses.add(400);
  if (schema.params) statuses.add(404);
  if (schema.multipart) [400, 408, 413, 415, 422].forEach((s) => statuses.add(s as 400));
  schema.response = { ...problems(...[...statuses].sort()), ...schema.response };
}

/** zod → JSON Schema for every part of a route's schema; `multipart` (not validated by Fastify: the upload code reads the parts) becomes the request body. */
const transform: FastifyDynamicSwaggerOptions['transform'] = ({ schema: fastifySchema, url }) => {
  const schema = fastifySchema as Json | undefined;
  if (!schema) return { schema: fastifySchema, url };
  const { body, querystring, params, headers, response, multipart, ...rest } = schema;
  const out: Json = { ...rest };
  if (isZod(body)) out.body = jsonSchema(body, 'input');
  if (isZod(multipart)) {
    out.body = jsonSchema(multipart, 'input');
    out.consumes = ['multipart/form-data'];
  }
  for (const [part, value] of Object.entries({ querystring, params, headers })) if (isZod(value)) out[part] = jsonSchema(value, 'input');
  if (response) {
    out.response = Object.fromEntries(
      Object.entries(response as Record<string, Json>).map(([status, r]) => {
        const content = r.content as Record<string, { schema: unknown }> | undefined;
        if (!content) return [status, r];
        const converted = Object.fromEntries(
          Object.entries(content).map(([type, c]) => [type, { schema: isZod(c.schema) ? jsonSchema(c.schema, 'output') : c.schema }]),
        );
        return [status, { ...r, content: converted }];
      }),
    );
  }
  return { schema: out, url };
};

type Operation = { responses?: Record<string, Json> };

/** Each shared error response is written once, in components.responses, and referred to from every operation. */
const transformObject: FastifyDynamicSwaggerOptions['transformObject'] = (input) => {
  const doc = (input as { openapiObject: Json & { paths: Record<string, Record<string, Operation>>; components: Json } }).openapiObject;
  const shared: Record<string, Json> = {};
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const known = PROBLEM_RESPONSES[Number(status)];
        if (!known || !(response.content as Json | undefined)?.['application/problem+json']) continue;
        shared[known.name] = response;
        op.responses![status] = { $ref: `#/components/responses/${known.name}` };
      }
    }
  }
  const byStatus = Object.values(PROBLEM_RESPONSES)
    .map((r) => r.name)
    .filter((n) => shared[n]);
  doc.components.responses = Object.fromEntries(byStatus.map((n) => [n, shared[n]]));
  return doc;
};

const DESCRIPTION = `Upload a TF.js Layers model and a calibration/fine-tuning dataset (.npz), start a job, poll it,
and download the pruned model. Pruning is Variance-Based Pruning of MLP blocks with mean-shift
compensation, followed by distillation fine-tuning.

Every error is \`application/problem+json\` (RFC 9457) and names the offending input in \`field\`;
that includes the router's own errors (400 for a bad percent-encoding, 414 for an over-long path
segment) and quotes no more than a short prefix of client input.

## Authentication, tenants and scopes
Every \`/v1\` route needs \`Authorization: Bearer <key>\`. A key belongs to one **tenant** and
carries **scopes**: \`read\` (GET), \`write\` (uploads, jobs, cancel, deletes, webhooks; includes
read) and \`admin\` (keys; includes both). An admin key of tenant \`default\` is the operator's: it
manages every tenant's keys, sets quotas and sees worker details in /readyz; an admin key of
another tenant manages its own tenant's keys only. Each operation's
\`x-scope\` says which it needs; a key without it gets 403. Every model, dataset and job belongs
to the tenant that created it; another tenant's ids answer 404 on every route, lists show only
the caller's records and \`Idempotency-Key\`s are per tenant. Keys are stored hashed; the key
itself is shown once, when it is created. The operator's \`API_KEY\` is a bootstrap admin key of
tenant \`default\`; with neither \`API_KEY\` nor any key created (and \`AUTH_REQUIRED\` unset) the
service runs open (every caller is admin of \`default\`) and logs warnings; from the first key on
it never does. Failed authentications are counted per client address: past the budget, 429.

    lopper keys create --tenant team-a --scope read --scope write --json   # → {id, key, tenant, scopes}
    curl -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
      -d '{"tenant":"team-a","scopes":["read","write"]}' http://localhost:8080/v1/keys
    curl -H "Authorization: Bearer $KEY" http://localhost:8080/v1/me   # tenant, scopes, quota, usage

## Quotas and rate limits
Per tenant (defaults \`QUOTA_*\`, overridable with \`PATCH /v1/tenants/{tenant}/quota\`): bytes
stored (models + datasets), number of models, number of datasets, queued + active jobs. An
upload past the bytes quota is 413, one past a count quota 429; the problem's \`field\` names the
quota (\`quota.storedBytes\`, \`quota.models\`, \`quota.datasets\`, \`quota.jobs\`) and nothing is
written. Each key may make \`RATE_LIMIT_MAX\` requests per \`RATE_LIMIT_WINDOW_MS\`, counted in
Redis across all API processes; responses carry \`RateLimit-Limit\`, \`RateLimit-Remaining\` and
\`RateLimit-Reset\`, and a 429 also \`Retry-After\`.

## Webhooks
A job request may carry \`callbackUrl\` (and \`callbackEvents\`, by default the terminal ones), and
a tenant may register endpoints (\`POST /v1/webhooks\`) that get its chosen events for every job.
Events: \`job.completed\`, \`job.failed\`, \`job.cancelled\`, \`job.epoch\`. Each is a POST of
\`{"id", "type", "createdAt", "data": <the job>}\` with headers \`Lopper-Event\`, \`Lopper-Delivery\`
(the same on every retry: dedupe on it) and \`Lopper-Signature: t=<unix seconds>,v1=<hex>\`,
where v1 is HMAC-SHA256 with the tenant's secret over \`<t>.<raw body>\`. The secret is shown
once: in the reply that created it (the tenant's first endpoint or callbackUrl, as \`secret\` or
\`webhookSecret\`) or from \`POST /v1/webhooks/secret\`, which rotates it. A delivery that does not
get a 2xx within \`WEBHOOK_TIMEOUT_MS\` is retried with exponential backoff
(\`WEBHOOK_ATTEMPTS\`, \`WEBHOOK_BACKOFF_MS\`); redirects are not followed; every attempt is in
\`GET /v1/jobs/{id}/deliveries\`. Targets in private, loopback, link-local and other
special-purpose ranges are refused (422) unless the operator lists them in
\`WEBHOOK_ALLOW_CIDRS\`. docs/webhooks.md shows how to verify a signature.

    curl -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
      -d '{"url":"https://hooks.example.com/lopper","events":["job.completed","job.failed"]}' \\
      http://localhost:8080/v1/webhooks   # → {id, url, events, createdAt, secret?}

Uploads are inspected in a sandbox with a deadline and memory caps; a file that exceeds them is
a 422 naming it. Unpacked sizes count against \`MAX_UPLOAD_BYTES\` (413), as does a compression
ratio above \`MAX_COMPRESSION_RATIO\`. A request body slower than \`UPLOAD_MIN_BYTES_PER_SEC\` over
\`UPLOAD_IDLE_TIMEOUT_MS\` is cut off with 408. While Redis is unreachable every \`/v1\` route
answers 503 with \`Retry-After\`. The README's security section lists every limit.
`;

export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Lopper',
        version: '1.0.0',
        summary: 'Pruning-as-a-service for trained TensorFlow.js Layers models.',
        description: DESCRIPTION,
      },
      servers: [{ url: '/' }],
      tags: ['models', 'datasets', 'jobs', 'webhooks', 'access', 'service'].map((name) => ({ name })),
      security: [{}, { bearer: [] }],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: "A tenant's API key (`lop_<id>_<secret>`) or the operator's API_KEY; not needed while the service runs open.",
          },
        },
        schemas: componentSchemas(),
      },
    },
    transform,
    transformObject,
  };
}

/** The document as YAML, unfolded (long lines stay lines, multi-line text stays a literal block). */
export const openapiYaml = (app: FastifyInstance) => stringify(app.swagger(), { lineWidth: 0, aliasDuplicateObjects: false });
