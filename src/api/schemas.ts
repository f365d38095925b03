// The API's shapes, declared once with zod: routes validate their input with them, replies are
// serialised through them (a reply that breaks its schema is a server bug, not a client's
// surprise), and openapi.yaml is generated from them (src/api/openapi.ts). The named ones become
// the document's components.
import { z } from 'zod';
import { JOB_STATES } from '../store/jobs.js';
import { OUTPUT_FILES, STAGES } from '../request.js';
import { fineTuneSchema, pruningSchema } from '../request.js';
import { idSchema, jobRequestSchema } from '../queue/payload.js';
import { SCOPES, tenantSchema } from '../store/api-keys.js';
import { QUOTA_NAMES } from '../store/tenants.js';
import { webhookEventSchema } from '../webhooks/events.js';

const dateTime = z.string().datetime();
const int = z.number().int();

// ---- inputs shared by several routes

export const idParams = z.object({ id: idSchema });

export const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(200).optional().describe('The `nextCursor` of the previous page.'),
  })
  .strict();

export const nameSchema = z.string().trim().min(1).max(200);

/** The optional `name` form field of an upload, validated under its own name (errors say "name"). */
export const nameField = z.object({ name: nameSchema.optional() });

// ---- components

export const problemSchema = z.object({
  type: z.string().describe('A stable tag URI per kind of problem, e.g. tag:lopper,2025:problem:invalid-input.'),
  title: z.string(),
  status: int,
  detail: z.string(),
  instance: z.string().optional(),
  field: z.string().optional().describe('The input at fault (body path, header, form field or file).'),
  errors: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
});

const shape = z.array(int.nullable());
const fileSchema = z.object({ name: z.string(), bytes: int, sha256: z.string() });

export const tenantIdSchema = tenantSchema;
export const scopeSchema = z.enum(SCOPES);
export const jobStateSchema = z.enum(JOB_STATES);
export const artifactNameSchema = z.enum(OUTPUT_FILES);

export const modelSchema = z.object({
  id: z.string(),
  tenant: tenantIdSchema,
  name: z.string(),
  createdAt: dateTime,
  params: int,
  macs: int.describe('Multiply-accumulates per sample.'),
  inputShape: shape,
  outputShape: shape,
  blocks: z.array(z.object({ fc1: z.string(), fc2: z.string(), hidden: int, activation: z.string() })),
  notPrunable: z.array(z.object({ layer: z.string(), reason: z.string() })),
  files: z.array(fileSchema),
});

export const datasetSchema = z.object({
  id: z.string(),
  tenant: tenantIdSchema,
  name: z.string(),
  createdAt: dateTime,
  samples: int,
  xShape: z.array(int),
  sampleShape: z.array(int),
  xDtype: z.string(),
  hasLabels: z.boolean(),
  classes: int.nullable(),
  bytes: int,
  sha256: z.string(),
});

const attemptSchema = z.object({
  attempt: int,
  workerId: z.string(),
  startedAt: dateTime,
  endedAt: dateTime.nullable(),
  outcome: z
    .enum(['completed', 'failed', 'cancelled', 'released', 'error', 'crashed', 'timed-out', 'lost'])
    .nullable()
    .describe(
      'failed: bad input (never retried); released: its worker shut down; error, crashed (its process died), lost (its worker vanished): retried up to JOB_ATTEMPTS; timed-out: past JOB_TIMEOUT_MS.',
    ),
  detail: z.string().optional(),
  resumedFromEpoch: int.optional().describe('The attempt continued from the checkpoint taken after this epoch.'),
});

