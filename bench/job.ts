// The fixed end-to-end prune job: the model saved as model.json + weights, synthetic data with
// labels in a .npz, and runPipeline (the code path of the CLI and the workers) from load to save.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { encodeNpz } from '../src/io/npz-write.js';
import { saveModelFiles } from '../src/io/model-save.js';
import { runPipeline } from '../src/pipeline.js';
import { fineTuneSchema, pruningSchema, type BackendName } from '../src/request.js';
import { syntheticData } from './stages.js';

export interface JobSpec {
  samples: number;
  ratio: number;
  calibrationSamples: number;
  epochs: number;
  batchSize: number;
}

export interface JobResult extends JobSpec {
  seconds: number;
  /** The pipeline's own per-stage timings (seconds). */
  timings: Record<string, number>;
}

export async function pruneJob(
  model: tf.LayersModel,
  sampleShape: number[],
  classes: number,
  spec: JobSpec,
  backend: BackendName,
): Promise<JobResult> {
  const dir = await mkdtemp(join(tmpdir(), 'lopper-bench-'));
  try {
    const modelDir = join(dir, 'model');
    await saveModelFiles(model, modelDir);
    const d = syntheticData(spec.samples, sampleShape, classes, 11);
    const dataPath = join(dir, 'data.npz');
    await writeFile(dataPath, encodeNpz({ x: { data: d.x, shape: [d.n, ...sampleShape] }, y: { data: d.y, shape: [d.n] } }));
    const t0 = performance.now();
    const report = await runPipeline({
      model: modelDir,
      data: dataPath,
      outDir: join(dir, 'out'),
      backend,
      pruning: pruningSchema.parse({ ratio: spec.ratio, calibrationSamples: spec.calibrationSamples }),
      fineTune: fineTuneSchema.parse({ epochs: spec.epochs, batchSize: spec.batchSize }),
    });
    const seconds = (performance.now() - t0) / 1000;
    return { ...spec, seconds, timings: (report as unknown as { timings: Record<string, number> }).timings ?? {} };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
