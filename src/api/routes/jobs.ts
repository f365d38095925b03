// /v1/jobs: create (validated, checked against the model and dataset, then enqueued), read, list,
// cancel. The API never runs a job: it writes the record, adds the BullMQ job and returns 202.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sampleShapeFits } from '../../io/dataset.js';
import { boundedJobRequest, type JobRequest } from '../../queue/payload.js';
import type { DatasetRecord, ModelRecord } from '../../store/catalog.js';
import { hashBody } from '../../store/idempotency.js';
import { FINISHED_STATES, JOB_STATES, JobStore } from '../../store/jobs.js';
import type { Services } from '../plugins/services.js';
import { ApiError, notFound } from '../../problem.js';
import { quotaExceeded } from '../quota.js';
import { checkWebhookTarget } from '../webhook-target.js';
import { jobHref, jobResource } from '../resources.js';
import { idParams, listQuery } from '../schemas.js';
import { validate } from '../validate.js';

const jobsQuery = listQuery.extend({ state: z.enum(JOB_STATES).optional() });
const idempotencyHeader = z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }).passthrough();

const fmt = (shape: (number | null)[]) => `[${shape.map((d) => d ?? 'null').join(', ')}]`;

/** The checks that need the stored records: the data must fit the model, and the model must be prunable. */
async function checkCompatible(lopper: Services, tenant: string, request: JobRequest): Promise<void> {
  const model: ModelRecord | null = await lopper.models.get(request.modelId, tenant);
  if (!model) throw notFound('model', request.modelId, 'modelId');
  if (model.blocks.length === 0) {
    throw new ApiError('invalid-input', 422, `model "${model.id}" has no prunable MLP block (Dense → activation → Dense)`, 'modelId');
  }
  const outputs = model.outputShape[model.outputShape.length - 1];
  for (const field of ['datasetId', 'evalDatasetId'] as const) {
    const id = request[field];
    if (id === undefined) continue;
    const ds: DatasetRecord | null = await lopper.datasets.get(id, tenant);
    if (!ds) throw notFound('dataset', id, field);
    if (!sampleShapeFits(ds.sampleShape, model.inputShape.slice(1))) {
      throw new ApiError(
        'invalid-input', 422,
        `dataset "${id}" has samples of shape ${fmt(ds.sampleShape)} but the model's input is ${fmt(model.inputShape)}`,
        field,
      );
    }
    if (field === 'datasetId' && request.evalDatasetId === undefined && ds.samples < 2) {
      // Without evalDatasetId the worker holds out 10% of the data for evaluation.
      throw new ApiError('invalid-input', 422, `dataset "${id}" has ${ds.samples} sample: give evalDatasetId, or at least 2 samples to hold some out`, field);
    }
    if (ds.hasLabels && ds.classes !== null && typeof outputs === 'number' && ds.classes > outputs) {
      throw new ApiError('invalid-input', 422, `dataset "${id}" has class ids up to ${ds.classes - 1} but the model outputs ${outputs} classes`, field);
    }
  }
}

/** A job request is JSON; another declared media type is 415 before any body parser runs. */
async function requireJson(req: FastifyRequest): Promise<void> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('unsupported-media-type', 415, 'a job request is an application/json body', 'Content-Type');
  }
}

export default async function jobRoutes(app: FastifyInstance) {
  const { lopper } = app;
  const jobRequest = boundedJobRequest(lopper.config);

  app.post('/v1/jobs', { onRequest: requireJson }, async (req, reply) => {
    const key = validate(idempotencyHeader, req.headers, 'headers')['idempotency-key'];
    const request = validate(jobRequest, req.body, 'body');
    const { tenant } = req.principal;
    await checkCompatible(lopper, tenant, request);
    if (request.callbackUrl !== undefined) request.callbackUrl = await checkWebhookTarget(lopper.webhookPolicy, request.callbackUrl, 'callbackUrl');

    const id = randomUUID();
    if (key !== undefined) {
      const claim = await lopper.idempotency.claim(tenant, key, hashBody(req.body), id);
      if (claim.kind === 'mismatch') {
        throw new ApiError('invalid-input', 422, 'this Idempotency-Key was already used with a different request body', 'Idempotency-Key');
      }
      if (claim.kind === 'repeat') {
        const earlier = await lopper.jobs.get(claim.jobId, tenant);
        if (!earlier) throw new ApiError('conflict', 409, 'a request with this Idempotency-Key is still being processed', 'Idempotency-Key');
        return reply.code(202).header('location', jobHref(earlier.id)).send(jobResource(earlier));
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
          jobId: id, removeOnComplete: 1000, removeOnFail: 1000,
          attempts: lopper.config.jobAttempts, backoff: { type: 'exponential', delay: lopper.config.jobBackoffMs },
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
    return reply.code(202).header('location', jobHref(id)).send(minted ? { ...resource, webhookSecret: minted } : resource);
  });

  app.get('/v1/jobs', async (req) => {
    const q = validate(jobsQuery, req.query, 'query');
    const page = await lopper.jobs.list(req.principal.tenant, q.limit, q.cursor, q.state);
    return { items: page.items.map(jobResource), nextCursor: page.nextCursor };
  });

  app.get('/v1/jobs/:id', async (req) => {
    const { id } = validate(idParams, req.params, 'params');
    const rec = await lopper.jobs.get(id, req.principal.tenant);
    if (!rec) throw notFound('job', id);
    return jobResource(rec);
  });

  // A queued job is removed from the queue and ends cancelled at once (200). An active one is
  // flagged and its worker told over pub/sub; it stops within one batch and ends cancelled (202).
  app.post('/v1/jobs/:id/cancel', async (req, reply) => {
    const { id } = validate(idParams, req.params, 'params');
    const rec = await lopper.jobs.get(id, req.principal.tenant);
    if (!rec) throw notFound('job', id);
    const finished = () => new ApiError('conflict', 409, `job "${id}" has already finished`, 'id');
    if (FINISHED_STATES.includes(rec.state)) throw finished();

    if (rec.state === 'queued') {
      // remove() refuses (0) a job a worker has just locked; then it is active and handled below.
      const removed = (await lopper.queue.remove(id)) === 1 || (await lopper.queue.getJobState(id)) === 'unknown';
      if (removed) {
        const t = await lopper.jobs.transition(id, {
          from: ['queued'], to: 'cancelled', set: { cancelRequested: true, finishedAt: new Date().toISOString() },
        });
        if (t.applied) return reply.code(200).send(jobResource((await lopper.jobs.get(id))!));
      }
    }
    const t = await lopper.jobs.transition(id, { from: ['queued', 'active'], set: { cancelRequested: true } });
    if (!t.applied) throw finished();
    await lopper.publishCancel(id);
    return reply.code(202).header('location', jobHref(id)).send(jobResource((await lopper.jobs.get(id))!));
  });
}
