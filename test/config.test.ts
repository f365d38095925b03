// Environment parsing: defaults, coercion, empty values, rejection naming the variable, the round
// trip a worker uses to hand its configuration to its sandboxed child, the engine's variables, and
// the README tables rendered from the same declaration.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { README, renderReadme, renderTable } from '../scripts/lib/config-docs.js';
import { configToEnv, ConfigError, loadConfig, SETTINGS } from '../src/config.js';
import { ENGINE_SETTINGS, loadEngineSettings } from '../src/engine/settings.js';
import { defaultText } from '../src/settings.js';

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
  assert.throws(
    () => loadConfig({ PORT: 'eighty' }),
    (e: Error) => e instanceof ConfigError && /PORT/.test(e.message),
  );
  assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
  assert.throws(() => loadConfig({ LOPPER_BACKEND: 'tpu' }), /LOPPER_BACKEND/);
  assert.throws(() => loadConfig({ LOPPER_PREFIX: 'a b' }), /LOPPER_PREFIX/);
});

test('WEBHOOK_ALLOW_CIDRS: a list of ranges and addresses, each bad entry named', () => {
  assert.deepEqual(loadConfig({}).webhookAllowCidrs, []);
  assert.equal(loadConfig({}).webhookAttempts, 8);
  assert.deepEqual(loadConfig({ WEBHOOK_ALLOW_CIDRS: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,' }).webhookAllowCidrs, [
    '10.0.0.0/8',
    '127.0.0.1',
    'fd00::/8',
  ]);
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

test('the engine settings: validated with the service config, parsed by the engine, handed to children', () => {
  const c = loadConfig({});
  assert.equal(c.webgpuSubmitBatch, 1000);
  assert.equal(c.webgpuCpuForward, false);
  assert.deepEqual(c.dawnOptions, []);
  const tuned = { LOPPER_WEBGPU_SUBMIT_BATCH: '15', LOPPER_WEBGPU_CPU_FORWARD: '1', LOPPER_DAWN_OPTIONS: 'a,b', LOPPER_BACKEND: 'cpu' };
  assert.deepEqual(loadEngineSettings(tuned), { backend: 'cpu', webgpuSubmitBatch: 15, webgpuCpuForward: true, dawnOptions: ['a', 'b'] });
  const t = loadConfig(tuned);
  assert.deepEqual(loadConfig(configToEnv(t)), t);
  // Once read as Number(...) or `=== '1'`: a typo fell back silently; now it is named.
  for (const [name, bad] of [
    ['LOPPER_WEBGPU_SUBMIT_BATCH', '0'],
    ['LOPPER_WEBGPU_SUBMIT_BATCH', '1e3.5'],
    ['LOPPER_WEBGPU_CPU_FORWARD', 'true'],
  ]) {
    for (const parse of [loadConfig, loadEngineSettings]) {
      assert.throws(
        () => parse({ [name]: bad }),
        (e: Error) => e instanceof ConfigError && e.message.includes(name),
        `${name}=${bad}`,
      );
    }
  }
  // The service declares every engine variable (so a bad one stops it at start), as the same object.
  for (const [name, s] of Object.entries(ENGINE_SETTINGS)) assert.equal((SETTINGS as Record<string, unknown>)[name], s, name);
});

test('each documented default is the value an unset variable gets', () => {
  const defaults = loadConfig({});
  for (const [name, s] of Object.entries(SETTINGS)) {
    const text = defaultText(s.schema);
    if (text === undefined) assert.equal((defaults as Record<string, unknown>)[s.key], undefined, name);
    else assert.deepEqual(loadConfig({ [name]: text }), defaults, name);
  }
});

test("README's configuration tables are the ones rendered from the declaration (npm run docs:config)", async () => {
  const readme = await readFile(README, 'utf8');
  for (const table of ['service', 'access', 'webhooks', 'limits', 'gpu'] as const) assert.ok(readme.includes(renderTable(table)), table);
  assert.equal(renderReadme(readme), readme);
  for (const table of ['service', 'access', 'webhooks', 'limits', 'gpu']) {
    assert.match(
      readme,
      new RegExp(`<!-- prettier-ignore-start -->\n<!-- config:${table} -->[^]*?<!-- /config:${table} -->\n<!-- prettier-ignore-end -->`),
      `${table} is kept from prettier`,
    );
  }
  for (const name of Object.keys(SETTINGS)) assert.ok(readme.includes(`| \`${name}\` |`), name);
});
