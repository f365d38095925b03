// Request fixtures that need no TensorFlow.js: .npz datasets written byte by byte (.npy v1 members
// in a zip) and multipart bodies for app.inject.
import { writeFile } from 'node:fs/promises';
import { zipSync } from 'fflate';

function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // Header padded with spaces and a newline so data starts at a multiple of 64 bytes.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** A labelled dataset of n samples of `dim` features and `classes` classes (seeded, learnable). */
export function datasetNpz(n: number, dim = 8, classes = 3, seed = 7): Uint8Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < dim; j++) x[i * dim + j] = rand() * 2 - 1 + (j % classes === y[i] ? 1 : 0);
  }
  return zipSync({ 'x.npy': npy('<f4', [n, dim], x), 'y.npy': npy('<i4', [n], y) });
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
