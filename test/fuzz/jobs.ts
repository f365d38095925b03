// POST /v1/jobs with hostile JSON: every numeric field at absurd, negative, fractional, non-finite
// and wrongly typed values; missing and extra fields; unknown and path-like ids; bodies over 1 MiB;
// deep nesting; broken JSON; other media types; Idempotency-Key oddities and replays.
//
// The contract (openapi.yaml, README): a body that breaks the schema is 422 naming the field, an
// unknown id is 404 naming the field, a body over the JSON limit is 413, another media type 415,
// broken JSON 400. Values no pruning job can mean (epochs 1e9, batchSize 1e9, learningRate 1e308,
// temperature 1e-300, calibrationSamples 1e12, seed 1e300, ...) must be refused like any other
// out-of-bounds value: 422 naming the field. Values in between (epochs 500, ratio 0 or 1, ...) may
// go either way; sane values must be accepted (202).
import { datasetNpz, multipart } from '../support/fixtures.js';
import { Rng } from './random.js';
import { any, reject, status, type CaseSpec, type Expect, type FuzzContext, type FuzzRequest } from './runner.js';

export interface JobBases {
  /** A dataset whose samples have 5 features (the model takes 8). */
  wide: string;
  /** A dataset of one sample (nothing to hold out without evalDatasetId). */
  single: string;
}

export async function prepareJobs(ctx: FuzzContext): Promise<JobBases> {
  const up = async (content: Uint8Array) => {
    const body = multipart([{ field: 'file', filename: 'd.npz', content }]);
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/datasets', payload: body.payload, headers: body.headers });
    if (res.statusCode !== 201) throw new Error(`jobs fixture upload: ${res.statusCode} ${res.body}`);
    ctx.made('datasets', res.json().id);
    return res.json().id as string;
  };
  return { wide: await up(datasetNpz(16, 5)), single: await up(datasetNpz(1, 8)) };
}

type Path = readonly [string, string];

interface NumericField {
  path: Path;
  int: boolean;
  /** Values a job may sanely ask for: 202. */
  sane: number[];
  /** Values between sane and absurd: either answer. */
  grey: number[];
  /** Out of bounds by the schema or absurd: 422 naming the field. */
  bad: number[];
}

const FIELDS: NumericField[] = [
  {
    path: ['pruning', 'ratio'],
    int: false,
    sane: [0.05, 0.25, 0.5, 0.75, 0.9],
    grey: [0, 1, 1e-300, 0.9999999],
    bad: [-0.1, 1.5, -1, 2, 1e308, -1e-300],
  },
  {
    path: ['pruning', 'calibrationSamples'],
    int: true,
    sane: [2, 16, 32, 64],
    grey: [1024, 10_000, 1e6],
    bad: [1e12, 1e15, 2 ** 53, 1e300, 0, -1, 1, 2.5],
  },
  {
    path: ['pruning', 'seed'],
    int: true,
    sane: [0, 1, 42, 2 ** 31 - 1],
    grey: [2 ** 32, 2 ** 53 - 1],
    bad: [1e300, 1e20, 2 ** 64, -1, 0.5, -1e300],
  },
  { path: ['fineTune', 'epochs'], int: true, sane: [0, 1, 3, 10], grey: [100, 1000, 100_000], bad: [1e9, 1e7, 2 ** 53, 1e300, -1, 1.5] },
  {
    path: ['fineTune', 'batchSize'],
    int: true,
    sane: [1, 8, 32, 64],
    grey: [1024, 65_536, 1e6],
    bad: [1e9, 1e12, 2 ** 53, 1e300, 0, -32, 16.5],
  },
  {
    path: ['fineTune', 'learningRate'],
    int: false,
    sane: [1e-5, 1.5e-5, 1e-4, 1e-3, 0.01],
    grey: [1, 10, 1e-12, 1e-300],
    bad: [1e308, 1e100, 1e10, 0, -1e-5, -1e308],
  },
  { path: ['fineTune', 'weightDecay'], int: false, sane: [0, 0.01, 0.05, 0.1], grey: [1, 10, 1e3], bad: [1e308, 1e100, -0.01, -1e308] },
  {
    path: ['fineTune', 'temperature'],
    int: false,
    sane: [0.5, 1, 2, 4, 10],
    grey: [0.01, 100, 1e-3, 1e4],
    bad: [1e-300, 5e-324, 1e-100, 1e308, 1e100, 0, -1],
  },
  { path: ['fineTune', 'distillWeight'], int: false, sane: [0, 0.25, 0.5, 1], grey: [1e-300], bad: [-0.1, 1.5, 2, 1e308, -1e308] },
];

