// Everything under /v1, in one encapsulated plugin: its hooks apply to the routes that matched
// here, whatever spelling of the path reached the router (percent-encoding, case, slashes), so
// authentication never depends on string tests on the raw URL. Order per request: the principal
// (401; failed attempts are counted per client address and past the budget answer 429), the
// per-key rate limit (429, shared through Redis; a refused request still counts), then the
// route's scope (403). Every route here is registered with the /v1 prefix.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError } from '../../errors.js';
import { redisKeys } from '../../store/keys.js';
import { addSharedResponses } from '../openapi.js';
import { requireScope, scopeOf } from '../plugins/auth.js';
import artifactRoutes from './artifacts.js';
import datasetRoutes from './datasets.js';
import jobRoutes from './jobs.js';
import keyRoutes from './keys.js';
import modelRoutes from './models.js';
import tenantRoutes from './tenants.js';
import webhookRoutes from './webhooks.js';

export default async function v1(app: FastifyInstance) {
  const { config, redis } = app.lopper;
  const windowS = config.rateLimitWindowMs / 1000;
  const tooMany = (detail: string, retryAfterS: number) =>
    new ApiError('too-many-requests', 429, `${detail}; retry in ${retryAfterS} s`, 'Authorization', { 'retry-after': String(retryAfterS) });

  app.addHook('onRequest', async (req) => {
    try {
      req.principal = await app.authenticate(req);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      const failures = await limitFailures(req);
      if (!failures.isAllowed && failures.isExceeded) {
        throw tooMany(`more than ${config.rateLimitMax} failed authentications from this address per ${windowS} s`, failures.ttlInSeconds);
      }
      throw err;
    }
  });
  await app.register(rateLimit, {
    redis,
    nameSpace: redisKeys(config.prefix).rateLimit,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    // Per key; while the service runs open, per client address.
    keyGenerator: (req) => (req.principal.keyId ? `key:${req.principal.keyId}` : `ip:${req.ip}`),
    // RateLimit-Limit / -Remaining / -Reset (draft-ietf-httpapi-ratelimit-headers) and Retry-After.
    enableDraftSpec: true,
    errorResponseBuilder: (_req, ctx) =>
      tooMany(`rate limit of ${ctx.max} requests per ${windowS} s exceeded for this key (RATE_LIMIT_MAX)`, Math.ceil(ctx.ttl / 1000)),
  });
  const limitFailures = app.createRateLimit({ keyGenerator: (req: FastifyRequest) => `authfail:${req.ip}` });
  // After the limiter's own hook (it adds it in its onRoute hook, registered just above). The
  // document says the same scope and the errors these hooks answer with.
  const scope: onRequestHookHandler = async (req) => requireScope(req, req.principal);
  app.addHook('onRoute', (route) => {
    route.onRequest = [...[route.onRequest ?? []].flat(), scope];
    addSharedResponses(route, true);
    const method = [route.method].flat()[0];
    (route.schema as Record<string, unknown>)['x-scope'] = scopeOf(method, route.config);
  });

  await app.register(modelRoutes);
  await app.register(datasetRoutes);
  await app.register(jobRoutes);
  await app.register(artifactRoutes);
  await app.register(keyRoutes);
  await app.register(tenantRoutes);
  await app.register(webhookRoutes);
}
