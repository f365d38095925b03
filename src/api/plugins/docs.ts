// The API contract: openapi.yaml (written by hand, the source of truth) served as-is at
// /openapi.yaml, and Swagger UI at /docs reading the same document through @fastify/swagger's
// static mode. A test checks that the routes registered and the paths in the file agree.
// DOCS_PUBLIC=false puts both behind a key with the read scope.
import { readFile } from 'node:fs/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { parse } from 'yaml';
import { openapiPath } from '../paths.js';
import { requireScope } from './auth.js';

export default fp(
  async function docs(app: FastifyInstance, opts: { public: boolean }) {
    const text = await readFile(openapiPath(), 'utf8');
    const guard = async (req: FastifyRequest) => {
      if (!opts.public) requireScope(req, await app.authenticate(req));
    };
    await app.register(swagger, { mode: 'static', specification: { document: parse(text) } });
    await app.register(swaggerUi, { routePrefix: '/docs', uiHooks: { onRequest: guard } });
    app.get('/openapi.yaml', { onRequest: guard }, async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(text));
  },
  { name: 'lopper-docs', dependencies: ['lopper-auth'] },
);
