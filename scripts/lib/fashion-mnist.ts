// Fashion-MNIST from the Debian package `dataset-fashion-mnist`: the official 60,000 / 10,000
// train/test split as gzipped IDX files under /usr/share/datasets/fashion-mnist. Pixels become
// float32 in [0, 1], labels int32 class ids (0 T-shirt/top … 9 ankle boot).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const FASHION_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

export interface Split {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

const missing = () => Object.values(FILES).filter((f) => !existsSync(join(FASHION_DIR, f)));

/** Installs the Debian package when the files are missing (as root, or via sudo); throws a clear error otherwise. */
export function ensureFashionMnist(log: (line: string) => void = console.log): void {
  if (missing().length === 0) return;
  log(`Fashion-MNIST not found under ${FASHION_DIR}: trying apt-get install -y dataset-fashion-mnist`);
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot
    ? (['apt-get', ['install', '-y', 'dataset-fashion-mnist']] as const)
    : (['sudo', ['-n', 'apt-get', 'install', '-y', 'dataset-fashion-mnist']] as const);
  const result = spawnSync(cmd[0], [...cmd[1]], { stdio: 'inherit' });
  const still = missing();
  if (still.length) {
    throw new Error(
      `Fashion-MNIST is not available: ${still.join(', ')} missing under ${FASHION_DIR}` +
        `${result.error ? ` (${result.error.message})` : ''}. Install it with: apt-get install -y dataset-fashion-mnist ` +
        '(or point FASHION_MNIST_DIR at a folder with the four official .gz files).',
    );
  }
}

function readIdx(file: string, magic: number): { dims: number[]; data: Uint8Array } {
  const bytes = gunzipSync(readFileSync(join(FASHION_DIR, file)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${file}: not an IDX file with magic ${magic.toString(16)}`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const data = bytes.subarray(4 + 4 * rank);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${file}: truncated (${data.length} bytes for [${dims}])`);
  return { dims, data };
}

function split(images: string, labels: string): Split {
  const img = readIdx(images, 0x00000803);
  const lab = readIdx(labels, 0x00000801);
  const n = img.dims[0];
  if (lab.dims[0] !== n || img.dims[1] !== 28 || img.dims[2] !== 28)
    throw new Error(`${images}/${labels}: unexpected shapes [${img.dims}] / [${lab.dims}]`);
  const x = new Float32Array(img.data.length);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return { x, y: Int32Array.from(lab.data), n };
}

/** The official split: 60,000 training and 10,000 test images, flat 784 pixels each. */
export function fashionMnist(): { train: Split; test: Split } {
  ensureFashionMnist();
  return { train: split(FILES.trainImages, FILES.trainLabels), test: split(FILES.testImages, FILES.testLabels) };
}
