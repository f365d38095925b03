// Multipart shapes against both upload routes: no boundary, wrong or odd boundaries, truncation,
// many files and fields, empty / path-like / huge filenames, 1 MB field names, duplicate files,
// unexpected fields, zero-length files, other media types, bodies over MAX_UPLOAD_BYTES.
import { datasetNpz, modelParts, multipart, type Part } from '../support/fixtures.js';
import { pathTricks } from './archives.js';
import { Rng } from './random.js';
import { accept, any, reject, status, type CaseSpec, type Expect, type FuzzContext, type FuzzRequest } from './runner.js';

const MiB = 1024 * 1024;
const enc = (s: string) => Buffer.from(s, 'utf8');

interface RawPart {
  /** Header lines without the line ending, e.g. 'Content-Disposition: form-data; name="x"'. */
  headers: string[];
  body: Uint8Array | string;
}

interface RawOptions {
  boundary: string;
  /** The boundary the body uses, when it differs from the header's. */
  bodyBoundary?: string;
  eol?: string;
  closing?: boolean;
  preamble?: string;
  epilogue?: string;
}

function raw(parts: RawPart[], o: RawOptions): Buffer {
  const eol = o.eol ?? '\r\n';
  const b = o.bodyBoundary ?? o.boundary;
  const chunks: Buffer[] = [];
  if (o.preamble) chunks.push(enc(o.preamble + eol));
  for (const p of parts) {
    chunks.push(enc(`--${b}${eol}${p.headers.map((h) => h + eol).join('')}${eol}`));
    chunks.push(Buffer.from(p.body));
    chunks.push(enc(eol));
  }
  if (o.closing !== false) chunks.push(enc(`--${b}--${eol}`));
  if (o.epilogue) chunks.push(enc(o.epilogue));
  return Buffer.concat(chunks);
}

const disposition = (name: string, filename?: string) =>
  `Content-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}`;

const filePart = (field: string, filename: string, body: Uint8Array | string, type = 'application/octet-stream'): RawPart => ({
  headers: [disposition(field, filename), `Content-Type: ${type}`],
  body,
});

const fieldPart = (name: string, value: string): RawPart => ({ headers: [disposition(name)], body: value });

/** The parts of a valid upload to `route`. */
function validParts(route: 'models' | 'datasets', ctx: FuzzContext, rng: Rng): RawPart[] {
  if (route === 'models') {
    return modelParts(ctx.tiny).map((p: Part) => filePart(p.field, p.filename!, p.content, p.contentType));
  }
  return [filePart('file', 'train.npz', datasetNpz(rng.int(2, 40)))];
}

const request = (
  route: string,
  payload: Buffer | string,
  contentType: string | undefined,
  extra: Record<string, string> = {},
): FuzzRequest => ({
  method: 'POST',
  url: `/v1/${route}`,
  payload,
  headers: { ...(contentType !== undefined ? { 'content-type': contentType } : {}), ...extra },
});

interface Shape {
  tag: string;
  /** Relative frequency (1); shapes that cost the server seconds by design get less. */
  weight?: number;
  build: (rng: Rng, route: 'models' | 'datasets', ctx: FuzzContext) => { request: FuzzRequest; expect: Expect; note?: string };
}

const B = (rng: Rng) => `----fuzz${rng.word(12, 16)}`;
const mp = (boundary: string) => `multipart/form-data; boundary=${boundary}`;

