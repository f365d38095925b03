// /v1/jobs: create (validated, checked against the model and dataset, then enqueued), read, list,
// cancel. The API never runs a job: it writes the record, adds the BullMQ job and returns 202.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkCompatible } from '../../compatibility.js';
import { boundedJobRequest, type JobRequest } from '../../queue/payload.js';
import type { DatasetRecord, ModelRecord } from '../../store/catalog.js';
import { hashBody } from '../../store/idempotency.js';
import { FINISHED_STATES, JobStore } from '../../store/jobs.js';
import type { Services } from '../plugins/services.js';
import { ApiError, notFound } from '../../errors.js';
import { quotaExceeded } from '../quota.js';
import { checkWebhookTarget } from '../webhook-target.js';
import { jobHref, jobResource } from '../resources.js';
import { idParams, jobSchema, jobStateSchema, listQuery, page } from '../schemas.js';
import { locationHeader, problems, reply } from '../openapi.js';

const jobsQuery = listQuery.extend({ state: jobStateSchema.optional() });
const idempotencyHeader = z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }).passthrough();
const tags = ['jobs'];

/** The stored records must exist, and the data must fit the model (the core's own check). */
async function checkReferences(lopper: Services, tenant: string, request: JobRequest): Promise<void> {
  const model: ModelRecord | null = await lopper.models.get(request.modelId, tenant);
  if (!model) throw notFound('model', request.modelId, 'modelId');
  const dataset = async (field: 'datasetId' | 'evalDatasetId') => {
    const id = request[field];
    if (id === undefined) return null;
    const ds: DatasetRecord | null = await lopper.datasets.get(id, tenant);
    if (!ds) throw notFound('dataset', id, field);
    return ds;
  };
  const data = (await dataset('datasetId'))!;
  checkCompatible(model, data, await dataset('evalDatasetId'), { model: 'modelId', data: 'datasetId', evalData: 'evalDatasetId' });
}

/** A job request is JSON; another declared media type is 415 before any body parser runs. */
async function requireJson(req: FastifyRequest): Promise<void> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('unsupported-media-type', 415, 'a job request is an application/json body', 'Content-Type');
  }
}

