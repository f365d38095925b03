// /v1/keys (admin): create, list and revoke API keys. The operator (an admin key of "default")
// manages every tenant's keys; another tenant's admin only its own, and other tenants' keys are as
// absent to it as missing ones. The key itself is in the creation reply only; Redis keeps its
// hash. The same operations are `lopper keys …` on the command line.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, notFound } from '../../errors.js';
import { SCOPES, tenantSchema } from '../../store/api-keys.js';
import { isOperator } from '../plugins/auth.js';
import { empty, locationHeader, reply } from '../openapi.js';
import { apiKeySchema, items, nameSchema } from '../schemas.js';

const createBody = z
  .object({
    tenant: tenantSchema,
    scopes: z.array(z.enum(SCOPES)).min(1).max(3).default(['read', 'write']),
    name: nameSchema.optional(),
  })
  .strict();
const keyParams = z.object({ keyId: z.string().regex(/^[0-9a-f]{16}$/, 'not a key id') });
const keysQuery = z.object({ tenant: tenantSchema.optional() }).strict();
const createdKey = apiKeySchema.extend({ key: z.string().describe('The key itself (lop_<16 hex>_<43 chars>), shown in this reply only.') });
const tags = ['access'];
const config = { scope: 'admin' as const };

export default async function keyRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { apiKeys } = app.lopper;

  const createSchema = {
    tags,
    operationId: 'createKey',
    summary: 'Create an API key for a tenant; the key is in this reply only.',
    body: createBody,
    response: { 201: reply(createdKey, 'Created.', locationHeader) },
  };
  app.post('/keys', { config, schema: createSchema }, async (req, res) => {
    const body = req.body;
    if (!isOperator(req.principal) && body.tenant !== req.principal.tenant) {
      throw new ApiError('forbidden', 403, `an admin key of tenant "${req.principal.tenant}" creates keys for that tenant only`, 'tenant');
    }
    const created = await apiKeys.create(body.tenant, body.scopes, body.name ?? null);
    return res.code(201).header('location', `/v1/keys/${created.id}`).send(created);
  });

  const listSchema = {
    tags,
    operationId: 'listKeys',
    summary: "Every key (never the secret), newest first, or one tenant's; a tenant's admin key sees its own tenant's only.",
    querystring: keysQuery,
    response: { 200: reply(items(apiKeySchema), 'The keys.') },
  };
  app.get('/keys', { config, schema: listSchema }, async (req) => {
    const q = req.query;
    const own = req.principal.tenant;
    if (isOperator(req.principal)) return { items: await apiKeys.list(q.tenant) };
    return { items: q.tenant === undefined || q.tenant === own ? await apiKeys.list(own) : [] };
  });

  const revokeSchema = {
    tags,
    operationId: 'revokeKey',
    summary: 'Revoke a key; the next request with it is refused (401).',
    params: keyParams,
    response: { 204: empty('Revoked.') },
  };
  app.delete('/keys/:keyId', { config, schema: revokeSchema }, async (req, res) => {
    const { keyId } = req.params;
    const key = await apiKeys.get(keyId);
    const visible = key && (isOperator(req.principal) || key.tenant === req.principal.tenant);
    if (!visible || !(await apiKeys.revoke(keyId))) throw notFound('key', keyId, 'keyId');
    return res.code(204).send();
  });
}
