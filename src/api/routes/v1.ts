// Everything under /v1, in one encapsulated plugin: its hooks apply to the routes that matched
// here, whatever spelling of the path reached the router (percent-encoding, case, slashes), so
// authentication never depends on string tests on the raw URL. Order per request: the principal
// (401), the route's scope (403), then the per-key rate limit (429, shared through Redis).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../problem.js';
import { redisKeys } from '../../store/keys.js';
import { requireScope } from '../plugins/auth.js';
import artifactRoutes from './artifacts.js';
import datasetRoutes from './datasets.js';
import jobRoutes from './jobs.js';
import keyRoutes from './keys.js';
import modelRoutes from './models.js';
import tenantRoutes from './tenants.js';
import webhookRoutes from './webhooks.js';

export default async function v1(app: FastifyInstance) {
  const { config, redis } = app.lopper;
  app.addHook('onRequest', async (req) => {
    req.principal = await app.authenticate(req);
    requireScope(req, req.principal);
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
      new ApiError(
        'too-many-requests', 429,
        `rate limit of ${ctx.max} requests per ${config.rateLimitWindowMs / 1000} s exceeded for this key (RATE_LIMIT_MAX); retry in ${Math.ceil(ctx.ttl / 1000)} s`,
        'Authorization',
      ),
  });
  await app.register(modelRoutes);
  await app.register(datasetRoutes);
  await app.register(jobRoutes);
  await app.register(artifactRoutes);
  await app.register(keyRoutes);
  await app.register(tenantRoutes);
  await app.register(webhookRoutes);
}
