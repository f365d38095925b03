// /v1/models: a model is model.json + the shards its manifest names, or one .zip holding them.
// The upload is checked in the inspector sandbox (graph and limits, manifest names only uploaded
// files, sizes match shapes × dtypes, weights finite, the topology loads) before anything is
// stored; only model.json and the shards its manifest names are kept.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelSummary } from '../../inspect.js';
import type { FileRecord, ModelRecord } from '../../store/catalog.js';
import { storageKeys } from '../../store/keys.js';
import { ApiError } from '../../errors.js';
import { modelSchema, nameSchema } from '../schemas.js';
import { unzipInto } from '../unzip.js';
import type { Upload, UploadedFile } from '../upload.js';
import { binary } from '../openapi.js';
import { uploadedRoutes } from './uploaded.js';

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

export default uploadedRoutes<ModelRecord>({
  noun: 'model',
  catalog: (lopper) => lopper.models,
  record: modelSchema,
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
    if (upload.files.length === 0) throw new ApiError('bad-request', 400, 'no files uploaded: send model.json and its weight files, or a .zip', 'files');
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
    for (const n of keep) {
      const file = byName.get(n)!;
      const obj = await lopper.storage.putFile(storageKeys.file('model', id, n), file.path, file.sha256);
      kept.push({ name: n, bytes: obj.bytes, sha256: obj.sha256 });
    }
    return { fields: { ...summary, files: kept }, defaultName: defaultName(upload, json) };
  },
});