const NOT_NUMBERS: unknown[] = ['1', '0.5', 'NaN', 'Infinity', '', null, true, false, [], [1], {}, { value: 1 }];

const validBody = (ctx: FuzzContext) => ({
  modelId: ctx.ids.model,
  datasetId: ctx.ids.dataset,
  pruning: { ratio: 0.5, calibrationSamples: 32 },
  fineTune: { epochs: 1 },
});

/** `contentType` null sends no Content-Type at all. */
const post = (
  payload: string | Buffer,
  headers: Record<string, string | string[]> = {},
  contentType: string | null = 'application/json',
): FuzzRequest => ({
  method: 'POST',
  url: '/v1/jobs',
  payload,
  headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
});

const postJson = (body: unknown, headers: Record<string, string | string[]> = {}) => post(JSON.stringify(body), headers);

const fieldName = (p: Path) => p.join('.');

/** Replaces the JSON text of a placeholder value (for numbers JSON.stringify cannot write). */
const PLACEHOLDER = '"\u0000VALUE\u0000"';

interface JobGen {
  tag: string;
  weight: number;
  build: (rng: Rng, ctx: FuzzContext, b: JobBases) => { request: FuzzRequest; expect: Expect; note?: string; then?: CaseSpec['then'] };
}

const GENS: JobGen[] = [
  {
    tag: 'jobs.numeric.bad',
    weight: 30,
    build: (rng, ctx) => {
      const f = rng.pick(FIELDS);
      const v = rng.pick(f.bad);
      const body: any = validBody(ctx);
      body[f.path[0]] = { ...body[f.path[0]], [f.path[1]]: v };
      return { request: postJson(body), expect: status(422, fieldName(f.path)), note: `${fieldName(f.path)} = ${v}` };
    },
  },
  {
    tag: 'jobs.numeric.non-finite',
    weight: 8,
    build: (rng, ctx) => {
      // JSON has no Infinity or NaN, but 1e400 parses to Infinity.
      const f = rng.pick(FIELDS);
      const text = rng.pick(['1e400', '-1e400', '1' + '0'.repeat(400), '-0.0e999999']);
      const body: any = validBody(ctx);
      body[f.path[0]] = { ...body[f.path[0]], [f.path[1]]: '\u0000VALUE\u0000' };
      const payload = JSON.stringify(body).replace(PLACEHOLDER, text);
      // -0.0e999999 is -0: a valid zero where zero is allowed.
      const expect = text.startsWith('-0.0') ? any() : status(422, fieldName(f.path));
      return { request: post(payload), expect, note: `${fieldName(f.path)} = ${text.slice(0, 20)}` };
    },
  },
  {
    tag: 'jobs.numeric.wrong-type',
    weight: 8,
    build: (rng, ctx) => {
      const f = rng.pick(FIELDS);
      const v = rng.pick(NOT_NUMBERS);
      const body: any = validBody(ctx);
      body[f.path[0]] = { ...body[f.path[0]], [f.path[1]]: v };
      return { request: postJson(body), expect: status(422, fieldName(f.path)), note: `${fieldName(f.path)} = ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'jobs.numeric.grey',
    weight: 6,
    build: (rng, ctx) => {
      const f = rng.pick(FIELDS);
      const v = rng.pick(f.grey);
      const body: any = validBody(ctx);
      body[f.path[0]] = { ...body[f.path[0]], [f.path[1]]: v };
      return { request: postJson(body), expect: any(), note: `${fieldName(f.path)} = ${v}` };
    },
  },
  {
    tag: 'jobs.ok.sane',
    weight: 8,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      for (const f of FIELDS) if (rng.chance(0.4)) body[f.path[0]] = { ...body[f.path[0]], [f.path[1]]: rng.pick(f.sane) };
      if (rng.chance(0.3)) body.pruning.criterion = rng.pick(['variance', 'magnitude', 'random']);
      if (rng.chance(0.2)) body.pruning.meanShift = rng.chance(0.5);
      if (rng.chance(0.2)) body.pruning.statistics = rng.pick(['post', 'pre']);
      if (rng.chance(0.2)) body.pruning.scope = rng.pick(['global', 'per-block']);
      if (rng.chance(0.2)) body.evalDatasetId = ctx.ids.dataset;
      if (rng.chance(0.2)) delete body.fineTune;
      return { request: postJson(body), expect: status(202), note: JSON.stringify(body).slice(0, 150) };
    },
  },
  {
    tag: 'jobs.enum',
    weight: 5,
    build: (rng, ctx) => {
      const key = rng.pick(['criterion', 'meanShift', 'statistics', 'scope']);
      const v = rng.pick<unknown>(['vibes', '', 'VARIANCE', 'Variance ', '__proto__', 'yes', 1, null, [], {}]);
      const body: any = validBody(ctx);
      body.pruning[key] = v;
      return { request: postJson(body), expect: status(422, `pruning.${key}`), note: `${key} = ${JSON.stringify(v)}` };
    },
  },
  {
    tag: 'jobs.missing-field',
    weight: 5,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      const which = rng.pick(['modelId', 'datasetId', 'pruning', 'pruning.ratio']);
      if (which === 'pruning.ratio') delete body.pruning.ratio;
      else delete body[which];
      return { request: postJson(body), expect: status(422, which), note: which };
    },
  },
  {
    tag: 'jobs.extra-field',
    weight: 5,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      const where = rng.pick(['', 'pruning', 'fineTune']);
      const key = rng.pick(['colour', 'epochs', 'id', 'state', 'modelid', 'constructor', 'toString', rng.word()]);
      const target = where ? body[where] : body;
      target[key] = rng.pick<unknown>([1, 'x', null, {}]);
      return { request: postJson(body), expect: status(422, where ? `${where}.${key}` : key), note: `${where}.${key}` };
    },
  },
  {
    tag: 'jobs.wrong-type',
    weight: 5,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      const key = rng.pick(['modelId', 'datasetId', 'evalDatasetId', 'pruning', 'fineTune']);
      body[key] = rng.pick<unknown>(
        [123, null, true, [], ['x'], 'x', { a: 1 }].filter((v) => !(typeof v === 'string' && key.endsWith('Id'))),
      );
      // An object in place of pruning may be reported on the key it lacks (pruning.ratio).
      return { request: postJson(body), expect: status(422, new RegExp(`^${key}(\\.|$)`)), note: `${key} = ${JSON.stringify(body[key])}` };
    },
  },
  {
    tag: 'jobs.body-shape',
    weight: 3,
    build: (rng) => {
      const v = rng.pick(['[]', '"x"', '42', 'null', 'true', '[{}]', '{}']);
      return { request: post(v), expect: reject(), note: v };
    },
  },
  {
    tag: 'jobs.unknown-id',
    weight: 6,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      const key = rng.pick(['modelId', 'datasetId', 'evalDatasetId']);
      const v = rng.pick([
        `${rng.word(8, 8)}-${rng.word(4, 4)}-${rng.word(4, 4)}`,
        'missing',
        ctx.ids.job,
        key === 'modelId' ? ctx.ids.dataset : ctx.ids.model,
        'A'.repeat(64),
        '0',
      ]);
      body[key] = v;
      return { request: postJson(body), expect: status(404, key), note: `${key} = ${v}` };
    },
  },
  {
    tag: 'jobs.tricky-id',
    weight: 6,
    build: (rng, ctx) => {
      const body: any = validBody(ctx);
      const key = rng.pick(['modelId', 'datasetId', 'evalDatasetId']);
      const v = rng.pick([
        `../${ctx.ids.model}`,
        `${ctx.ids.model}/../${ctx.ids.model}`,
        '../../etc/passwd',
        '..',
        '.',
        '',
        ' ',
        `${ctx.ids.model} `,
        `${ctx.ids.model}\u0000`,
        'a/b',
        'a\\b',
        '%2e%2e',
        'x'.repeat(65),
        'x'.repeat(100_000),
        '\u00e9',
        '\ud83d\ude00',
        '*',
        'lopper:models',
        '__proto__',
      ]);
      body[key] = v;
      return { request: postJson(body), expect: status([404, 422], key), note: `${key} = ${JSON.stringify(v).slice(0, 40)}` };
    },
  },
  {
    tag: 'jobs.dataset-mismatch',
    weight: 2,
    build: (rng, ctx, b) => {
      const body: any = validBody(ctx);
      const single = rng.chance(0.5);
      if (single) body.datasetId = b.single;
      else if (rng.chance(0.5)) body.datasetId = b.wide;
      else body.evalDatasetId = b.wide;
      const field = single ? 'datasetId' : body.evalDatasetId ? 'evalDatasetId' : 'datasetId';
      return { request: postJson(body), expect: status(422, field), note: single ? 'one sample' : `5 features in ${field}` };
    },
  },
  {
    tag: 'jobs.too-large',
    weight: 3,
    build: (rng, ctx) => {
      const size = rng.pick([1024 * 1024 + 1, 2 * 1024 * 1024, 8 * 1024 * 1024]);
      const how = rng.pick(['whitespace', 'extra-field', 'long-id']);
      const base = JSON.stringify(validBody(ctx));
      const payload =
        how === 'whitespace'
          ? base.slice(0, -1) + ' '.repeat(size) + '}'
          : how === 'extra-field'
            ? base.slice(0, -1) + `,"pad":"${'x'.repeat(size)}"}`
            : JSON.stringify({ ...validBody(ctx), modelId: 'x'.repeat(size) });
      return { request: post(payload), expect: status(413), note: `${how} ${size}` };
    },
  },
  {
    tag: 'jobs.deep',
    weight: 3,
    build: (rng, ctx) => {
      const depth = rng.pick([100, 1000, 10_000, 100_000, 400_000]);
      const kind = rng.pick(['array', 'object']);
      const deep = kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const where = rng.pick(['top', 'modelId', 'pruning', 'fineTune.epochs', 'extra']);
      let payload: string;
      let field = where;
      if (where === 'top') {
        payload = deep;
        field = 'body'; // a deep object at the top may be reported on modelId, ...
      } else {
        const body: any = validBody(ctx);
        if (where === 'fineTune.epochs') body.fineTune.epochs = '\u0000VALUE\u0000';
        else body[where] = '\u0000VALUE\u0000';
        payload = JSON.stringify(body).replace(PLACEHOLDER, deep);
      }
      // Either refused as a body (413 if over the limit, 400 if the parser refuses the depth) or
      // as the field it sits in (422).
      const over = payload.length > 1024 * 1024;
      const fieldRe = where === 'top' ? /.+/ : new RegExp(`^(body|${field.replace('.', '\\.')})$`);
      return {
        request: post(payload),
        expect: over ? status(413) : status([400, 422], fieldRe),
        note: `${kind} depth ${depth} at ${where}`,
      };
    },
  },
  {
    tag: 'jobs.invalid-json',
    weight: 5,
    build: (rng, ctx) => {
      const good = JSON.stringify(validBody(ctx));
      const v = rng.pick([
        good.slice(0, rng.int(1, good.length - 1)),
        good + '}',
        good.replace(':', ''),
        "{'modelId': 'x'}",
        '{"a":1,}',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":undefined}',
        '\u0000',
        '{"a":"\u0001"}',
        '{"a":01}',
        '{"a":.5}',
        '\ufeff' + good,
        good.replace('{', '{/*c*/'),
      ]);
      // A UTF-8 BOM before valid JSON may be tolerated.
      return { request: post(v), expect: v.startsWith('\ufeff') ? any() : status(400), note: JSON.stringify(v).slice(0, 60) };
    },
  },
  {
    tag: 'jobs.prototype-keys',
    weight: 3,
    build: (rng, ctx) => {
      const good = JSON.stringify(validBody(ctx));
      const inject = rng.pick(['"__proto__":{"polluted":"yes"}', '"constructor":{"prototype":{"polluted":"yes"}}', '"__proto__":null']);
      const where = rng.pick(['top', 'pruning']);
      const payload = where === 'top' ? `{${inject},${good.slice(1)}` : good.replace('"pruning":{', `"pruning":{${inject},`);
      return { request: post(payload), expect: reject(), note: `${where}: ${inject}` };
    },
  },
  {
    tag: 'jobs.media-type',
    weight: 4,
    build: (rng, ctx) => {
      const good = JSON.stringify(validBody(ctx));
      const ct = rng.pick<string | null>([
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        null,
        'image/png',
        'application/jsonx',
      ]);
      return { request: post(good, {}, ct), expect: status(415), note: String(ct) };
    },
  },
  {
    tag: 'jobs.media-type-json-variants',
    weight: 2,
    build: (rng, ctx) => {
      const ct = rng.pick([
        'application/json; charset=utf-8',
        'Application/JSON',
        'application/json;charset=UTF-8',
        'application/problem+json',
        'application/vnd.api+json',
        'application/json; charset=latin1',
      ]);
      return { request: post(JSON.stringify(validBody(ctx)), {}, ct), expect: any(), note: ct };
    },
  },
  {
    tag: 'jobs.empty-body',
    weight: 2,
    build: (rng) => {
      const ct = rng.pick(['application/json', null]);
      return { request: post('', {}, ct), expect: reject(), note: String(ct) };
    },
  },
  {
    tag: 'jobs.idempotency.bad-key',
    weight: 5,
    build: (rng, ctx) => {
      const key = rng.pick(['', 'x'.repeat(256), 'x'.repeat(10_000)]);
      return {
        request: postJson(validBody(ctx), { 'idempotency-key': key }),
        expect: status([400, 422], 'idempotency-key'),
        note: `${key.length} chars`,
      };
    },
  },
  {
    tag: 'jobs.idempotency.odd-key',
    weight: 3,
    build: (rng, ctx) => {
      const key =
        rng.pick([' ', '\t', 'a b', '\u00e9\u00e8', '../../x', '*', 'lopper:*', '{}', 'x'.repeat(255), rng.word()]) + `-${rng.int(0, 1e9)}`;
      return { request: postJson(validBody(ctx), { 'idempotency-key': key }), expect: any(), note: JSON.stringify(key).slice(0, 40) };
    },
  },
  {
    tag: 'jobs.idempotency.replay',
    weight: 6,
    build: (rng, ctx) => {
      const key = `fuzz-${rng.word(6, 6)}-${rng.int(0, 1e9)}`;
      const body = validBody(ctx);
      const headers = { 'idempotency-key': key };
      const other = { ...body, pruning: { ...body.pruning, ratio: 0.25 } };
      const mode = rng.pick(['same', 'same-reordered', 'other-body', 'other-key']);
      const then: CaseSpec['then'] =
        mode === 'same'
          ? [{ request: postJson(body, headers), expect: status(202), sameId: true }]
          : mode === 'same-reordered'
            ? [
                {
                  request: post(
                    JSON.stringify({ fineTune: body.fineTune, pruning: body.pruning, datasetId: body.datasetId, modelId: body.modelId }),
                    headers,
                  ),
                  expect: any(),
                },
              ]
            : mode === 'other-body'
              ? [{ request: postJson(other, headers), expect: status(422, 'idempotency-key') }]
              : [{ request: postJson(body, { 'idempotency-key': `${key}-2` }), expect: status(202), differentId: true }];
      return { request: postJson(body, headers), expect: status(202), note: mode, then };
    },
  },
];

export function jobCase(rng: Rng, ctx: FuzzContext, bases: JobBases): CaseSpec {
  const g = rng.weighted(GENS.map((x) => [x.weight, x] as const));
  const r = g.build(rng, ctx, bases);
  return { tags: [g.tag], expect: r.expect, request: r.request, creates: 'jobs', note: r.note, then: r.then };
}