const SHAPES: Shape[] = [
  {
    tag: 'multipart.ok.valid',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      if (rng.chance(0.5)) parts.push(fieldPart('name', rng.word()));
      return { request: request(route, raw(rng.shuffle(parts), { boundary }), mp(boundary)), expect: accept() };
    },
  },
  {
    tag: 'multipart.ok.boundary-forms',
    build: (rng, route, ctx) => {
      // Quoted, 70 characters (the RFC 2046 maximum), RFC 2046 punctuation, extra parameters.
      const boundary = rng.pick(["'()+_,-./:=?", 'a'.repeat(70), 'simple', '0123456789', "x'y(z)"]);
      const ct = rng.pick([
        `multipart/form-data; boundary="${boundary}"`,
        `multipart/form-data; charset=utf-8; boundary="${boundary}"`,
        `Multipart/Form-Data; BOUNDARY="${boundary}"`,
      ]);
      return { request: request(route, raw(validParts(route, ctx, rng), { boundary }), ct), expect: accept(), note: ct };
    },
  },
  {
    tag: 'multipart.ok.preamble-epilogue',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      return {
        request: request(
          route,
          raw(validParts(route, ctx, rng), { boundary, preamble: 'This is a preamble.', epilogue: 'and an epilogue\r\n' }),
          mp(boundary),
        ),
        expect: accept(),
      };
    },
  },
  {
    tag: 'multipart.ok.odd-part-types',
    build: (rng, route, ctx) => {
      // Files are told apart by filename; their declared Content-Type does not matter.
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng).map((p) => ({
        ...p,
        headers: [p.headers[0], `Content-Type: ${rng.pick(['text/html', 'x/y', 'application/json', 'image/png'])}`],
      }));
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: accept() };
    },
  },
  {
    tag: 'multipart.no-boundary',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const ct = rng.pick([
        'multipart/form-data',
        'multipart/form-data;',
        'multipart/form-data; boundary=',
        'multipart/form-data; boundary=""',
        'multipart/form-data; charset=utf-8',
      ]);
      return { request: request(route, raw(validParts(route, ctx, rng), { boundary }), ct), expect: reject(), note: ct };
    },
  },
  {
    tag: 'multipart.wrong-boundary',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const other = rng.pick([`${boundary}x`, boundary.slice(0, -1), 'other', boundary.toUpperCase()]);
      return {
        request: request(route, raw(validParts(route, ctx, rng), { boundary, bodyBoundary: other }), mp(boundary)),
        expect: reject(),
      };
    },
  },
  {
    tag: 'multipart.long-boundary',
    build: (rng, route, ctx) => {
      const boundary = 'b'.repeat(rng.pick([71, 200, 5000, 100_000]));
      return {
        request: request(route, raw(validParts(route, ctx, rng), { boundary }), mp(boundary)),
        expect: any(),
        note: `${boundary.length} chars`,
      };
    },
  },
  {
    tag: 'multipart.truncated',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const full = raw(validParts(route, ctx, rng), { boundary });
      const closing = full.lastIndexOf(enc(`--${boundary}--`));
      const cut = rng.int(0, closing - 1);
      return { request: request(route, full.subarray(0, cut), mp(boundary)), expect: reject(), note: `cut at ${cut} of ${full.length}` };
    },
  },
  {
    tag: 'multipart.no-closing-delimiter',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      return { request: request(route, raw(validParts(route, ctx, rng), { boundary, closing: false }), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.lf-only',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      return { request: request(route, raw(validParts(route, ctx, rng), { boundary, eol: '\n' }), mp(boundary)), expect: any() };
    },
  },
  {
    tag: 'multipart.many-files',
    weight: 0.5,
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const n = rng.pick([50, 300, 1000, 5000]);
      const parts = [
        ...validParts(route, ctx, rng),
        ...Array.from({ length: n }, (_, i) => filePart('files', `junk${i}.bin`, rng.bytes(rng.int(0, 8)))),
      ];
      // A dataset is one file: more is refused. A model may ignore unreferenced files, or refuse so many.
      return {
        request: request(route, raw(parts, { boundary }), mp(boundary)),
        expect: route === 'datasets' ? reject() : any(),
        note: `${n} extra files`,
      };
    },
  },
  {
    tag: 'multipart.many-fields',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const n = rng.pick([2, 17, 1000, 10_000]);
      const same = rng.chance(0.5);
      const parts = [
        ...validParts(route, ctx, rng),
        ...Array.from({ length: n }, (_, i) => fieldPart(same ? 'name' : `f${i}`, rng.word())),
      ];
      return {
        request: request(route, raw(parts, { boundary }), mp(boundary)),
        expect: same ? any() : reject(),
        note: `${n} ${same ? '"name"' : 'distinct'} fields`,
      };
    },
  },
  {
    tag: 'multipart.empty-filename',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const i = rng.int(0, parts.length - 1);
      parts[i] = {
        ...parts[i],
        headers: [
          rng.pick([
            disposition('files', ''),
            'Content-Disposition: form-data; name="files"; filename=',
            `Content-Disposition: form-data; name="files"; filename="   "`,
          ]),
          ...parts[i].headers.slice(1),
        ],
      };
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.path-filenames',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const i = rng.int(0, parts.length - 1);
      const target = /filename="([^"]*)"/.exec(parts[i].headers[0])![1];
      const trick = rng.chance(0.5)
        ? pathTricks(rng, target, ctx.canaryDir)
        : { name: rng.pick([`C:\\fakepath\\${target}`, `/home/user/${target}`, `..\\${target}`]), sameBasename: true };
      const name = trick.name.replace(/"/g, '%22');
      if (trick.sameBasename)
        parts[i] = { ...parts[i], headers: [disposition(rng.pick(['files', 'file', 'x']), name), ...parts[i].headers.slice(1)] };
      else parts.push(filePart('files', name, 'pwned'));
      // An extra oddly named file next to a dataset makes two files, which is refused.
      const expect = !trick.sameBasename && route === 'datasets' ? reject() : any();
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect, note: JSON.stringify(trick.name).slice(0, 80) };
    },
  },
  {
    tag: 'multipart.header-injection',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const v = rng.pick([
        'Content-Disposition: form-data; name="files"; filename="a.bin"; filename="model.json"',
        'Content-Disposition: form-data; name="files"; filename*=UTF-8\'\'model%2Ejson',
        'Content-Disposition: form-data; name="files"; filename="model.json\u0000.exe"',
        'Content-Disposition: form-data; name=files; filename=model.json',
        'Content-Disposition: attachment; filename="model.json"',
        'Content-Disposition: form-data',
        'X-Nothing: here',
      ]);
      parts[0] = { ...parts[0], headers: [v, ...parts[0].headers.slice(1)] };
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: any(), note: v };
    },
  },
  {
    tag: 'multipart.huge-field-name',
    build: (rng, route, ctx) => {
      // The problem detail must not echo a 1 MB name (every problem body is held under 4 KiB).
      const boundary = B(rng);
      const big = rng.pick(['f', '\u00e9', '"', '%']).repeat(rng.pick([100_000, MiB]));
      const asFile = rng.chance(0.5);
      const parts = [...validParts(route, ctx, rng), asFile ? filePart(big, 'extra.bin', 'x') : fieldPart(big, 'v')];
      return {
        request: request(route, raw(parts, { boundary }), mp(boundary)),
        expect: asFile ? any() : reject(),
        note: `${big.length}-char name on a ${asFile ? 'file' : 'field'}`,
      };
    },
  },
  {
    tag: 'multipart.huge-filename',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const name = 'n'.repeat(rng.pick([256, 10_000, MiB])) + (route === 'models' ? '.json' : '.npz');
      const parts = validParts(route, ctx, rng);
      parts[0] = { ...parts[0], headers: [disposition('files', name), ...parts[0].headers.slice(1)] };
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: reject(), note: `${name.length} chars` };
    },
  },
  {
    tag: 'multipart.huge-part-header',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const n = rng.pick([100, 2000, 20_000]);
      parts[0] = { ...parts[0], headers: [...parts[0].headers, ...Array.from({ length: n }, (_, i) => `X-H${i}: ${'v'.repeat(40)}`)] };
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: any(), note: `${n} header lines` };
    },
  },
  {
    tag: 'multipart.unexpected-field',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const name = rng.pick(['colour', 'id', 'modelId', '__proto__', 'constructor', 'name[]', 'Name', '', rng.word()]);
      const parts = [...validParts(route, ctx, rng), fieldPart(name, rng.pick(['x', '', 'y'.repeat(5000)]))];
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: reject(), note: JSON.stringify(name) };
    },
  },
  {
    tag: 'multipart.name-field',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const value = rng.pick(['', ' ', 'x'.repeat(201), 'x'.repeat(5000), '\u0000', 'ok', '\ud83d\ude00'.repeat(10), '../../etc']);
      const parts = [...validParts(route, ctx, rng), fieldPart('name', value)];
      // The OpenAPI document caps names at 200 characters.
      const expect: Expect = value.trim() === '' || value.length > 200 ? reject() : any();
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect, note: `${value.length} chars` };
    },
  },
  {
    tag: 'multipart.duplicate-files',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const dup = rng.pick(parts);
      return { request: request(route, raw(rng.shuffle([...parts, dup]), { boundary }), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.zero-length-file',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const parts = validParts(route, ctx, rng);
      const i = rng.int(0, parts.length - 1);
      parts[i] = { ...parts[i], body: '' };
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.no-files',
    build: (rng, route) => {
      const boundary = B(rng);
      const parts = rng.chance(0.5) ? [] : [fieldPart('name', 'x')];
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.empty-body',
    build: (rng, route) => {
      const boundary = B(rng);
      return { request: request(route, rng.pick(['', '\r\n', '--', `--${boundary}--`]), mp(boundary)), expect: reject() };
    },
  },
  {
    tag: 'multipart.over-limit',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const size = ctx.maxUploadBytes + rng.pick([1, 1000, MiB]);
      // Either one big file, or the total of several files over the limit.
      const parts = validParts(route, ctx, rng);
      if (route === 'models' && rng.chance(0.5)) {
        const n = 3;
        for (let i = 0; i < n; i++) parts.push(filePart('files', `pad${i}.bin`, new Uint8Array(Math.ceil(size / n))));
      } else parts.push(filePart('files', 'pad.bin', new Uint8Array(size)));
      return { request: request(route, raw(parts, { boundary }), mp(boundary)), expect: status(413), note: `${size} bytes` };
    },
  },
  {
    tag: 'multipart.media-type',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const body = raw(validParts(route, ctx, rng), { boundary });
      const v = rng.pick<[string | undefined, Buffer | string]>([
        ['application/json', JSON.stringify({ file: 'x', name: 'y' })],
        ['application/json', '{"a":'],
        ['text/plain', 'hello'],
        ['application/octet-stream', body],
        ['application/x-www-form-urlencoded', 'name=x&file=y'],
        ['application/zip', body],
        [undefined, body],
        ['image/png', body],
      ]);
      return { request: request(route, v[1], v[0]), expect: status(415), note: String(v[0]) };
    },
  },
  {
    tag: 'multipart.other-multipart',
    build: (rng, route, ctx) => {
      const boundary = B(rng);
      const ct = rng.pick([
        `multipart/mixed; boundary=${boundary}`,
        `multipart/related; boundary=${boundary}`,
        `multipart/alternative; boundary=${boundary}`,
      ]);
      return { request: request(route, raw(validParts(route, ctx, rng), { boundary }), ct), expect: reject(), note: ct };
    },
  },
  {
    tag: 'multipart.fixture-body-with-junk',
    build: (rng, route, ctx) => {
      // The fixtures' own encoder, then bytes flipped in the part headers.
      const parts: Part[] = route === 'models' ? modelParts(ctx.tiny) : [{ field: 'file', filename: 'train.npz', content: datasetNpz(8) }];
      const body = multipart(parts);
      const out = Buffer.from(body.payload);
      const headerEnd = out.indexOf('\r\n\r\n');
      for (let i = 0; i < rng.int(1, 4); i++) {
        const at = rng.int(0, Math.max(0, headerEnd));
        out[at] ^= 1 << rng.int(0, 7);
      }
      return { request: { method: 'POST', url: `/v1/${route}`, payload: out, headers: body.headers }, expect: any() };
    },
  },
];

export function multipartCase(rng: Rng, ctx: FuzzContext): CaseSpec {
  const route = rng.chance(0.6) ? 'models' : 'datasets';
  const s = rng.weighted(SHAPES.map((x) => [x.weight ?? 1, x] as const));
  const r = s.build(rng, route, ctx);
  return { tags: [s.tag, `multipart.route.${route}`], expect: r.expect, request: r.request, creates: route, note: r.note };
}
