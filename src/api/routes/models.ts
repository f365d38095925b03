// /v1/models: a model is model.json + the shards its manifest names, or one .zip holding them.
// The upload is checked in the inspector sandbox (graph and limits, manifest names only uploaded
// files, sizes match shapes × dtypes, weights finite, the topology loads) before anything is
// stored; only model.json and the shards its manifest names are kept.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelSummary } from '../../inspect.js';
import type { UnpackedFile } from '../../io/model-zip.js';
import type { FileRecord, ModelRecord } from '../../store/catalog.js';
import { storageKeys } from '../../store/keys.js';
import { ApiError } from '../../errors.js';
import { modelSchema, nameSchema } from '../schemas.js';
import type { Services } from '../plugins/services.js';
import type { Upload, UploadedFile } from '../upload.js';
import { binary } from '../openapi.js';
import { uploadedRoutes } from './uploaded.js';

interface Inspected {
  summary: ModelSummary;
  /** model.json and the shards its manifest names. */
  keep: string[];
  /** A zip's members, as the inspector unpacked them. */
  unpacked?: UnpackedFile[];
}

/** Checks the files of a model upload in the inspector; returns what it found and each file by its name. */
async function inspectUpload(lopper: Services, upload: Upload) {
  const zips = upload.files.filter((f) => f.name.toLowerCase().endsWith('.zip'));
  if (zips.length > 0) {
    const zip = zips[0];
    if (upload.files.length > 1)
      throw new ApiError('invalid-input', 422, 'upload either one .zip or model.json with its weight files, not both', zip.field);
    // Unpacked by the inspector child (src/io/model-zip.ts, the CLI's reader too), not on this event loop.
    const dir = join(upload.dir, 'unzipped');
    await mkdir(dir);
    const found = await lopper.inspector.inspectModelZip<Inspected>(zip.path, dir, zip.field, lopper.inspectLimits);
    return { found, byName: new Map(found.unpacked!.map((f) => [f.name, f])), defaultName: zip.name.replace(/\.zip$/i, '') };
  }
  const jsons = upload.files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  if (jsons.length === 0) throw new ApiError('invalid-input', 422, 'no model.json among the uploaded files', 'model.json');
  if (jsons.length > 1) {
    throw new ApiError(
      'invalid-input',
      422,
      `several .json files uploaded (${jsons.map((j) => j.name).join(', ')}); send one model.json`,
      'model.json',
    );
  }
  // The topology file may have any name; inside Lopper (and in the manifest's eyes) it is model.json.
  const json = jsons[0];
  const byName = new Map<string, UploadedFile | UnpackedFile>(upload.files.filter((f) => f !== json).map((f) => [f.name, f]));
  byName.set('model.json', json);
  const paths = Object.fromEntries([...byName].map(([n, f]) => [n, f.path]));
  const found = await lopper.inspector.inspectModel<Inspected>(paths, lopper.inspectLimits);
  return { found, byName, defaultName: json.name.replace(/\.json$/i, '') };
}

export default uploadedRoutes<ModelRecord>({
  noun: 'model',
  catalog: (lopper) => lopper.models,
  record: modelSchema,
  hashWhileReceiving: true,
  form: z.object({ files: z.array(binary), name: nameSchema.optional() }).passthrough(),
  summary: {
    upload: 'Upload a TF.js Layers model.',
    list: 'Uploaded models, newest first.',
    delete: 'Delete a model and its files; 409 while a queued or active job uses it.',
  },
  description: `Send \`model.json\` and its weight shard files, or one \`.zip\` holding them, under any field
names (files are told apart by filename), e.g.
\`curl -F files=@model.json -F files=@group1-shard1of1.bin\`. The weights manifest must name
only uploaded files, their sizes must match the weights' shapes and dtypes, and the topology
must load; otherwise 422 with the reason. Uploads over MAX_UPLOAD_BYTES are refused (413).`,
  async accept(lopper, upload, id) {
    if (upload.files.length === 0)
      throw new ApiError('bad-request', 400, 'no files uploaded: send model.json and its weight files, or a .zip', 'files');
    const { found, byName, defaultName } = await inspectUpload(lopper, upload);
    const kept: FileRecord[] = [];
    for (const n of found.keep) {
      const file = byName.get(n)!;
      const obj = await lopper.storage.putFile(storageKeys.file('model', id, n), file.path, file.sha256 ?? undefined);
      kept.push({ name: n, bytes: obj.bytes, sha256: obj.sha256 });
    }
    return { fields: { ...found.summary, files: kept }, defaultName };
  },
});
