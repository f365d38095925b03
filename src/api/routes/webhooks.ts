// /v1/webhooks: a tenant's webhook endpoints (each gets the events it subscribes to, for every job
// of the tenant) and its signing secret. The secret is shown once: in the reply that created it
// (the first endpoint, or POST /v1/webhooks/secret, which rotates it). GET /v1/jobs/{id}/deliveries
// is every delivery attempt for one job.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idSchema } from '../../queue/payload.js';
import { ApiError, EndpointLimitError, notFound } from '../../errors.js';
import { WEBHOOK_EVENTS, webhookEventSchema } from '../../webhooks/events.js';
import { MAX_ENDPOINTS } from '../../webhooks/store.js';
import { MAX_URL_LENGTH } from '../../webhooks/targets.js';
import { empty, locationHeader, problems, reply } from '../openapi.js';
import { deliveryAttemptSchema, idParams, items, webhookEndpointSchema } from '../schemas.js';
import { checkWebhookTarget } from '../webhook-target.js';

const endpointBody = z
  .object({
    url: z.string().min(1).max(MAX_URL_LENGTH),
    events: z.array(webhookEventSchema).min(1).max(WEBHOOK_EVENTS.length).optional(),
  })
  .strict();
const endpointParams = z.object({ webhookId: idSchema });

const tags = ['webhooks'];

export default async function webhookRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lopper } = app;

  const createSchema = {
    tags,
    operationId: 'createWebhook',
    summary: `Register an endpoint that gets the chosen events of every job of the tenant (at most ${MAX_ENDPOINTS}).`,
    description: `The URL is checked at once (http or https, no credentials, and every address its host
resolves to outside private, loopback, link-local and special-purpose ranges unless
WEBHOOK_ALLOW_CIDRS allows them): 422 naming \`url\` otherwise. The reply carries \`secret\`
only when this call created the tenant's signing secret.`,
    body: endpointBody,
    response: { 201: reply(webhookEndpointSchema, 'Registered.', locationHeader), ...problems(409) },
  };
  app.post('/webhooks', { schema: createSchema }, async (req, res) => {
    const body = req.body;
    const url = await checkWebhookTarget(lopper.webhookPolicy, body.url, 'url');
    const { tenant } = req.principal;
    let endpoint;
    try {
      endpoint = await lopper.webhooks.addEndpoint(tenant, { url, events: body.events });
    } catch (err) {
      if (err instanceof EndpointLimitError)
        throw new ApiError('conflict', 409, `a tenant has at most ${MAX_ENDPOINTS} webhook endpoints; delete one first`, 'url');
      throw err;
    }
    const { secret } = await lopper.webhooks.ensureSecret(tenant);
    return res
      .code(201)
      .header('location', `/v1/webhooks/${endpoint.id}`)
      .send(secret ? { ...endpoint, secret } : endpoint);
  });

  const listSchema = {
    tags,
    operationId: 'listWebhooks',
    summary: "The tenant's endpoints, oldest first.",
    response: { 200: reply(items(webhookEndpointSchema), 'The endpoints.') },
  };
  app.get('/webhooks', { schema: listSchema }, async (req) => ({ items: await lopper.webhooks.listEndpoints(req.principal.tenant) }));

  app.delete(
    '/webhooks/:webhookId',
    { schema: { tags, operationId: 'deleteWebhook', params: endpointParams, response: { 204: empty('Deleted.') } } },
    async (req, res) => {
      const { webhookId } = req.params;
      if (!(await lopper.webhooks.removeEndpoint(req.principal.tenant, webhookId)))
        throw notFound('webhook endpoint', webhookId, 'webhookId');
      return res.code(204).send();
    },
  );

  const rotateSchema = {
    tags,
    operationId: 'rotateWebhookSecret',
    summary: 'A new signing secret for the tenant, shown only in this reply; deliveries sign with it from now on.',
    response: { 201: reply(z.object({ secret: z.string() }), 'The new secret.') },
  };
  app.post('/webhooks/secret', { schema: rotateSchema }, async (req, res) => {
    return res.code(201).send({ secret: await lopper.webhooks.rotateSecret(req.principal.tenant) });
  });

  const deliveriesSchema = {
    tags,
    operationId: 'listDeliveries',
    summary: 'Every webhook delivery attempt for this job, oldest first (the last 500).',
    params: idParams,
    response: { 200: reply(items(deliveryAttemptSchema), 'The attempts.') },
  };
  app.get('/jobs/:id/deliveries', { schema: deliveriesSchema }, async (req) => {
    const { id } = req.params;
    if (!(await lopper.jobs.get(id, req.principal.tenant))) throw notFound('job', id);
    return { items: await lopper.webhooks.deliveries(id) };
  });
}
