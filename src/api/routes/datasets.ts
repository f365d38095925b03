// /v1/datasets: upload one .npz (x and optional y), list, get, delete. The inspector sandbox
// validates it as a stream (dtype, shape, NaN, labels, truncation, unzipped size) before it is stored.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DatasetSummary } from '../../io/dataset.js';
import type { DatasetRecord } from '../../store/catalog.js';
import { ApiError, notFound } from '../../problem.js';
import { checkUploadRoom, quotaExceeded } from '../quota.js';
import { idParams, listQuery, nameField } from '../schemas.js';
import { receiveUpload, requireMultipart } from '../upload.js';
import { validate } from '../validate.js';

export default async function datasetRoutes(app: FastifyInstance) {
  const { lopper } = app;

  app.post('/v1/datasets', { onRequest: requireMultipart }, async (req, reply) => {
    const { tenant } = req.principal;
    const quota = await checkUploadRoom(lopper, req, 'datasets');
    const upload = await receiveUpload(req, { tmpDir: lopper.tmpDir, maxBytes: lopper.config.maxUploadBytes, fields: ['name'], live: lopper.liveTmp });
    const id = randomUUID();
    let stored = false;
    let record: DatasetRecord;
    // The temp folder goes before the reply does, so a client never sees it outlive its request.
    try {
      if (upload.files.length !== 1) {
        const detail = upload.files.length ? `expected one .npz file, got ${upload.files.length} files` : 'no file uploaded: send the .npz in field "file"';
        throw new ApiError('bad-request', 400, detail, 'file');
      }
      const { name } = validate(nameField, { name: upload.fields.name }, 'body');
      const file = upload.files[0];
      if (!file.name.toLowerCase().endsWith('.npz')) {
        throw new ApiError('invalid-input', 422, `"${file.name}" is not a .npz file (np.savez(path, x=..., y=...))`, file.field);
      }
      const summary = await lopper.inspector.inspectDataset<DatasetSummary>(file.path, file.field, lopper.inspectLimits);
      stored = true;
      const obj = await lopper.storage.putFile(`datasets/${id}/data.npz`, file.path, file.sha256);
      record = {
        id,
        tenant,
        name: name ?? file.name.replace(/\.npz$/i, ''),
        createdAt: new Date().toISOString(),
        ...summary,
        bytes: obj.bytes,
        sha256: obj.sha256,
      };
      const outcome = await lopper.datasets.create(record, quota);
      if (outcome !== 'ok') throw quotaExceeded(tenant, outcome === 'count' ? 'datasets' : 'storedBytes', quota);
    } catch (err) {
      if (stored) await lopper.storage.deleteFolder(`datasets/${id}`);
      throw err;
    } finally {
      await upload.discard();
    }
    return reply.code(201).header('location', `/v1/datasets/${id}`).send(record);
  });

  app.get('/v1/datasets', async (req) => {
    const q = validate(listQuery, req.query, 'query');
    return lopper.datasets.list(req.principal.tenant, q.limit, q.cursor);
  });

  app.get('/v1/datasets/:id', async (req) => {
    const { id } = validate(idParams, req.params, 'params');
    const record = await lopper.datasets.get(id, req.principal.tenant);
    if (!record) throw notFound('dataset', id);
    return record;
  });

  app.delete('/v1/datasets/:id', async (req, reply) => {
    const { id } = validate(idParams, req.params, 'params');
    const record = await lopper.datasets.get(id, req.principal.tenant);
    if (!record) throw notFound('dataset', id);
    const outcome = await lopper.datasets.remove(record);
    if (outcome === 'missing') throw notFound('dataset', id);
    if (outcome === 'in-use') throw new ApiError('conflict', 409, `dataset "${id}" is used by a queued or active job`, 'id');
    await lopper.storage.deleteFolder(`datasets/${id}`);
    return reply.code(204).send();
  });
}
