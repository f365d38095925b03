// The API contract: openapi.yaml (written by hand, the source of truth) served as-is at
// /openapi.yaml, and Swagger UI at /docs reading the same document through @fastify/swagger's
// static mode. A test checks that the routes registered and the paths in the file agree.
import { readFile } from 'node:fs/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { parse } from 'yaml';
import { openapiPath } from '../paths.js';

export default fp(
  async function docs(app: FastifyInstance) {
    const text = await readFile(openapiPath(), 'utf8');
    await app.register(swagger, { mode: 'static', specification: { document: parse(text) } });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.yaml', async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(text));
  },
  { name: 'lopper-docs' },
);
