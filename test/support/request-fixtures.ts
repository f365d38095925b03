// Request fixtures that need no TensorFlow.js: .npz datasets (src/io/npz-write.ts needs none
// either) and multipart bodies for app.inject.
import { writeFile } from 'node:fs/promises';
import { encodeNpz } from '../../src/io/npz-write.js';

/** A labelled dataset of n samples of `dim` features and `classes` classes (seeded, learnable). */
export function datasetNpz(n: number, dim = 8, classes = 3, seed = 7): Uint8Array {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < dim; j++) x[i * dim + j] = rand() * 2 - 1 + (j % classes === y[i] ? 1 : 0);
  }
  return encodeNpz({ x: { data: x, shape: [n, dim] }, y: { data: y, shape: [n] } }, true);
}

export async function writeDataset(path: string, n: number, dim = 8, classes = 3): Promise<Uint8Array> {
  const bytes = datasetNpz(n, dim, classes);
  await writeFile(path, bytes);
  return bytes;
}

export interface Part {
  field: string;
  filename?: string;
  content: Uint8Array | string;
  contentType?: string;
}

/** A multipart/form-data body and its headers, for app.inject. */
export function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----lopper${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.field}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const type = p.filename !== undefined ? `Content-Type: ${p.contentType ?? 'application/octet-stream'}\r\n` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
    chunks.push(Buffer.from(p.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** Upload parts for a model folder: model.json plus weights.bin, under the field "files". */
export function modelParts(files: { modelJson: Uint8Array; weights: Uint8Array }): Part[] {
  return [
    { field: 'files', filename: 'model.json', content: files.modelJson, contentType: 'application/json' },
    { field: 'files', filename: 'weights.bin', content: files.weights },
  ];
}
