// /v1/models: upload (model.json + shards, or one .zip), list, get, delete.
// The upload is checked in the inspector sandbox (graph and limits, manifest names only uploaded
// files, sizes match shapes × dtypes, weights finite, the topology loads) before anything is
// stored; only model.json and the shards its manifest names are kept.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ModelSummary } from '../../inspect.js';
import type { FileRecord, ModelRecord } from '../../store/catalog.js';
import { ApiError, notFound } from '../../problem.js';
import { checkUploadRoom, quotaExceeded } from '../quota.js';
import { idParams, listQuery, nameField } from '../schemas.js';
import { unzipInto } from '../unzip.js';
import { receiveUpload, requireMultipart, type Upload, type UploadedFile } from '../upload.js';
import { validate } from '../validate.js';

/** The model's files from an upload: the files themselves, or the members of a single .zip. */
async function modelFiles(upload: Upload, maxBytes: number, maxRatio: number): Promise<UploadedFile[]> {
  const zips = upload.files.filter((f) => f.name.toLowerCase().endsWith('.zip'));
  if (zips.length === 0) return upload.files;
  if (upload.files.length > 1) {
    throw new ApiError('invalid-input', 422, 'upload either one .zip or model.json with its weight files, not both', zips[0].field);
  }
  const unpacked = join(upload.dir, 'unzipped');
  await mkdir(unpacked);
  return unzipInto(zips[0].path, unpacked, { maxBytes, maxRatio }, zips[0].field);
}

/** An unnamed model is named after its .zip, else after its topology file ("model" for model.json). */
function defaultName(upload: Upload, json: UploadedFile): string {
  const only = upload.files.length === 1 ? upload.files[0] : null;
  const source = only && only.name.toLowerCase().endsWith('.zip') ? only : json;
  return source.name.replace(/\.(json|zip)$/i, '');
}

export default async function modelRoutes(app: FastifyInstance) {
  const { lopper } = app;

  app.post('/v1/models', { onRequest: requireMultipart }, async (req, reply) => {
    const { tenant } = req.principal;
    const quota = await checkUploadRoom(lopper, req, 'models');
    const upload = await receiveUpload(req, { tmpDir: lopper.tmpDir, maxBytes: lopper.config.maxUploadBytes, fields: ['name'], live: lopper.liveTmp });
    const id = randomUUID();
    let stored = false;
    let record: ModelRecord;
    // The temp folder goes before the reply does, so a client never sees it outlive its request.
    try {
      if (upload.files.length === 0) throw new ApiError('bad-request', 400, 'no files uploaded: send model.json and its weight files, or a .zip', 'files');
      const { name } = validate(nameField, { name: upload.fields.name }, 'body');
      const files = await modelFiles(upload, lopper.config.maxUploadBytes, lopper.config.maxCompressionRatio);
      const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
      if (jsons.length === 0) throw new ApiError('invalid-input', 422, 'no model.json among the uploaded files', 'model.json');
      if (jsons.length > 1) {
        throw new ApiError('invalid-input', 422, `several .json files uploaded (${jsons.map((j) => j.name).join(', ')}); send one model.json`, 'model.json');
      }
      // The topology file may have any name; inside Lopper (and in the manifest's eyes) it is model.json.
      const json = jsons[0];
      const byName = new Map<string, UploadedFile>(files.filter((f) => f !== json).map((f) => [f.name, f]));
      byName.set('model.json', json);
      const paths = Object.fromEntries([...byName].map(([n, f]) => [n, f.path]));
      const { summary, keep } = await lopper.inspector.inspectModel<{ summary: ModelSummary; keep: string[] }>(paths, lopper.inspectLimits);

      const kept: FileRecord[] = [];
      stored = true;
      for (const n of keep) {
        const file = byName.get(n)!;
        const obj = await lopper.storage.putFile(`models/${id}/${n}`, file.path, file.sha256);
        kept.push({ name: n, bytes: obj.bytes, sha256: obj.sha256 });
      }
      record = {
        id,
        tenant,
        name: name ?? defaultName(upload, json),
        createdAt: new Date().toISOString(),
        ...summary,
        files: kept,
      };
      const outcome = await lopper.models.create(record, quota);
      if (outcome !== 'ok') throw quotaExceeded(tenant, outcome === 'count' ? 'models' : 'storedBytes', quota);
    } catch (err) {
      if (stored) await lopper.storage.deleteFolder(`models/${id}`);
      throw err;
    } finally {
      await upload.discard();
    }
    return reply.code(201).header('location', `/v1/models/${id}`).send(record);
  });

  app.get('/v1/models', async (req) => {
    const q = validate(listQuery, req.query, 'query');
    return lopper.models.list(req.principal.tenant, q.limit, q.cursor);
  });

  app.get('/v1/models/:id', async (req) => {
    const { id } = validate(idParams, req.params, 'params');
    const record = await lopper.models.get(id, req.principal.tenant);
    if (!record) throw notFound('model', id);
    return record;
  });

  app.delete('/v1/models/:id', async (req, reply) => {
    const { id } = validate(idParams, req.params, 'params');
    const record = await lopper.models.get(id, req.principal.tenant);
    if (!record) throw notFound('model', id);
    const outcome = await lopper.models.remove(record);
    if (outcome === 'missing') throw notFound('model', id);
    if (outcome === 'in-use') throw new ApiError('conflict', 409, `model "${id}" is used by a queued or active job`, 'id');
    await lopper.storage.deleteFolder(`models/${id}`);
    return reply.code(204).send();
  });
}
