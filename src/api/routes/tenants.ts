// GET /v1/me: the caller's tenant, scopes, quota and usage. /v1/tenants/{tenant} (admin): a
// tenant's quota and usage (the operator sees every tenant, another admin its own), and PATCH
// …/quota (the operator only) to override a default (null goes back to it).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, notFound } from '../../problem.js';
import { tenantSchema } from '../../store/api-keys.js';
import { QUOTA_NAMES } from '../../store/tenants.js';
import { isOperator } from '../plugins/auth.js';
import type { Services } from '../plugins/services.js';
import { validate } from '../validate.js';

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

export default async function tenantRoutes(app: FastifyInstance) {
  const { lopper } = app;
  const admin = { config: { scope: 'admin' as const } };

  app.get('/v1/me', async (req) => {
    const { tenant, scopes, keyId } = req.principal;
    return { ...(await tenantResource(lopper, tenant)), scopes, keyId };
  });

  app.get('/v1/tenants/:tenant', admin, async (req) => {
    const { tenant } = validate(tenantParams, req.params, 'params');
    if (!isOperator(req.principal) && tenant !== req.principal.tenant) throw notFound('tenant', tenant, 'tenant');
    return tenantResource(lopper, tenant);
  });

  app.patch('/v1/tenants/:tenant/quota', admin, async (req) => {
    const { tenant } = validate(tenantParams, req.params, 'params');
    if (!isOperator(req.principal)) throw new ApiError('forbidden', 403, 'quotas are set by the operator (an admin key of tenant "default")', 'Authorization');
    const patch = validate(quotaPatch, req.body, 'body');
    await lopper.tenants.setQuota(tenant, patch);
    return tenantResource(lopper, tenant);
  });
}
