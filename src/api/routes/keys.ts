// /v1/keys (admin): create, list and revoke tenants' API keys. The key itself is in the creation
// reply only; Redis keeps its hash. The same operations are `lopper keys …` on the command line.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../problem.js';
import { SCOPES, tenantSchema } from '../../store/api-keys.js';
import { nameSchema } from '../schemas.js';
import { validate } from '../validate.js';

const createBody = z
  .object({
    tenant: tenantSchema,
    scopes: z.array(z.enum(SCOPES)).min(1).max(3).default(['read', 'write']),
    name: nameSchema.optional(),
  })
  .strict();
const keyParams = z.object({ keyId: z.string().regex(/^[0-9a-f]{16}$/, 'not a key id') });
const keysQuery = z.object({ tenant: tenantSchema.optional() }).strict();

export default async function keyRoutes(app: FastifyInstance) {
  const { apiKeys } = app.lopper;
  const admin = { config: { scope: 'admin' as const } };

  app.post('/v1/keys', admin, async (req, reply) => {
    const body = validate(createBody, req.body, 'body');
    const created = await apiKeys.create(body.tenant, body.scopes, body.name ?? null);
    return reply.code(201).header('location', `/v1/keys/${created.id}`).send(created);
  });

  app.get('/v1/keys', admin, async (req) => {
    const q = validate(keysQuery, req.query, 'query');
    return { items: await apiKeys.list(q.tenant) };
  });

  app.delete('/v1/keys/:keyId', admin, async (req, reply) => {
    const { keyId } = validate(keyParams, req.params, 'params');
    if (!(await apiKeys.revoke(keyId))) throw notFound('key', keyId, 'keyId');
    return reply.code(204).send();
  });
}
