// GET /v1/me: the caller's tenant, scopes, quota and usage. /v1/tenants/{tenant} (admin): a
// tenant's quota and usage (the operator sees every tenant, another admin its own), and PATCH
// …/quota (the operator only) to override a default (null goes back to it).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, notFound } from '../../errors.js';
import { tenantSchema } from '../../store/api-keys.js';
import { QUOTA_NAMES } from '../../store/tenants.js';
import { isOperator } from '../plugins/auth.js';
import type { Services } from '../plugins/services.js';
import { reply } from '../openapi.js';
import { scopeSchema, tenantResourceSchema } from '../schemas.js';

const tenantParams = z.object({ tenant: tenantSchema });
const quotaPatch = z
  .object(Object.fromEntries(QUOTA_NAMES.map((n) => [n, z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional()])))
  .strict();

async function tenantResource(lopper: Services, tenant: string) {
  const [quota, overrides, usage] = await Promise.all([
    lopper.tenants.quota(tenant),
    lopper.tenants.overrides(tenant),
    lopper.tenants.usage(tenant),
  ]);
  return { tenant, quota, overridden: Object.keys(overrides), usage };
}

const me = tenantResourceSchema.extend({
  scopes: z.array(scopeSchema),
  keyId: z.string().nullable().describe("'bootstrap' for API_KEY, null while the service runs open."),
});
const tags = ['access'];
const config = { scope: 'admin' as const };

export default async function tenantRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lopper } = app;

  const meSchema = {
    tags,
    operationId: 'me',
    summary: "The caller's tenant, scopes, key id, quota and usage.",
    response: { 200: reply(me, 'The caller.') },
  };
  app.get('/me', { schema: meSchema }, async (req) => {
    const { tenant, scopes, keyId } = req.principal;
    return { ...(await tenantResource(lopper, tenant)), scopes, keyId };
  });

  const getSchema = {
    tags,
    operationId: 'getTenant',
    summary: "A tenant's quota (defaults and overrides) and usage; another tenant is 404 to a tenant's admin key.",
    params: tenantParams,
    response: { 200: reply(tenantResourceSchema, 'The tenant.') },
  };
  app.get('/tenants/:tenant', { config, schema: getSchema }, async (req) => {
    const { tenant } = req.params;
    if (!isOperator(req.principal) && tenant !== req.principal.tenant) throw notFound('tenant', tenant, 'tenant');
    return tenantResource(lopper, tenant);
  });

  const quotaSchema = {
    tags,
    operationId: 'setQuota',
    summary: "Override quotas of one tenant (the operator only); null returns a quota to the server's default.",
    params: tenantParams,
    body: quotaPatch,
    response: { 200: reply(tenantResourceSchema, 'The tenant after the change.') },
  };
  app.patch('/tenants/:tenant/quota', { config, schema: quotaSchema }, async (req) => {
    const { tenant } = req.params;
    if (!isOperator(req.principal))
      throw new ApiError('forbidden', 403, 'quotas are set by the operator (an admin key of tenant "default")', 'Authorization');
    await lopper.tenants.setQuota(tenant, req.body);
    return tenantResource(lopper, tenant);
  });
}
