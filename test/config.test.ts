// Environment parsing: defaults, coercion, empty values, rejection naming the variable, and the
// round trip a worker uses to hand its configuration to its sandboxed child.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { configToEnv, ConfigError, loadConfig } from '../src/config.js';

test('defaults', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(c.dataDir, resolve('./data'));
  assert.equal(c.maxUploadBytes, 2 * 1024 ** 3);
  assert.equal(c.prefix, 'lopper');
  assert.equal(c.backend, 'auto');
  assert.equal(c.apiKey, undefined);
});

test('values are coerced, empty ones count as unset, bad ones are named', () => {
  const c = loadConfig({ PORT: '9000', MAX_UPLOAD_BYTES: '1000', API_KEY: '', LOCK_DURATION_MS: '2000' });
  assert.equal(c.port, 9000);
  assert.equal(c.maxUploadBytes, 1000);
  assert.equal(c.apiKey, undefined);
  assert.equal(c.lockDurationMs, 2000);
  assert.throws(() => loadConfig({ PORT: 'eighty' }), (e: Error) => e instanceof ConfigError && /PORT/.test(e.message));
  assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
  assert.throws(() => loadConfig({ LOPPER_BACKEND: 'tpu' }), /LOPPER_BACKEND/);
  assert.throws(() => loadConfig({ LOPPER_PREFIX: 'a b' }), /LOPPER_PREFIX/);
});

test('WEBHOOK_ALLOW_CIDRS: a list of ranges and addresses, each bad entry named', () => {
  assert.deepEqual(loadConfig({}).webhookAllowCidrs, []);
  assert.equal(loadConfig({}).webhookAttempts, 8);
  assert.deepEqual(loadConfig({ WEBHOOK_ALLOW_CIDRS: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,' }).webhookAllowCidrs, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
  for (const bad of ['10.0.0.0/33', 'localhost', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
    assert.throws(
      () => loadConfig({ WEBHOOK_ALLOW_CIDRS: `127.0.0.1/32,${bad}` }),
      (e: Error) => e instanceof ConfigError && e.message.includes('WEBHOOK_ALLOW_CIDRS') && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
  assert.throws(() => loadConfig({ WEBHOOK_ATTEMPTS: '0' }), /WEBHOOK_ATTEMPTS/);
});

test('configToEnv round-trips', () => {
  const c = loadConfig({ PORT: '1234', DATA_DIR: '/tmp/x', API_KEY: 'k', LOPPER_BACKEND: 'wasm', SHUTDOWN_TIMEOUT_MS: '5' });
  assert.deepEqual(loadConfig(configToEnv(c)), c);
  const hooks = loadConfig({ WEBHOOK_ALLOW_CIDRS: '10.0.0.0/8,::1', WEBHOOK_BACKOFF_MS: '20' });
  assert.deepEqual(loadConfig(configToEnv(hooks)), hooks);
});
