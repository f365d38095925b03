// The API contract: the OpenAPI document @fastify/swagger generates from the routes' zod schemas
// (src/api/openapi.ts), served at /openapi.yaml, with Swagger UI at /docs. openapi.yaml in the
// repository is the same document, written by `npm run openapi`; a test keeps the two equal.
// DOCS_PUBLIC=false puts both behind a key with the read scope.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { openapiYaml, reply, swaggerOptions } from '../openapi.js';
import { requireScope } from './auth.js';

export default fp(
  async function docs(app: FastifyInstance, opts: { public: boolean }) {
    const guard = async (req: FastifyRequest) => {
      if (!opts.public) requireScope(req, await app.authenticate(req));
    };
    await app.register(swagger, swaggerOptions());
    await app.register(swaggerUi, { routePrefix: '/docs', uiHooks: { onRequest: guard } });
    const schema = {
      tags: ['service'],
      operationId: 'openapi',
      summary: 'This document. Swagger UI renders it at /docs.',
      response: { 200: reply(z.string(), 'The OpenAPI document.', undefined, 'application/yaml') },
    };
    app.get('/openapi.yaml', { onRequest: guard, schema }, async (_req, res) =>
      res
        .type('application/yaml; charset=utf-8')
        .serializer((doc: string) => doc)
        .send(openapiYaml(app)),
    );
  },
  { name: 'lopper-docs', dependencies: ['lopper-auth'] },
);
