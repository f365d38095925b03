// Writes a LayersModel as a plain TF.js Layers model (model.json + one weights.bin), the
// format tf.loadLayersModel reads in browsers and Node, and optionally zips it for download.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { writeFileAtomic } from './atomic-write.js';

/** Returns the paths written: [model.json, weights.bin]. */
export async function saveModelFiles(model: tf.LayersModel, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const jsonPath = join(dir, 'model.json');
  const binPath = join(dir, 'weights.bin');
  // tfjs's file:// handler needs tfjs-node; a custom handler keeps saving backend-independent.
  await model.save({
    save: async (artifacts) => {
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      const modelJson = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: 'Lopper',
        modelTopology: artifacts.modelTopology,
        // Layers weights are float32, so one unquantized group describes them all.
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      // Weights first: whoever sees the new model.json finds matching weights already in place.
      await writeFileAtomic(binPath, weights);
      await writeFileAtomic(jsonPath, JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  });
  return [jsonPath, binPath];
}

/** Zips dir's model.json and the weight files it lists into dir/model.zip; returns its path. */
export async function zipModelFiles(dir: string): Promise<string> {
  const json = await readFile(join(dir, 'model.json'));
  const manifest = JSON.parse(new TextDecoder().decode(json)).weightsManifest as { paths: string[] }[];
  const entries: Zippable = { 'model.json': [json, { level: 6 }] };
  for (const p of manifest.flatMap((g) => g.paths)) {
    // Float weights barely compress (~7%); storing them keeps zipping a large model instant.
    entries[p] = [await readFile(join(dir, p)), { level: 0 }];
  }
  const zipPath = join(dir, 'model.zip');
  await writeFileAtomic(zipPath, zipSync(entries));
  return zipPath;
}
