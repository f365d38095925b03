// buildApp: the Fastify instance with every plugin and route, not yet listening. Tests call it
// and use app.inject; src/service.ts calls it and listens.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import type { Config } from '../config.js';
import auth from './plugins/auth.js';
import docs from './plugins/docs.js';
import errors, { clientErrorHandler, frameworkErrors } from './plugins/errors.js';
import services from './plugins/services.js';
import slowClients from './plugins/slow-clients.js';
import healthRoutes from './routes/health.js';
import v1 from './routes/v1.js';
import { serializerCompiler, validatorCompiler } from './validate.js';

export interface BuildAppOptions {
  config: Config;
  /** pino options, or false for none (tests); defaults to JSON logs at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
  /** Sees every route as it is registered (the OpenAPI agreement test collects them). */
  onRoute?: (route: RouteOptions) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    // A caller's X-Request-Id (from a gateway) is kept so logs correlate across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // JSON bodies are small job requests; uploads go through multipart, which streams.
    bodyLimit: 1024 * 1024,
    // The router's and Node's own errors become problem+json too.
    frameworkErrors,
    clientErrorHandler,
  });
  // Job requests are JSON and uploads multipart; a text/plain body is a client mistake (415),
  // not a string to validate.
  app.removeContentTypeParser('text/plain');
  // Routes declare zod schemas: they validate input, serialise replies and make the OpenAPI document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  await app.register(errors);
  await app.register(services, { config });
  await app.register(slowClients, { windowMs: config.uploadIdleTimeoutMs, minBytesPerSec: config.uploadMinBytesPerSec });
  await app.register(auth);
  await app.register(multipart);
  await app.register(docs, { public: config.docsPublic });
  await app.register(healthRoutes);
  await app.register(v1, { prefix: '/v1' });
  return app;
}
