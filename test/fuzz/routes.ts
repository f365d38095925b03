// Every {id} route with hostile ids: percent-encoding, double slashes, dot segments, 10 KiB ids,
// unicode, NUL, %00, ..%2f, query strings, bad percent-encoding, unknown methods; plus router-level
// errors (very long URLs, /%zz) and the list routes' query strings. Unknown ids are 404 by contract;
// a URL that is not even well-formed may be 400 (or 414 when too long); every error problem+json.
import { Rng } from './random.js';
import { any, status, type CaseSpec, type Expect, type FuzzContext } from './runner.js';

const ID_ROUTES: { method: string; path: (id: string, ctx: FuzzContext, rng: Rng) => string }[] = [
  { method: 'GET', path: (id) => `/v1/models/${id}` },
  { method: 'DELETE', path: (id) => `/v1/models/${id}` },
  { method: 'GET', path: (id) => `/v1/datasets/${id}` },
  { method: 'DELETE', path: (id) => `/v1/datasets/${id}` },
  { method: 'GET', path: (id) => `/v1/jobs/${id}` },
  { method: 'POST', path: (id) => `/v1/jobs/${id}/cancel` },
  {
    method: 'GET',
    path: (id, _c, rng) =>
      `/v1/jobs/${id}/artifacts/${rng.pick(['model.json', 'weights.bin', 'model.zip', 'report.json', 'statistics.json'])}`,
  },
];

/** encodeURIComponent, with lone surrogates (which it refuses) sent as their raw UTF-8 bytes' escapes. */
const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd')).replace(/%EF%BF%BD/g, '%ED%A0%80');

