// Who is calling: `Authorization: Bearer <key>` → a principal (tenant, scopes, key id). Keys are
// tenants' keys from Redis (store/api-keys.ts) or the bootstrap API_KEY (admin of tenant
// "default"). With no API_KEY and no key ever created the service runs open (unless
// AUTH_REQUIRED): every caller is admin of "default", and the log says so at start and once a
// minute while it lasts. Admin keys of "default" are the operator's and administer every tenant;
// an admin key of another tenant administers only its own. This plugin only resolves a principal;
// routes/v1.ts decides where one is required, on the route that matched.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../../errors.js';
import { DEFAULT_TENANT, grants, type Scope } from '../../store/api-keys.js';

export interface Principal {
  tenant: string;
  scopes: Scope[];
  /** The key's id ('bootstrap' for API_KEY), or null while the service runs open. */
  keyId: string | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The caller's principal; throws 401 when a key is needed and missing or wrong. */
    authenticate(req: FastifyRequest): Promise<Principal>;
  }
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; by default `read` for GET and HEAD, `write` otherwise. */
    scope?: Scope;
  }
}

// Digests first, so the comparison takes the same time whatever the lengths.
const digest = (s: string) => createHash('sha256').update(s).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** Admin of the operator's tenant: manages every tenant's keys and quotas and sees the workers. */
export const isOperator = (p: Principal) => p.tenant === DEFAULT_TENANT && grants(p.scopes, 'admin');

const OPEN_WARNING =
  'AUTHENTICATION IS OFF: no API_KEY and no API keys exist, so anyone who reaches this port is an admin. Set API_KEY (or AUTH_REQUIRED=true) or create keys with `lopper keys create`.';

const unauthorized = (detail: string) => new ApiError('unauthorized', 401, detail, 'Authorization', { 'www-authenticate': 'Bearer' });

/** The scope a route needs: its own `config.scope`, else `read` for GET and HEAD, `write` otherwise. */
export const scopeOf = (method: string, config: { scope?: Scope } | undefined): Scope =>
  config?.scope ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'write');

/** 403 unless the principal holds the scope the matched route needs. */
export function requireScope(req: FastifyRequest, principal: Principal): void {
  const needed = scopeOf(req.method, req.routeOptions.config);
  if (!grants(principal.scopes, needed)) {
    throw new ApiError('forbidden', 403, `this key's scopes (${principal.scopes.join(', ')}) do not include "${needed}"`, 'Authorization');
  }
}

export default fp(
  async function auth(app: FastifyInstance) {
    const { config, apiKeys } = app.lopper;
    app.decorateRequest('principal', null as unknown as Principal);
    let warnedAt = 0;
    app.decorate('authenticate', async (req: FastifyRequest): Promise<Principal> => {
      const header = req.headers.authorization;
      if (header === undefined) {
        if (config.apiKey || config.authRequired || (await apiKeys.enabled()))
          throw unauthorized('an API key is required: Authorization: Bearer <key>');
        if (Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          app.log.warn(OPEN_WARNING);
        }
        return { tenant: DEFAULT_TENANT, scopes: ['admin'], keyId: null };
      }
      const given = /^Bearer +(\S+) *$/i.exec(header)?.[1];
      if (!given) throw unauthorized('the Authorization header must be "Bearer <key>"');
      if (config.apiKey && same(given, config.apiKey)) return { tenant: DEFAULT_TENANT, scopes: ['admin'], keyId: 'bootstrap' };
      const key = await apiKeys.verify(given);
      if (!key) throw unauthorized('unknown or revoked API key');
      return { tenant: key.tenant, scopes: key.scopes, keyId: key.id };
    });
    app.addHook('onReady', async () => {
      if (!config.apiKey && !config.authRequired && !(await apiKeys.enabled().catch(() => true))) {
        warnedAt = Date.now();
        app.log.warn(OPEN_WARNING);
      }
    });
  },
  { name: 'lopper-auth', dependencies: ['lopper-services'] },
);
