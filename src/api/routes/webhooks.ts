// /v1/webhooks: a tenant's webhook endpoints (each gets the events it subscribes to, for every job
// of the tenant) and its signing secret. The secret is shown once: in the reply that created it
// (the first endpoint, or POST /v1/webhooks/secret, which rotates it). GET /v1/jobs/{id}/deliveries
// is every delivery attempt for one job.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { idSchema } from '../../queue/payload.js';
import { ApiError, notFound } from '../../problem.js';
import { WEBHOOK_EVENTS } from '../../webhooks/events.js';
import { EndpointLimitError, MAX_ENDPOINTS } from '../../webhooks/store.js';
import { MAX_URL_LENGTH } from '../../webhooks/targets.js';
import { idParams } from '../schemas.js';
import { validate } from '../validate.js';
import { checkWebhookTarget } from '../webhook-target.js';

const endpointBody = z
  .object({
    url: z.string().min(1).max(MAX_URL_LENGTH),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
  })
  .strict();
const endpointParams = z.object({ webhookId: idSchema });

export default async function webhookRoutes(app: FastifyInstance) {
  const { lopper } = app;

  app.post('/v1/webhooks', async (req, reply) => {
    const body = validate(endpointBody, req.body, 'body');
    const url = await checkWebhookTarget(lopper.webhookPolicy, body.url, 'url');
    const { tenant } = req.principal;
    let endpoint;
    try {
      endpoint = await lopper.webhooks.addEndpoint(tenant, { url, events: body.events });
    } catch (err) {
      if (err instanceof EndpointLimitError) throw new ApiError('conflict', 409, `a tenant has at most ${MAX_ENDPOINTS} webhook endpoints; delete one first`, 'url');
      throw err;
    }
    const { secret } = await lopper.webhooks.ensureSecret(tenant);
    return reply.code(201).header('location', `/v1/webhooks/${endpoint.id}`).send(secret ? { ...endpoint, secret } : endpoint);
  });

  app.get('/v1/webhooks', async (req) => ({ items: await lopper.webhooks.listEndpoints(req.principal.tenant) }));

  app.delete('/v1/webhooks/:webhookId', async (req, reply) => {
    const { webhookId } = validate(endpointParams, req.params, 'params');
    if (!(await lopper.webhooks.removeEndpoint(req.principal.tenant, webhookId))) throw notFound('webhook endpoint', webhookId, 'webhookId');
    return reply.code(204).send();
  });

  app.post('/v1/webhooks/secret', async (req, reply) => {
    return reply.code(201).send({ secret: await lopper.webhooks.rotateSecret(req.principal.tenant) });
  });

  app.get('/v1/jobs/:id/deliveries', async (req) => {
    const { id } = validate(idParams, req.params, 'params');
    if (!(await lopper.jobs.get(id, req.principal.tenant))) throw notFound('job', id);
    return { items: await lopper.webhooks.deliveries(id) };
  });
}
