// GET /v1/jobs/{id}/artifacts/{name}: a completed job's files, streamed from the store with
// Content-Length, a strong ETag (the recorded sha256) and single byte-range support.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idSchema } from '../../queue/payload.js';
import { storageKeys } from '../../store/keys.js';
import { ApiError, notFound } from '../../errors.js';
import { parseRange } from '../range.js';
import { empty, problems } from '../openapi.js';
import { artifactNameSchema } from '../schemas.js';

const params = z.object({ id: idSchema, name: artifactNameSchema });
const conditionalHeaders = z
  .object({ range: z.string().optional(), 'if-none-match': z.string().optional(), 'if-range': z.string().optional() })
  .passthrough();
const file = { type: 'string', format: 'binary' };

const schema = {
  tags: ['jobs'],
  operationId: 'getArtifact',
  summary: "Download a completed job's file (streamed; ETag = sha256; single byte ranges).",
  params,
  headers: conditionalHeaders,
  response: {
    200: {
      description: 'The whole file.',
      headers: { ETag: { type: 'string', description: 'The quoted sha256 of the file.' }, 'Content-Length': { type: 'integer' } },
      content: {
        'application/octet-stream': { schema: file },
        'application/json': { schema: { type: 'object' } },
        'application/zip': { schema: file },
      },
    },
    206: {
      description: 'The requested byte range.',
      headers: { 'Content-Range': { type: 'string' } },
      content: { 'application/octet-stream': { schema: file } },
    },
    304: empty('Not modified (If-None-Match matched the ETag).'),
    ...problems(416),
  },
};

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  bin: 'application/octet-stream',
  zip: 'application/zip',
};

export default async function artifactRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { lopper } = app;

  app.get('/jobs/:id/artifacts/:name', { schema }, async (req, reply) => {
    const { id, name } = req.params;
    const rec = await lopper.jobs.get(id, req.principal.tenant);
    if (!rec) throw notFound('job', id);
    const artifact = rec.artifacts.find((a) => a.name === name);
    if (!artifact) {
      throw new ApiError(
        'not-found',
        404,
        `job "${id}" has no artifact "${name}" (state: ${rec.state}; artifacts exist once it completes)`,
        'name',
      );
    }
    const etag = `"${artifact.sha256}"`;
    reply
      .header('etag', etag)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=0, must-revalidate')
      .header('content-disposition', `attachment; filename="${name}"`)
      .type(CONTENT_TYPES[name.split('.').pop()!]);
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      return reply.code(304).send();
    }
    // If-Range: serve the range only if the client's copy is still this version.
    const ifRange = req.headers['if-range'];
    const range = ifRange && ifRange !== etag ? { kind: 'full' as const } : parseRange(req.headers.range, artifact.bytes);
    if (range.kind === 'unsatisfiable') {
      throw new ApiError('range-not-satisfiable', 416, `range ${req.headers.range} is outside the ${artifact.bytes}-byte file`, 'Range', {
        'content-range': `bytes */${artifact.bytes}`,
      });
    }
    const key = storageKeys.file('job', id, name);
    if (range.kind === 'partial') {
      const { start, end } = range.range;
      const stream = await lopper.storage.read(key, range.range);
      return reply
        .code(206)
        .header('content-range', `bytes ${start}-${end}/${artifact.bytes}`)
        .header('content-length', end - start + 1)
        .send(stream);
    }
    const stream = await lopper.storage.read(key);
    return reply.header('content-length', artifact.bytes).send(stream);
  });
}