export default async function jobRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lopper } = app;

  const createSchema = {
    tags,
    operationId: 'createJob',
    summary: 'Start a pruning job.',
    description: `The dataset's sample shape must fit the model's input (checked before enqueueing, 422
otherwise). With an \`Idempotency-Key\`, repeating the same key and body returns the same job;
the same key with another body is 422.`,
    headers: idempotencyHeader,
    body: boundedJobRequest(lopper.config),
    response: { 202: reply(jobSchema, 'Queued.', locationHeader), ...problems(404, 409, 408) },
  };
  app.post('/jobs', { onRequest: requireJson, schema: createSchema }, async (req, res) => {
    const key = req.headers['idempotency-key'];
    const request = req.body;
    const { tenant } = req.principal;
    await checkReferences(lopper, tenant, request);
    if (request.callbackUrl !== undefined)
      request.callbackUrl = await checkWebhookTarget(lopper.webhookPolicy, request.callbackUrl, 'callbackUrl');

    const id = randomUUID();
    if (key !== undefined) {
      const claim = await lopper.idempotency.claim(tenant, key, hashBody(req.body), id);
      if (claim.kind === 'mismatch') {
        throw new ApiError('invalid-input', 422, 'this Idempotency-Key was already used with a different request body', 'Idempotency-Key');
      }
      if (claim.kind === 'repeat') {
        const earlier = await lopper.jobs.get(claim.jobId, tenant);
        if (!earlier)
          throw new ApiError('conflict', 409, 'a request with this Idempotency-Key is still being processed', 'Idempotency-Key');
        return res.code(202).header('location', jobHref(earlier.id)).send(jobResource(earlier));
      }
    }

    const record = JobStore.newRecord(id, tenant, request);
    try {
      const quota = await lopper.tenants.quota(tenant);
      const outcome = await lopper.jobs.create(record, quota.jobs);
      if (outcome === 'quota') throw quotaExceeded(tenant, 'jobs', quota);
      // The reference vanished between the check above and now (deleted concurrently).
      if (outcome !== 'ok') throw notFound(outcome === 'modelId' ? 'model' : 'dataset', String(request[outcome]), outcome);
      try {
        await lopper.queue.add('prune', request, {
          jobId: id,
          removeOnComplete: 1000,
          removeOnFail: 1000,
          attempts: lopper.config.jobAttempts,
          backoff: { type: 'exponential', delay: lopper.config.jobBackoffMs },
        });
      } catch (err) {
        await lopper.jobs.discard(id);
        throw err;
      }
    } catch (err) {
      if (key !== undefined) await lopper.idempotency.release(tenant, key);
      throw err;
    }
    // A tenant's first callback mints its signing secret; this reply is the one place it is shown.
    const minted = request.callbackUrl !== undefined ? (await lopper.webhooks.ensureSecret(tenant)).secret : null;
    const resource = jobResource(record);
    return res
      .code(202)
      .header('location', jobHref(id))
      .send(minted ? { ...resource, webhookSecret: minted } : resource);
  });

  const listSchema = {
    tags,
    operationId: 'listJobs',
    summary: 'Jobs, newest first.',
    querystring: jobsQuery,
    response: { 200: reply(page(jobSchema), 'One page.') },
  };
  app.get('/jobs', { schema: listSchema }, async (req) => {
    const q = req.query;
    const page = await lopper.jobs.list(req.principal.tenant, q.limit, q.cursor, q.state);
    return { items: page.items.map(jobResource), nextCursor: page.nextCursor };
  });

  app.get(
    '/jobs/:id',
    { schema: { tags, operationId: 'getJob', params: idParams, response: { 200: reply(jobSchema, 'The job.') } } },
    async (req) => {
      const { id } = req.params;
      const rec = await lopper.jobs.get(id, req.principal.tenant);
      if (!rec) throw notFound('job', id);
      return jobResource(rec);
    },
  );

  // A queued job is removed from the queue and ends cancelled at once (200). An active one is
  // flagged and its worker told over pub/sub; it stops within one batch and ends cancelled (202).
  const cancelSchema = {
    tags,
    operationId: 'cancelJob',
    summary: 'Cancel a queued or active job.',
    description: `A queued job is removed and ends \`cancelled\` at once (200). An active job is told to stop:
it stops within one training batch, its partial files are deleted and it ends \`cancelled\`
(202; poll the job). A job that has finished is 409.`,
    params: idParams,
    response: { 200: reply(jobSchema, 'Cancelled.'), 202: reply(jobSchema, 'Cancellation requested.', locationHeader), ...problems(409) },
  };
  app.post('/jobs/:id/cancel', { schema: cancelSchema }, async (req, res) => {
    const { id } = req.params;
    const rec = await lopper.jobs.get(id, req.principal.tenant);
    if (!rec) throw notFound('job', id);
    const finished = () => new ApiError('conflict', 409, `job "${id}" has already finished`, 'id');
    if (FINISHED_STATES.includes(rec.state)) throw finished();

    if (rec.state === 'queued') {
      // remove() refuses (0) a job a worker has just locked; then it is active and handled below.
      const removed = (await lopper.queue.remove(id)) === 1 || (await lopper.queue.getJobState(id)) === 'unknown';
      if (removed) {
        const t = await lopper.jobs.transition(id, {
          from: ['queued'],
          to: 'cancelled',
          set: { cancelRequested: true, finishedAt: new Date().toISOString() },
        });
        if (t.applied) return res.code(200).send(jobResource((await lopper.jobs.get(id))!));
      }
    }
    const t = await lopper.jobs.transition(id, { from: ['queued', 'active'], set: { cancelRequested: true } });
    if (!t.applied) throw finished();
    await lopper.publishCancel(id);
    return res
      .code(202)
      .header('location', jobHref(id))
      .send(jobResource((await lopper.jobs.get(id))!));
  });
}
