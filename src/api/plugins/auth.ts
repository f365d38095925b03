// Optional bearer-token auth: when API_KEY is set, every /v1 route needs
// `Authorization: Bearer <API_KEY>`. Health checks and docs stay open for probes and browsers.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../../problem.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export default fp(
  async function auth(app: FastifyInstance, opts: { apiKey?: string }) {
    const key = opts.apiKey;
    if (!key) return;
    app.addHook('onRequest', async (req) => {
      if (!req.url.startsWith('/v1/')) return;
      const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!given || !same(given, key)) {
        throw new ApiError('unauthorized', 401, 'missing or wrong API key (Authorization: Bearer <API_KEY>)', 'Authorization', {
          'www-authenticate': 'Bearer',
        });
      }
    });
  },
  { name: 'lopper-auth' },
);
