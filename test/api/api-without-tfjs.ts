// Imported by no-tensors.test.ts into a process where importing TensorFlow.js throws: the API
// (buildApp) takes a model and a dataset upload and enqueues a job without ever loading it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../../src/api/app.js';
import { client } from '../support/api.js';
import { testEnv } from '../support/harness.js';

/** `modelDir` holds model.json + weights.bin, written by the parent (that needs tfjs). */
export async function main(modelDir: string): Promise<void> {
  const env = await testEnv();
  const app = await buildApp({ config: env.config, logger: false });
  try {
    const api = client(() => app);
    const files = { modelJson: await readFile(join(modelDir, 'model.json')), weights: await readFile(join(modelDir, 'weights.bin')) };
    const modelId = await api.uploadModel(files);
    const datasetId = await api.uploadDataset(16);
    const job = await api.createJob({ modelId, datasetId, pruning: { ratio: 0.5 } });
    assert.equal(job.state, 'queued');
    console.log('OK');
  } finally {
    await app.close();
    await env.cleanup();
  }
}
