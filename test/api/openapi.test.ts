// openapi.yaml is generated from the routes' zod schemas (npm run openapi). The committed file
// must be exactly what the code generates, the service must serve that same text, every route
// must be in it with its scope and responses, and the limits it states must be those enforced.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { parse } from 'yaml';
import { buildApp } from '../../src/api/app.js';
import { generatedOpenapi } from '../../src/api/openapi-document.js';
import { openapiPath } from '../../src/api/paths.js';
import { pruningSchema } from '../../src/request.js';
import { testEnv, type TestEnv } from '../support/harness.js';

let env: TestEnv;
before(async () => {
  env = await testEnv();
});
after(async () => env.cleanup());

const committed = () => readFile(openapiPath(), 'utf8');

test('the committed openapi.yaml is the generated document (run `npm run openapi` after changing a route)', async () => {
  const generated = await generatedOpenapi(env.config);
  const file = await committed();
  if (generated !== file) {
    const a = file.split('\n');
    const b = generated.split('\n');
    const line = a.findIndex((l, i) => l !== b[i]);
    assert.fail(
      `openapi.yaml differs from the generated document from line ${line + 1}:\n  committed: ${a[line]}\n  generated: ${b[line]}`,
    );
  }
});

test('every route is documented with an operationId, its scope and its error responses', async () => {
  const registered = new Set<string>();
  const app = await buildApp({
    config: env.config,
    logger: false,
    onRoute: (r: RouteOptions) => {
      if ((r.schema as { hide?: boolean } | undefined)?.hide) return;
      for (const m of [r.method].flat()) if (m !== 'HEAD') registered.add(`${m} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    },
  });
  await app.ready();
  await app.close();

  const spec = parse(await committed());
  assert.equal(spec.openapi, '3.1.0');
  const documented = new Set<string>();
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, Record<string, any>>>)) {
    for (const [method, op] of Object.entries(item)) {
      documented.add(`${method.toUpperCase()} ${path}`);
      assert.ok(op.operationId && !ids.has(op.operationId), `${method} ${path}: a unique operationId`);
      ids.add(op.operationId);
      if (!path.startsWith('/v1/')) continue;
      assert.ok(['read', 'write', 'admin'].includes(op['x-scope']), `${method} ${path}: x-scope`);
      for (const status of ['401', '403', '429', '503']) {
        assert.match(op.responses[status]?.$ref ?? '', /^#\/components\/responses\//, `${method} ${path}: ${status}`);
      }
      if (op.requestBody?.content['application/json']) assert.ok(op.responses['422'], `${method} ${path}: 422 for a bad body`);
      if (path.includes('{')) assert.ok(op.responses['404'], `${method} ${path}: 404 for an unknown id`);
    }
  }
  assert.deepEqual([...registered].sort(), [...documented].sort());
  // Every shared error response the operations refer to exists.
  for (const name of Object.keys(spec.components.responses)) assert.ok(spec.components.responses[name].content['application/problem+json']);
});

test('the document states the limits the code enforces', async () => {
  const spec = parse(await committed());
  const pruning = spec.components.schemas.Pruning.properties;
  // It once said calibrationSamples minimum 1 while the code refused 1.
  assert.equal(pruning.calibrationSamples.minimum, 2);
  assert.equal(pruningSchema.safeParse({ ratio: 0.5, calibrationSamples: 1 }).success, false);
  assert.equal(pruningSchema.safeParse({ ratio: 0.5, calibrationSamples: 2 }).success, true);
  assert.deepEqual([pruning.ratio.exclusiveMinimum, pruning.ratio.exclusiveMaximum], [0, 1]);
  assert.equal(spec.components.schemas.JobRequest.additionalProperties, false);
  const upload = spec.paths['/v1/models'].post.requestBody.content['multipart/form-data'].schema;
  assert.equal(upload.properties.files.items.format, 'binary');
});

test('the service serves the committed document, and Swagger UI reads it', async () => {
  const app = await buildApp({ config: env.config, logger: false });
  try {
    const res = await app.inject('/openapi.yaml');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/yaml/);
    assert.equal(res.body, await committed());
    const json = await app.inject('/docs/json');
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.json().paths['/v1/jobs'].post.operationId, 'createJob');
  } finally {
    await app.close();
  }
});
