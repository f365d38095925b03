// Imported by no-tensors.test.ts into a process where importing TensorFlow.js throws: the API
// (buildApp) takes a model and a dataset upload and enqueues a job without ever loading it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../../src/api/app.js';
import { datasetNpz, modelParts, multipart, type Part } from '../support/request-fixtures.js';
import { testEnv } from '../support/harness.js';

/** `modelDir` holds model.json + weights.bin, written by the parent (that needs tfjs). */
export async function main(modelDir: string): Promise<void> {
  const env = await testEnv();
  const app = await buildApp({ config: env.config, logger: false });
  try {
    const upload = (url: string, parts: Part[]) => {
      const body = multipart(parts);
      return app.inject({ method: 'POST', url, payload: body.payload, headers: body.headers });
    };
    const files = { modelJson: await readFile(join(modelDir, 'model.json')), weights: await readFile(join(modelDir, 'weights.bin')) };
    const model = await upload('/v1/models', modelParts(files));
    assert.equal(model.statusCode, 201, model.body);
    const data = await upload('/v1/datasets', [{ field: 'file', filename: 'd.npz', content: datasetNpz(16) }]);
    assert.equal(data.statusCode, 201, data.body);
    const job = await app.inject({
      method: 'POST', url: '/v1/jobs',
      payload: { modelId: model.json().id, datasetId: data.json().id, pruning: { ratio: 0.5 } },
    });
    assert.equal(job.statusCode, 202, job.body);
    console.log('OK');
  } finally {
    await app.close();
    await env.cleanup();
  }
}
