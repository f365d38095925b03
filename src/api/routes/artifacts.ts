// GET /v1/jobs/{id}/artifacts/{name}: a completed job's files, streamed from the store with
// Content-Length, a strong ETag (the recorded sha256) and single byte-range support.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { idSchema } from '../../queue/payload.js';
import { ApiError, notFound } from '../../problem.js';
import { parseRange } from '../range.js';
import { ARTIFACT_NAMES } from '../resources.js';
import { validate } from '../validate.js';

const params = z.object({ id: idSchema, name: z.enum(ARTIFACT_NAMES) });

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  bin: 'application/octet-stream',
  zip: 'application/zip',
};

export default async function artifactRoutes(app: FastifyInstance) {
  const { lopper } = app;

  app.get('/v1/jobs/:id/artifacts/:name', async (req, reply) => {
    const { id, name } = validate(params, req.params, 'params');
    const rec = await lopper.jobs.get(id, req.principal.tenant);
    if (!rec) throw notFound('job', id);
    const artifact = rec.artifacts.find((a) => a.name === name);
    if (!artifact) {
      throw new ApiError('not-found', 404, `job "${id}" has no artifact "${name}" (state: ${rec.state}; artifacts exist once it completes)`, 'name');
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
    const key = `jobs/${id}/${name}`;
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
