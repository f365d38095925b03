// The routes of an uploaded thing (a model, a dataset): upload, list, get, delete. What differs
// is how an upload is checked and which of its files are kept; the rest, including the rollback
// that leaves nothing behind when any step fails, is this one piece.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeAny } from 'zod';
import type { Catalog, DatasetRecord, ModelRecord } from '../../store/catalog.js';
import { storageKeys } from '../../store/keys.js';
import { ApiError, notFound } from '../../errors.js';
import { empty, locationHeader, problems, reply } from '../openapi.js';
import type { Services } from '../plugins/services.js';
import { checkUploadRoom, quotaExceeded } from '../quota.js';
import { idParams, listQuery, nameField, page } from '../schemas.js';
import { receiveUpload, requireMultipart, type Upload } from '../upload.js';
import { validate } from '../validate.js';

type Owned = 'id' | 'tenant' | 'name' | 'createdAt';

export interface UploadedKind<T extends ModelRecord | DatasetRecord> {
  /** 'model' → /models, operationIds uploadModel, listModels, … */
  noun: 'model' | 'dataset';
  catalog: (lopper: Services) => Catalog<T>;
  record: ZodTypeAny;
  /** The multipart form, for the document (the upload code reads the parts itself). */
  form: ZodTypeAny;
  summary: { upload: string; list: string; delete: string };
  /** Hash the files as they stream in (false: accept() has them hashed elsewhere, off the API's loop). */
  hashWhileReceiving: boolean;
  description?: string;
  /** Checks the upload (in the inspector) and stores the files it keeps (storageKeys.file(noun, id, name)). */
  accept(lopper: Services, upload: Upload, id: string): Promise<{ fields: Omit<T, Owned>; defaultName: string }>;
}

export function uploadedRoutes<T extends ModelRecord | DatasetRecord>(kind: UploadedKind<T>) {
  const plural = `${kind.noun}s` as const;
  const Title = kind.noun[0].toUpperCase() + kind.noun.slice(1);
  const tags = [plural];

  return async function routes(app: FastifyInstance) {
    const { lopper } = app;
    const catalog = kind.catalog(lopper);

    app.post(
      `/${plural}`,
      {
        onRequest: requireMultipart,
        schema: {
          tags,
          operationId: `upload${Title}`,
          summary: kind.summary.upload,
          description: kind.description,
          multipart: kind.form,
          response: { 201: reply(kind.record, 'Stored and inspected.', locationHeader) },
        },
      },
      async (req, res) => {
        const { tenant } = req.principal;
        const quota = await checkUploadRoom(lopper, req, plural);
        const upload = await receiveUpload(req, {
          tmpDir: lopper.tmpDir,
          maxBytes: lopper.config.maxUploadBytes,
          fields: ['name'],
          live: lopper.liveTmp,
          hash: kind.hashWhileReceiving,
        });
        const id = randomUUID();
        const folder = storageKeys.folder(kind.noun, id);
        let record: T;
        // The temp folder goes before the reply does, so a client never sees it outlive its request.
        try {
          const { name } = validate(nameField, { name: upload.fields.name }, 'body');
          const { fields, defaultName } = await kind.accept(lopper, upload, id);
          record = { id, tenant, name: name ?? defaultName, createdAt: new Date().toISOString(), ...fields } as T;
          const outcome = await catalog.create(record, quota);
          if (outcome !== 'ok') throw quotaExceeded(tenant, outcome === 'count' ? plural : 'storedBytes', quota);
        } catch (err) {
          await lopper.storage.deleteFolder(folder);
          throw err;
        } finally {
          await upload.discard();
        }
        return res.code(201).header('location', `/v1/${plural}/${id}`).send(record);
      },
    );

    app.get(
      `/${plural}`,
      {
        schema: {
          tags,
          operationId: `list${Title}s`,
          summary: kind.summary.list,
          querystring: listQuery,
          response: { 200: reply(page(kind.record), 'One page.') },
        },
      },
      async (req) => {
        const q = req.query as { limit: number; cursor?: string };
        return catalog.list(req.principal.tenant, q.limit, q.cursor);
      },
    );

    app.get(
      `/${plural}/:id`,
      { schema: { tags, operationId: `get${Title}`, params: idParams, response: { 200: reply(kind.record, `The ${kind.noun}.`) } } },
      async (req) => {
        const { id } = req.params as { id: string };
        const record = await catalog.get(id, req.principal.tenant);
        if (!record) throw notFound(kind.noun, id);
        return record;
      },
    );

    app.delete(
      `/${plural}/:id`,
      {
        schema: {
          tags,
          operationId: `delete${Title}`,
          summary: kind.summary.delete,
          params: idParams,
          response: { 204: empty('Deleted.'), ...problems(409) },
        },
      },
      async (req, res) => {
        const { id } = req.params as { id: string };
        const record = await catalog.get(id, req.principal.tenant);
        if (!record) throw notFound(kind.noun, id);
        const outcome = await catalog.remove(record);
        if (outcome === 'missing') throw notFound(kind.noun, id);
        if (outcome === 'in-use') throw new ApiError('conflict', 409, `${kind.noun} "${id}" is used by a queued or active job`, 'id');
        await lopper.storage.deleteFolder(storageKeys.folder(kind.noun, id));
        return res.code(204).send();
      },
    );
  };
}