export const jobSchema = z.object({
  id: z.string(),
  tenant: tenantIdSchema,
  webhookSecret: z
    .string()
    .optional()
    .describe("Only in the 202 of a tenant's first job with a callbackUrl when the tenant had no signing secret yet; never again."),
  state: jobStateSchema,
  stage: z.enum(STAGES).nullable(),
  progress: z.number().min(0).max(1),
  epoch: int.nullable(),
  step: int.nullable(),
  loss: z.number().nullable(),
  createdAt: dateTime,
  startedAt: dateTime.nullable(),
  finishedAt: dateTime.nullable(),
  cancelRequested: z.boolean(),
  attempts: int.describe('Times a worker started the job (a retry after a worker died counts again).'),
  attemptLog: z.array(attemptSchema).describe('Every start, oldest first; an attempt still running has endedAt and outcome null.'),
  request: jobRequestSchema,
  metrics: z.object({
    epochs: z.array(
      z.object({ epoch: int, loss: z.number(), evalAccuracy: z.number().nullable().optional(), seconds: z.number().optional() }),
    ),
  }),
  report: z.record(z.unknown()).nullable().describe("The core's report.json once the job completed."),
  error: problemSchema.nullable(),
  artifacts: z.array(z.object({ name: artifactNameSchema, bytes: int, sha256: z.string(), href: z.string() })),
});

export const readySchema = z
  .object({
    status: z.literal('ready'),
    redis: z.literal('ok').optional(),
    backend: z.string().nullable().optional().describe('Backend of the most recently seen worker.'),
    unhealthyWorkers: int.optional(),
    workers: z
      .array(
        z.object({
          id: z.string(),
          host: z.string(),
          pid: int,
          backend: z.string(),
          device: z.string(),
          startedAt: dateTime,
          seenAt: dateTime,
          jobId: z.string().nullable(),
          progressAt: dateTime.nullable().describe('When its current job last progressed.'),
          healthy: z.boolean().describe('false when its job had not progressed for WORKER_STALL_MS at its last heartbeat.'),
        }),
      )
      .optional(),
  })
  .describe("Everything but `status` is shown to the operator's admin keys only.");

export const apiKeySchema = z.object({
  id: z.string(),
  tenant: tenantIdSchema,
  scopes: z.array(scopeSchema),
  name: z.string().nullable(),
  createdAt: dateTime,
});

const quotaDescriptions: Record<(typeof QUOTA_NAMES)[number], string | undefined> = {
  storedBytes: 'Bytes of models + datasets.',
  models: undefined,
  datasets: undefined,
  jobs: 'Queued + active jobs at once.',
};
export const quotaSchema = z.object(
  Object.fromEntries(QUOTA_NAMES.map((n) => [n, quotaDescriptions[n] ? int.describe(quotaDescriptions[n]) : int])) as Record<
    (typeof QUOTA_NAMES)[number],
    typeof int
  >,
);

export const tenantResourceSchema = z.object({
  tenant: tenantIdSchema,
  quota: quotaSchema,
  overridden: z.array(z.string()).describe('Quotas set for this tenant rather than taken from the defaults.'),
  usage: quotaSchema,
});

export const webhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(webhookEventSchema),
  createdAt: dateTime,
  secret: z.string().optional().describe("Only in the reply that created the tenant's signing secret."),
});

export const deliveryAttemptSchema = z.object({
  deliveryId: z.string().describe('The Lopper-Delivery header; the same on every attempt.'),
  event: webhookEventSchema,
  url: z.string(),
  attempt: int,
  at: dateTime,
  ok: z.boolean(),
  status: int.nullable().describe("The receiver's HTTP status; null when none came."),
  ms: int,
  error: z.string().optional(),
});

/** Named in the document's components; every other use of these schemas refers to them. */
export const COMPONENTS = {
  Problem: problemSchema,
  Model: modelSchema,
  Dataset: datasetSchema,
  Pruning: pruningSchema,
  FineTune: fineTuneSchema,
  JobRequest: jobRequestSchema,
  JobState: jobStateSchema,
  ArtifactName: artifactNameSchema,
  Job: jobSchema,
  Ready: readySchema,
  TenantId: tenantIdSchema,
  Scope: scopeSchema,
  ApiKey: apiKeySchema,
  Quota: quotaSchema,
  Tenant: tenantResourceSchema,
  WebhookEvent: webhookEventSchema,
  WebhookEndpoint: webhookEndpointSchema,
  DeliveryAttempt: deliveryAttemptSchema,
} as const;

/** One page of a list. */
export const page = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
export const items = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item) });
