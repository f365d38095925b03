// /v1/datasets: one .npz (x and optional y). The inspector sandbox validates it as a stream
// (dtype, shape, NaN, labels, truncation, unzipped size) before it is stored.
import { z } from 'zod';
import type { DatasetSummary } from '../../io/dataset.js';
import type { DatasetRecord } from '../../store/catalog.js';
import { storageKeys } from '../../store/keys.js';
import { ApiError } from '../../errors.js';
import { datasetSchema, nameSchema } from '../schemas.js';
import { binary } from '../openapi.js';
import { uploadedRoutes } from './uploaded.js';

export default uploadedRoutes<DatasetRecord>({
  noun: 'dataset',
  catalog: (lopper) => lopper.datasets,
  record: datasetSchema,
  // The inspector hashes the file on a thread while it inspects it: a large upload's hash then
  // costs no time after its last byte.
  hashWhileReceiving: false,
  form: z.object({ file: binary, name: nameSchema.optional() }),
  summary: {
    upload: 'Upload a dataset (.npz with `x` and optional `y`).',
    list: 'Uploaded datasets, newest first.',
    delete: 'Delete a dataset; 409 while a queued or active job uses it.',
  },
  async accept(lopper, upload, id) {
    if (upload.files.length !== 1) {
      const detail = upload.files.length
        ? `expected one .npz file, got ${upload.files.length} files`
        : 'no file uploaded: send the .npz in field "file"';
      throw new ApiError('bad-request', 400, detail, 'file');
    }
    const file = upload.files[0];
    if (!file.name.toLowerCase().endsWith('.npz')) {
      throw new ApiError('invalid-input', 422, `"${file.name}" is not a .npz file (np.savez(path, x=..., y=...))`, file.field);
    }
    const { sha256, ...summary } = await lopper.inspector.inspectDataset<DatasetSummary & { sha256: string }>(
      file.path,
      file.field,
      lopper.inspectLimits,
    );
    const obj = await lopper.storage.putFile(storageKeys.dataset(id), file.path, sha256);
    return { fields: { ...summary, bytes: obj.bytes, sha256: obj.sha256 }, defaultName: file.name.replace(/\.npz$/i, '') };
  },
});
