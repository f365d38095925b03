import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { backendFailures, currentBackend, initBackend, setBackendLogger } from '../../src/engine/backend.js';
import { isReplaced } from '../../src/engine/wasm/registry.js';
import { ConfigError } from '../../src/settings.js';

test('initBackend("wasm") registers the kernel fixes, logs the choice and reports the device', async () => {
  const lines: string[] = [];
  setBackendLogger((m) => lines.push(m));
  const info = await initBackend('wasm');
  assert.equal(info.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(info.device, /CPU/);
  assert.deepEqual(currentBackend(), info);
  for (const k of ['BatchMatMul', '_FusedMatMul', 'Transpose', 'Tile', 'Identity']) assert.ok(isReplaced(k), k);
  assert.equal((tf.getGradient('Tile') as { lopper?: boolean }).lopper, true);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /backend wasm on/);
  // Asking again (or for auto) returns the same backend without re-initialising.
  assert.deepEqual(await initBackend('auto'), info);
  assert.equal(lines.length, 1);
});

test('an unavailable backend fails with the reason', async () => {
  await assert.rejects(initBackend('tensorflow'), /tensorflow.*not available.*tfjs-node/);
  assert.ok(backendFailures().tensorflow);
  await initBackend('wasm');
});

test('a bad engine variable is a ConfigError naming it, whichever backend is asked for', async () => {
  process.env.LOPPER_WEBGPU_SUBMIT_BATCH = 'many';
  try {
    await assert.rejects(initBackend('wasm'), (e: Error) => e instanceof ConfigError && /LOPPER_WEBGPU_SUBMIT_BATCH/.test(e.message));
  } finally {
    delete process.env.LOPPER_WEBGPU_SUBMIT_BATCH;
  }
  process.env.LOPPER_BACKEND = 'tpu';
  try {
    await assert.rejects(initBackend(), (e: Error) => e instanceof ConfigError && /LOPPER_BACKEND/.test(e.message));
  } finally {
    delete process.env.LOPPER_BACKEND;
  }
  assert.equal((await initBackend()).backend, 'wasm');
});
