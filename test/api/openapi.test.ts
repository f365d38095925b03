// openapi.yaml is the contract external clients code against: the set of (method, path) it lists
// must equal the set of routes the API registers. Swagger UI's own asset routes (hidden) and the
// HEAD routes Fastify adds to every GET are not part of the contract.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { parse } from 'yaml';
import { buildApp } from '../../src/api/app.js';
import { openapiPath } from '../../src/api/paths.js';
import { testEnv, type TestEnv } from '../support/harness.js';

let env: TestEnv;
before(async () => {
  env = await testEnv();
});
after(async () => env.cleanup());

test('every route is in openapi.yaml and every path in openapi.yaml is a route', async () => {
  const registered = new Set<string>();
  const app = await buildApp({
    config: env.config,
    logger: false,
    onRoute: (r: RouteOptions) => {
      if ((r.schema as { hide?: boolean } | undefined)?.hide) return;
      for (const m of [r.method].flat()) {
        if (m === 'HEAD') continue;
        registered.add(`${m} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
      }
    },
  });
  await app.ready();
  await app.close();

  const spec = parse(await readFile(openapiPath(), 'utf8'));
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) documented.add(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual([...registered].sort(), [...documented].sort());
});

test('openapi.yaml is served as-is and parses as OpenAPI 3.1', async () => {
  const app = await buildApp({ config: env.config, logger: false });
  try {
    const res = await app.inject('/openapi.yaml');
    assert.equal(res.body, await readFile(openapiPath(), 'utf8'));
    const spec = parse(res.body);
    assert.equal(spec.openapi, '3.1.0');
    const json = await app.inject('/docs/json');
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.json().paths['/v1/jobs'] !== undefined, true);
  } finally {
    await app.close();
  }
});