const longSegment = (s: string) => s.split(/[/?#]/).some((seg) => seg.length > 100);

const UNUSED_METHODS = ['PATCH', 'PUT', 'OPTIONS', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'PURGE'];

/** An id in the URL, with what a correct server must answer for it. */
interface IdForm {
  tag: string;
  make: (rng: Rng, ctx: FuzzContext) => { id: string; expect: Expect };
}

const notFound = () => status(404);
/** Malformed as a URL (bad escapes): refusing it as a bad request is as right as 404. */
const badUrl = () => status([400, 404]);

const ID_FORMS: IdForm[] = [
  {
    tag: 'routes.id.unknown',
    make: (rng) => ({
      id: rng.pick([
        `${rng.word(8, 8)}-${rng.word(4, 4)}-4${rng.word(3, 3)}-${rng.word(4, 4)}-${rng.word(12, 12)}`,
        rng.word(1, 64),
        'nope',
        '0',
        'A'.repeat(64),
      ]),
      expect: notFound(),
    }),
  },
  {
    tag: 'routes.id.percent-encoded',
    make: (rng) => {
      const id = enc(rng.nastyString()).slice(0, 3000);
      // A lone surrogate is sent as the bytes of one, which are not UTF-8: a malformed URL.
      return { id, expect: id.includes('%ED%A0%80') ? badUrl() : notFound() };
    },
  },
  {
    tag: 'routes.id.encoded-tricks',
    make: (rng) => {
      const id = rng.pick([
        '%00',
        'a%00b',
        '..%2f',
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e',
        '%2e',
        '%2F',
        '%5c',
        '%252e%252e%252f',
        '%c0%ae%c0%ae',
        '%ef%bc%8f',
        '%20',
        '%0d%0aSet-Cookie:%20x',
        '%7B%7D',
        '*',
        '%2A',
      ]);
      // %c0%ae is an overlong (invalid) UTF-8 encoding of "."
      return { id, expect: id.startsWith('%c0') ? badUrl() : notFound() };
    },
  },
  { tag: 'routes.id.dot-segments', make: (rng) => ({ id: rng.pick(['.', '..', '...', '.%2e', '%2e.']), expect: notFound() }) },
  {
    tag: 'routes.id.raw-slashes',
    make: (rng, ctx) => ({
      id: rng.pick(['', '/', 'a/b', `${ctx.ids.model}/`, `../${ctx.ids.model}`, '../../models', 'x/../y', '/x', '//']),
      expect: notFound(),
    }),
  },
  {
    tag: 'routes.id.long',
    // Very long: 404 as an unknown id, or 414 URI Too Long.
    make: (rng) => ({ id: rng.pick(['a', '%41', '-', '\u00e9']).repeat(rng.pick([65, 101, 1000, 10_240])), expect: status([404, 414]) }),
  },
  {
    tag: 'routes.id.unicode',
    make: (rng) => ({
      id: rng.pick(['\u00e9', '\u202e', '\ud83d\ude00', '\u0000', 'a\u0000b', '\u4e2d\u6587', '\uff0e\uff0e', 'ı']),
      expect: notFound(),
    }),
  },
  {
    tag: 'routes.id.bad-escape',
    make: (rng) => ({ id: rng.pick(['%zz', '%', '%4', '%e9', '%c3', '%ff%fe', '%ed%a0%80', 'a%']), expect: badUrl() }),
  },
  {
    tag: 'routes.id.query-and-fragment',
    make: (rng, ctx) => ({
      id: `${rng.pick(['nope', ctx.ids.model.slice(0, 8)])}${rng.pick(['?x=1', '?id=' + ctx.ids.model, '?limit=%zz', '?__proto__[x]=1', '#frag', '?', '?&&&', `?${'q'.repeat(5000)}=1`])}`,
      expect: notFound(),
    }),
  },
  {
    tag: 'routes.id.near-real',
    make: (rng, ctx) => {
      const real = rng.pick([ctx.ids.model, ctx.ids.dataset, ctx.ids.job]);
      const v = rng.pick([
        `${real}%20`,
        `${real}x`,
        real.slice(0, -1),
        real.toUpperCase(),
        `${real}%00`,
        `${real};`,
        `${real}.json`,
        `%20${real}`,
      ]);
      // Upper case of a hex UUID differs from it; ids are case-sensitive or not, as the server likes.
      return { id: v, expect: v === real.toUpperCase() ? status([404, 200, 409]) : notFound() };
    },
  },
];

function idCase(rng: Rng, ctx: FuzzContext): CaseSpec {
  const route = rng.pick(ID_ROUTES);
  const form = rng.pick(ID_FORMS);
  const made = form.make(rng, ctx);
  const url = route.path(made.id, ctx, rng);
  // A path segment over 100 characters may be refused as too long (414) rather than looked up.
  const expect = longSegment(made.id) && made.expect.kind === 'status' ? status([...made.expect.status, 414]) : made.expect;
  return {
    tags: [form.tag, `routes.${route.method}`],
    expect,
    request: { method: route.method, url },
    note: `${route.method} ${url.slice(0, 120)}`,
  };
}

interface Gen {
  tag: string;
  weight: number;
  build: (rng: Rng, ctx: FuzzContext) => CaseSpec;
}

const GENS: Gen[] = [
  { tag: 'routes.id', weight: 70, build: idCase },
  {
    tag: 'routes.method',
    weight: 8,
    build: (rng, ctx) => {
      const route = rng.pick(ID_ROUTES);
      const method = rng.pick(UNUSED_METHODS);
      const url = route.path(rng.pick(['nope', ctx.ids.model, ctx.ids.job]), ctx, rng);
      return { tags: ['routes.method.unknown'], expect: status([404, 405]), request: { method, url }, note: `${method} ${url}` };
    },
  },
  {
    tag: 'routes.head',
    weight: 3,
    build: (rng) => {
      const route = rng.pick(ID_ROUTES.filter((r) => r.method === 'GET'));
      const url = route.path('nope', undefined as unknown as FuzzContext, rng);
      return { tags: ['routes.method.head'], expect: status([404, 405]), request: { method: 'HEAD', url }, note: url };
    },
  },
  {
    tag: 'routes.real-artifacts',
    weight: 4,
    build: (rng, ctx) => {
      // The warm-up job is queued: it has no artifacts yet, and names outside the list are unknown.
      const name = rng.pick([
        'model.json',
        'model.zip',
        '..%2f..%2fmodel.json',
        'secrets.txt',
        '%2e%2e',
        'report.json%00',
        'MODEL.ZIP',
        '',
        'x'.repeat(500),
      ]);
      return {
        tags: ['routes.artifacts.real-job'],
        expect: status(longSegment(name) ? [404, 414] : 404),
        request: {
          method: 'GET',
          url: `/v1/jobs/${ctx.ids.job}/artifacts/${name}`,
          headers: rng.chance(0.3) ? { range: rng.pick(['bytes=0-1', 'bytes=-5', 'bytes=99999999999999999999-', 'items=1-2']) } : {},
        },
        note: name.slice(0, 60),
      };
    },
  },
  {
    tag: 'routes.router',
    weight: 8,
    build: (rng) => {
      const v = rng.pick<[string, Expect]>([
        ['/%zz', status([400, 404])],
        ['/v1/%zz', status([400, 404])],
        ['/%', status([400, 404])],
        ['/v1/models%', status([400, 404])],
        [`/${'a'.repeat(rng.pick([10_000, 100_000]))}`, status([404, 414])],
        [`/v1/${'x/'.repeat(5000)}`, status([404, 414])],
        ['//', status(404)],
        ['/v1//models', status(404)],
        // Clients (and inject) may resolve dot segments before sending: then it is the list route.
        ['/v1/models/../datasets', status([200, 404, 415])],
        ['/V1/MODELS', status(404)],
        ['/v1/models/', status(404)],
        ['/v2/nothing', status(404)],
        ['/.env', status(404)],
        ['/v1/jobs/x/artifacts/', status(404)],
        ['/v1/jobs/x/artifacts', status(404)],
        ['/v1/jobs//cancel', status(404)],
        ['/healthz/../v1/models', status([200, 404])],
        ['/healthz?x=%zz', status([200, 400])],
      ]);
      return { tags: ['routes.router'], expect: v[1], request: { method: 'GET', url: v[0] }, note: v[0].slice(0, 60) };
    },
  },
  {
    tag: 'routes.list-query',
    weight: 7,
    build: (rng) => {
      const path = rng.pick(['/v1/models', '/v1/datasets', '/v1/jobs']);
      const key = rng.pick(['limit', 'cursor', 'state', 'x', '__proto__', 'limit[]', 'constructor']);
      const value = rng.pick([
        '0',
        '-1',
        '1',
        '100',
        '101',
        '1e3',
        '1.5',
        'NaN',
        '',
        '%zz',
        'queued',
        'sleeping',
        enc(rng.nastyString()).slice(0, 5000),
        'bm9wZQ',
        'x'.repeat(300),
      ]);
      const twice = rng.chance(0.15);
      const url = `${path}?${key}=${value}${twice ? `&${key}=${value}` : ''}`;
      return { tags: ['routes.list-query'], expect: any(), request: { method: 'GET', url }, note: url.slice(0, 100) };
    },
  },
];

export function routeCase(rng: Rng, ctx: FuzzContext): CaseSpec {
  const g = rng.weighted(GENS.map((x) => [x.weight, x] as const));
  return g.build(rng, ctx);
}
