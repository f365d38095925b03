// Shared by the engine tests: run the same computation on the `cpu` backend (the reference) and
// on `wasm` with Lopper's kernels, from the same seeded inputs, and compare elementwise.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../src/engine/wasm-kernels.js';

export async function setupBackends(): Promise<void> {
  registerWasmKernels();
  await tf.setBackend('wasm');
  await tf.ready();
}

/** Deterministic values in [-1, 1). */
export function values(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs fn on `backend` and returns every output's values and shape. */
export async function on(
  backend: 'cpu' | 'wasm',
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ data: Float32Array | Int32Array | Uint8Array; shape: number[] }[]> {
  const prev = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const before = tf.memory().numTensors;
    const outs = tf.tidy(fn);
    const list = Array.isArray(outs) ? outs : [outs];
    const res = await Promise.all(list.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape.slice() })));
    list.forEach((t) => t.dispose());
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    return res;
  } finally {
    await tf.setBackend(prev);
  }
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, msg: string, rtol = 1e-4, atol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.max(Math.abs(expected[i]), scale * 0.01);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) assert.fail(`${msg}: [${i}] ${actual[i]} vs ${expected[i]} (cpu)`);
  }
}

/** fn on wasm (Lopper's kernels) must match fn on cpu, output by output, shapes included. */
export async function matchesCpu(fn: () => tf.Tensor | tf.Tensor[], msg: string, rtol = 1e-4, atol = 1e-5): Promise<void> {
  const ref = await on('cpu', fn);
  const got = await on('wasm', fn);
  assert.equal(got.length, ref.length, msg);
  got.forEach((g, i) => {
    assert.deepEqual(g.shape, ref[i].shape, `${msg}: output ${i} shape`);
    assertClose(g.data, ref[i].data, `${msg}: output ${i}`, rtol, atol);
  });
}
