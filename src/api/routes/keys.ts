// /v1/keys (admin): create, list and revoke API keys. The operator (an admin key of "default")
// manages every tenant's keys; another tenant's admin only its own, and other tenants' keys are as
// absent to it as missing ones. The key itself is in the creation reply only; Redis keeps its
// hash. The same operations are `lopper keys …` on the command line.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, notFound } from '../../problem.js';
import { SCOPES, tenantSchema } from '../../store/api-keys.js';
import { isOperator } from '../plugins/auth.js';
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
    if (!isOperator(req.principal) && body.tenant !== req.principal.tenant) {
      throw new ApiError('forbidden', 403, `an admin key of tenant "${req.principal.tenant}" creates keys for that tenant only`, 'tenant');
    }
    const created = await apiKeys.create(body.tenant, body.scopes, body.name ?? null);
    return reply.code(201).header('location', `/v1/keys/${created.id}`).send(created);
  });

  app.get('/v1/keys', admin, async (req) => {
    const q = validate(keysQuery, req.query, 'query');
    const own = req.principal.tenant;
    if (isOperator(req.principal)) return { items: await apiKeys.list(q.tenant) };
    return { items: q.tenant === undefined || q.tenant === own ? await apiKeys.list(own) : [] };
  });

  app.delete('/v1/keys/:keyId', admin, async (req, reply) => {
    const { keyId } = validate(keyParams, req.params, 'params');
    const key = await apiKeys.get(keyId);
    const visible = key && (isOperator(req.principal) || key.tenant === req.principal.tenant);
    if (!visible || !(await apiKeys.revoke(keyId))) throw notFound('key', keyId, 'keyId');
    return reply.code(204).send();
  });
}
