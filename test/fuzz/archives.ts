// zip and npz mutations: model .zip uploads (class "zip") and .npz dataset uploads (class "npz"),
// built with zip.ts so every header can lie: deflate bombs over and under MAX_UPLOAD_BYTES, lying
// sizes, overlapping members, truncation, flipped bytes, duplicate and path-trick member names,
// nested zips, unsupported methods; .npy headers that are quadratic to scan, over-long, of bad or
// structured dtypes, bad or huge shapes, data of the wrong length; every dtype; NaN/Inf; bad labels.
import type { Part } from '../support/fixtures.js';
import { freshDoc, serializeDoc, type BaseName, type ModelBases } from './models.js';
import { Rng } from './random.js';
import { accept, any, reject, status, uploadRequest, type CaseSpec, type Expect, type FuzzContext } from './runner.js';
import { centralDirectoryOffset, crc32, deflate, DTYPES, encodeValues, npy, zeros, zip, type ZipMember } from './zip.js';

const MiB = 1024 * 1024;
const enc = (s: string) => new TextEncoder().encode(s);
const E = { accept, reject, any } as const;
type Kind = keyof typeof E;

function flip(bytes: Uint8Array, rng: Rng, count: number, from = 0): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < count; i++) {
    const at = rng.int(from, out.length - 1);
    out[at] ^= 1 << rng.int(0, 7);
  }
  return out;
}

/** Zero-filled members that inflate to `bytes` (a deflate bomb), declared honestly unless told. */
function bombMember(name: string, bytes: number, declare?: number): ZipMember {
  const z = zeros(bytes);
  return { name, raw: z.deflated, size: declare ?? bytes, crc: z.crc, method: 8 };
}

/** Path tricks for member names and filenames; `target` is a basename the server knows. */
export function pathTricks(rng: Rng, target: string, canaryDir: string): { name: string; sameBasename: boolean } {
  const canary = canaryDir.split('/').pop()!;
  const depth = rng.int(1, 8);
  const options: [string, boolean][] = [
    [`../${target}`, true],
    [`../../${target}`, true],
    [`/${target}`, true],
    [`/tmp/${target}`, true],
    [`a/../../${target}`, true],
    [`..\\..\\${target}`, true],
    [`C:\\temp\\${target}`, true],
    [`./${target}`, true],
    [`a//b///${target}`, true],
    [`${'../'.repeat(depth)}${canary}/pwned-${depth}`, false],
    [`${canaryDir}/pwned-abs`, false],
    [`${'..\\'.repeat(depth)}${canary}\\pwned-bs`, false],
    [`${target}\u0000.txt`, false],
    [`\u0000${target}`, false],
    [`${'d/'.repeat(200)}${target}`, true],
    [`${'x'.repeat(rng.pick([256, 300, 4000, 60_000]))}.bin`, false],
    ['..', false],
    ['.', false],
    ['', false],
    ['/', false],
    [`${target}/`, false],
    ['\ud83d\ude00.bin', false],
    [`%2e%2e%2f${target}`, false],
    [`${target} `, false],
    [`CON`, false],
  ];
  const [name, sameBasename] = rng.pick(options);
  return { name, sameBasename };
}

// ---------------------------------------------------------------------------------------------
// Model zips

export interface ArchiveBases {
  models: ModelBases;
}

function modelMembers(bases: ModelBases, base: BaseName, rng: Rng, prefix = ''): ZipMember[] {
  const parts = serializeDoc(freshDoc(bases, base));
  return parts.map((p: Part) => {
    const data = typeof p.content === 'string' ? enc(p.content) : p.content;
    // Weights are usually stored, JSON deflated (as zipModelFiles writes them); sometimes all deflated.
    const method = p.filename!.endsWith('.json') || rng.chance(0.3) ? 8 : 0;
    return { name: prefix + p.filename!, data, method };
  });
}

interface ArchiveMutator {
  tag: string;
  /** How often it is drawn relative to the others (1); cases that cost the server seconds by design get less. */
  weight?: number;
  expect: Kind | Expect;
  build: (
    rng: Rng,
    members: ZipMember[],
    ctx: FuzzContext,
  ) => { bytes: Uint8Array; expect?: Kind | Expect; note?: string; filename?: string; extraParts?: Part[] };
}

const tooLarge = () => status(413);

const ZIP_MUTATORS: ArchiveMutator[] = [
  // ---- valid zips, written in the ways real tools write them ----
  { tag: 'zip.ok.plain', expect: 'accept', build: (_r, m) => ({ bytes: zip(m) }) },
  {
    tag: 'zip.ok.folder',
    expect: 'accept',
    build: (rng, m) => ({
      bytes: zip([{ name: 'model/', data: new Uint8Array(0), method: 0 }, ...m.map((x) => ({ ...x, name: `model/${String(x.name)}` }))]),
      note: rng.word(),
    }),
  },
  {
    tag: 'zip.ok.macosx',
    expect: 'accept',
    build: (rng, m) => ({
      bytes: zip([
        ...m,
        { name: '__MACOSX/._model.json', data: rng.bytes(120) },
        { name: '__MACOSX/', data: new Uint8Array(0), method: 0 },
      ]),
    }),
  },
  { tag: 'zip.ok.comment', expect: 'accept', build: (rng, m) => ({ bytes: zip(m, { comment: rng.word(1, 200) }) }) },
  { tag: 'zip.ok.all-stored', expect: 'accept', build: (_r, m) => ({ bytes: zip(m.map((x) => ({ ...x, method: 0 }))) }) },
  { tag: 'zip.ok.all-deflated', expect: 'accept', build: (_r, m) => ({ bytes: zip(m.map((x) => ({ ...x, method: 8 }))) }) },
  {
    tag: 'zip.ok.extra-field',
    expect: 'accept',
    build: (rng, m) => ({ bytes: zip(m.map((x) => ({ ...x, extra: Uint8Array.from([0x55, 0x54, 5, 0, 1, ...rng.bytes(4)]) }))) }),
  },
  { tag: 'zip.ok.uppercase-ext', expect: 'accept', build: (_r, m) => ({ bytes: zip(m), filename: 'MODEL.ZIP' }) },
  // ---- data descriptors (sizes after the data, flag bit 3): valid zip, harder to stream ----
  { tag: 'zip.descriptor', expect: 'any', build: (_r, m) => ({ bytes: zip(m.map((x) => ({ ...x, method: 8, descriptor: true }))) }) },

  // ---- bombs ----
  {
    tag: 'zip.bomb.over-limit',
    weight: 0.6,
    expect: tooLarge(),
    build: (rng, m, ctx) => {
      const size = rng.pick([ctx.maxUploadBytes + 1, 5 * MiB, 8 * MiB, 16 * MiB, 64 * MiB, 128 * MiB]);
      const as = rng.pick(['pad.bin', 'weights.bin', 'model.json']);
      const rest = m.filter((x) => x.name !== as);
      return { bytes: zip([...rest, bombMember(as, size)]), note: `${as} inflates to ${size} bytes` };
    },
  },
  {
    tag: 'zip.bomb.many-members',
    weight: 0.4,
    expect: tooLarge(),
    build: (rng, m, ctx) => {
      const each = rng.pick([1 * MiB, 2 * MiB]);
      const n = Math.ceil((ctx.maxUploadBytes * rng.pick([1.5, 4, 16])) / each);
      return { bytes: zip([...m, ...Array.from({ length: n }, (_, i) => bombMember(`pad${i}.bin`, each))]), note: `${n} × ${each}` };
    },
  },
  {
    tag: 'zip.bomb.under-limit',
    weight: 0.5,
    expect: 'any',
    build: (rng, m, ctx) => {
      const size = Math.floor(ctx.maxUploadBytes * rng.pick([0.25, 0.5, 0.9]));
      return { bytes: zip([...m, bombMember('pad.bin', size)]), note: `${size} bytes of zeros` };
    },
  },
  {
    tag: 'zip.bomb.lying-size',
    weight: 0.5,
    expect: 'reject',
    build: (rng, m) => {
      const size = rng.pick([8 * MiB, 64 * MiB]);
      const declare = rng.pick([0, 1000, 4096]);
      const as = rng.pick(['pad.bin', 'weights.bin']);
      return { bytes: zip([...m.filter((x) => x.name !== as), bombMember(as, size, declare)]), note: `${size} declared as ${declare}` };
    },
  },
  {
    tag: 'zip.bomb.overlapping',
    weight: 0.5,
    expect: 'any',
    build: (rng, m) => {
      // Many central entries sharing one local entry: a central-directory reader inflates it again
      // for each; a streaming reader sees it once.
      const n = rng.pick([16, 64, 256]);
      const pad = bombMember('pad.bin', 1 * MiB);
      const members: ZipMember[] = [...m, pad];
      const at = members.length - 1;
      for (let i = 0; i < n; i++) members.push({ name: `pad${i}.bin`, sharesLocalOf: at });
      return { bytes: zip(members), note: `${n} entries` };
    },
  },

  // ---- broken structure ----
  {
    tag: 'zip.truncated',
    expect: 'reject',
    build: (rng, m) => {
      const full = zip(m);
      const cd = centralDirectoryOffset(full);
      // Cut inside the members' data: broken. Cut in the central directory: the members are all
      // there, so a streaming reader may take them.
      const inData = rng.chance(0.7);
      const cut = inData ? rng.int(0, cd - 1) : rng.int(cd, full.length - 1);
      return {
        bytes: full.slice(0, cut),
        expect: inData ? 'reject' : 'any',
        note: `cut at ${cut} of ${full.length} (central directory at ${cd})`,
      };
    },
  },
  {
    tag: 'zip.flipped-bytes',
    expect: 'any',
    build: (rng, m) => {
      const n = rng.pick([1, 2, 8, 64]);
      return { bytes: flip(zip(m), rng, n), note: `${n} bits` };
    },
  },
  {
    tag: 'zip.wrong-sizes',
    expect: 'any',
    build: (rng, m) => {
      const i = rng.int(0, m.length - 1);
      const v = rng.pick([0, 1, 0x7fffffff, 0xffffffff, 12345]);
      const where = rng.pick([
        'local.compressedSize',
        'local.size',
        'central.compressedSize',
        'central.size',
        'local.crc',
        'central.crc',
        'central.offset',
      ]);
      const [part, key] = where.split('.') as ['local' | 'central', string];
      const members = m.map((x, k) => (k === i ? { ...x, [part]: { ...(x as any)[part], [key]: v } } : x));
      return { bytes: zip(members), note: `${String(m[i].name)} ${where} = ${v}` };
    },
  },
  {
    tag: 'zip.bad-crc',
    expect: 'any',
    build: (rng, m) => {
      const i = rng.int(0, m.length - 1);
      return { bytes: zip(m.map((x, k) => (k === i ? { ...x, crc: (crc32(x.data!) ^ 1) >>> 0 } : x))), note: String(m[i].name) };
    },
  },
  {
    tag: 'zip.bad-eocd',
    expect: 'any',
    build: (rng, m) => {
      const eocd = rng.pick([{ entries: 0 }, { entries: 65535 }, { cdSize: 0xffffffff }, { cdOffset: 0xffffffff }, { cdOffset: 0 }]);
      return { bytes: zip(m, { eocd }), note: JSON.stringify(eocd) };
    },
  },
  {
    tag: 'zip.duplicate-member',
    expect: 'reject',
    build: (rng, m) => {
      const dup = rng.pick(m);
      const other = rng.pick([String(dup.name), `a/${String(dup.name)}`, `b/c/${String(dup.name)}`]);
      const body = rng.chance(0.5) ? dup.data : rng.bytes(dup.data!.length);
      // Two members of one name in the topology's folder are refused, and so are two model.json
      // anywhere; a shard's namesake in another folder is not part of the model (src/io/model-zip.ts).
      const refused = other === dup.name || String(dup.name).endsWith('.json');
      const bytes = zip(rng.shuffle([...m, { name: other, data: body, method: 8 }]));
      return { bytes, expect: refused ? 'reject' : 'accept', note: `${String(dup.name)} and ${other}` };
    },
  },
  {
    tag: 'zip.local-central-names-differ',
    expect: 'any',
    build: (rng, m) => {
      const i = rng.int(0, m.length - 1);
      const other = rng.pick(['model.json', 'weights.bin', 'evil.json', '../x']);
      return { bytes: zip(m.map((x, k) => (k === i ? { ...x, central: { name: other } } : x))), note: `${String(m[i].name)} / ${other}` };
    },
  },
  {
    tag: 'zip.path-tricks',
    expect: 'any',
    build: (rng, m, ctx) => {
      // Either a model file under a tricky name, or an extra member aimed outside DATA_DIR.
      if (rng.chance(0.5)) {
        const i = rng.int(0, m.length - 1);
        const t = pathTricks(rng, String(m[i].name), ctx.canaryDir);
        return { bytes: zip(m.map((x, k) => (k === i ? { ...x, name: t.name } : x))), note: JSON.stringify(t.name).slice(0, 80) };
      }
      const t = pathTricks(rng, 'extra.bin', ctx.canaryDir);
      return { bytes: zip([...m, { name: t.name, data: enc('pwned') }]), note: JSON.stringify(t.name).slice(0, 80) };
    },
  },
  {
    tag: 'zip.nested',
    expect: 'any',
    build: (rng, m) => {
      const inner = zip(m);
      const alone = rng.chance(0.5);
      // Only the inner zip: there is no model.json at the top. Beside the model files: an extra file.
      return {
        bytes: zip(alone ? [{ name: 'inner.zip', data: inner }] : [...m, { name: 'inner.zip', data: inner }]),
        expect: alone ? 'reject' : 'any',
      };
    },
  },
  {
    tag: 'zip.unsupported-method',
    expect: 'any',
    build: (rng, m) => {
      const i = rng.int(0, m.length - 1);
      const method = rng.pick([1, 6, 9, 12, 14, 93, 95, 98, 99]);
      return {
        bytes: zip(m.map((x, k) => (k === i ? { ...x, method, raw: x.data } : x))),
        expect: 'reject',
        note: `${String(m[i].name)} method ${method}`,
      };
    },
  },
  {
    tag: 'zip.encrypted-flag',
    expect: 'any',
    build: (rng, m) => ({ bytes: zip(m.map((x) => ({ ...x, flags: 1 }))), note: rng.word() }),
  },
  {
    tag: 'zip.zip64-sizes',
    expect: 'any',
    build: (rng, m) => {
      const i = rng.int(0, m.length - 1);
      const extra = new Uint8Array(20);
      const v = new DataView(extra.buffer);
      v.setUint16(0, 1, true);
      v.setUint16(2, 16, true);
      v.setBigUint64(4, BigInt(rng.pick([2 ** 40, 2 ** 53, 1e18])), true);
      v.setBigUint64(12, BigInt(rng.pick([2 ** 40, 1])), true);
      return {
        bytes: zip(
          m.map((x, k) =>
            k === i
              ? {
                  ...x,
                  extra,
                  local: { size: 0xffffffff, compressedSize: 0xffffffff },
                  central: { size: 0xffffffff, compressedSize: 0xffffffff },
                }
              : x,
          ),
        ),
        note: String(m[i].name),
      };
    },
  },
  {
    tag: 'zip.many-members',
    weight: 0.3,
    expect: 'any',
    build: (rng, m) => {
      const n = rng.pick([300, 2000, 10_000]);
      return {
        bytes: zip([...m, ...Array.from({ length: n }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(0), method: 0 }))]),
        note: `${n} extra members`,
      };
    },
  },
  {
    tag: 'zip.no-central-directory',
    expect: 'any',
    build: (_r, m) => ({ bytes: zip(m, { noCentral: true }) }),
  },
  {
    tag: 'zip.prefix-junk',
    expect: 'any',
    build: (rng, m) => ({ bytes: zip(m, { prefix: rng.bytes(rng.int(1, 5000)) }) }),
  },
  {
    tag: 'zip.not-a-zip',
    expect: 'reject',
    build: (rng, m) => {
      const v = rng.pick<() => Uint8Array>([
        () => new Uint8Array(0),
        () => rng.bytes(rng.int(1, 10_000)),
        () => enc('PK'),
        () => Uint8Array.from([0x50, 0x4b, 5, 6, ...new Uint8Array(18)]), // an empty zip
        () => zip([{ name: 'model/', data: new Uint8Array(0), method: 0 }]),
        () => Uint8Array.from([0x1f, 0x8b, 8, 0, ...rng.bytes(100)]), // gzip
        () => m[0].data!, // model.json itself
        () => zip([{ name: 'x.npy', data: npy({ descr: '<f4', shape: [1], data: new Uint8Array(4) }) }]), // an npz
      ])();
      return { bytes: v };
    },
  },
  {
    tag: 'zip.with-other-files',
    expect: 'reject',
    build: (_r, m) => ({
      bytes: zip(m),
      extraParts: [{ field: 'files', filename: String(m[0].name).split('/').pop()!, content: m[0].data! }],
    }),
  },
];

const kindOf = (e: Kind | Expect): Expect => (typeof e === 'string' ? E[e]() : e);

export function zipCase(rng: Rng, bases: ArchiveBases, ctx: FuzzContext): CaseSpec {
  const base = rng.pick<BaseName>(['mlp', 'residual']);
  const members = modelMembers(bases.models, base, rng);
  const m = rng.weighted(ZIP_MUTATORS.map((x) => [x.weight ?? 1, x] as const));
  const r = m.build(rng, members, ctx);
  const parts: Part[] = [
    {
      field: rng.pick(['files', 'model', 'file']),
      filename: r.filename ?? rng.pick(['model.zip', 'tiny.zip', 'm.zip']),
      content: r.bytes,
      contentType: 'application/zip',
    },
  ];
  if (r.extraParts) parts.push(...r.extraParts);
  return {
    tags: [m.tag, `zip.base.${base}`],
    expect: kindOf(r.expect ?? m.expect),
    request: uploadRequest('/v1/models', parts),
    creates: 'models',
    note: r.note,
  };
}

// ---------------------------------------------------------------------------------------------
// .npz datasets

interface Arrays {
  n: number;
  sampleShape: number[];
  x: { dtype: string; order: string; values: number[] };
  y: { dtype: string; order: string; shape: number[]; values: number[] } | null;
}

const X_DTYPES = Object.keys(DTYPES);
const Y_DTYPES = ['i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8'];

function randomArrays(rng: Rng): Arrays {
  const n = rng.int(2, 64);
  const sampleShape = rng.pick([[8], [2, 4], [6, 6, 1], [3], [1]]);
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const dtype = rng.pick(X_DTYPES);
  const spec = DTYPES[dtype];
  const order = spec.size === 1 ? '|' : rng.pick(['<', '<', '>']);
  const values = Array.from({ length: n * size }, () =>
    spec.float ? rng.next() * 4 - 2 : dtype === 'b1' ? rng.int(0, 1) : rng.int(0, 100),
  );
  const classes = rng.int(2, 10);
  const y = rng.chance(0.8)
    ? (() => {
        const yd = rng.pick(Y_DTYPES);
        const yo = DTYPES[yd].size === 1 ? '|' : rng.pick(['<', '>']);
        const column = rng.chance(0.2);
        return { dtype: yd, order: yo, shape: column ? [n, 1] : [n], values: Array.from({ length: n }, (_, i) => i % classes) };
      })()
    : null;
  return { n, sampleShape, x: { dtype, order, values }, y };
}

function xNpy(a: Arrays, over: Partial<Parameters<typeof npy>[0]> = {}): Uint8Array {
  const spec = DTYPES[a.x.dtype];
  return npy({
    descr: `${a.x.order}${a.x.dtype}`,
    shape: [a.n, ...a.sampleShape],
    data: encodeValues(a.x.values, spec, a.x.order !== '>'),
    ...over,
  });
}

function yNpy(a: Arrays, over: Partial<Parameters<typeof npy>[0]> = {}): Uint8Array | null {
  if (!a.y) return null;
  const spec = DTYPES[a.y.dtype];
  return npy({ descr: `${a.y.order}${a.y.dtype}`, shape: a.y.shape, data: encodeValues(a.y.values, spec, a.y.order !== '>'), ...over });
}

function npzOf(x: Uint8Array | null, y: Uint8Array | null, rng: Rng, extra: ZipMember[] = []): Uint8Array {
  const method = rng.chance(0.5) ? 8 : 0; // np.savez_compressed or np.savez
  const members: ZipMember[] = [];
  if (x) members.push({ name: 'x.npy', data: x, method });
  if (y) members.push({ name: 'y.npy', data: y, method });
  return zip([...members, ...extra]);
}

interface NpzMutator {
  tag: string;
  weight?: number;
  expect: Kind | Expect;
  build: (rng: Rng, a: Arrays, ctx: FuzzContext) => { bytes: Uint8Array; expect?: Kind | Expect; note?: string; filename?: string };
}

const NPZ_MUTATORS: NpzMutator[] = [
  // ---- valid: every dtype and byte order, both savez flavours, fortran order, v2/v3 headers ----
  {
    tag: 'npz.ok.dtypes',
    expect: 'accept',
    build: (rng, a) => ({
      bytes: npzOf(xNpy(a), yNpy(a), rng),
      note: `x ${a.x.order}${a.x.dtype} ${JSON.stringify(a.sampleShape)}, y ${a.y ? a.y.order + a.y.dtype : 'none'}`,
    }),
  },
  {
    tag: 'npz.ok.fortran-order',
    expect: 'accept',
    build: (rng, a) => ({ bytes: npzOf(xNpy(a, { fortran: true }), yNpy(a), rng) }),
  },
  {
    tag: 'npz.ok.header-version',
    expect: 'accept',
    build: (rng, a) => {
      const version = rng.pick([2, 3] as const);
      return { bytes: npzOf(xNpy(a, { version }), yNpy(a, { version }), rng), note: `v${version}` };
    },
  },
  {
    tag: 'npz.ok.one-hot',
    expect: 'accept',
    build: (rng, a) => {
      const c = rng.int(2, 6);
      const vals: number[] = [];
      for (let i = 0; i < a.n; i++) for (let j = 0; j < c; j++) vals.push(j === i % c ? 1 : 0);
      const dt = rng.pick(['f4', 'f8', 'u1']);
      return {
        bytes: npzOf(
          xNpy(a),
          npy({ descr: `${DTYPES[dt].size === 1 ? '|' : '<'}${dt}`, shape: [a.n, c], data: encodeValues(vals, DTYPES[dt]) }),
          rng,
        ),
      };
    },
  },
  {
    tag: 'npz.ok.directory-entry',
    expect: 'accept',
    build: (rng, a) => ({ bytes: npzOf(xNpy(a), yNpy(a), rng, [{ name: 'sub/', data: new Uint8Array(0), method: 0 }]) }),
  },
  { tag: 'npz.ok.uppercase-ext', expect: 'accept', build: (rng, a) => ({ bytes: npzOf(xNpy(a), yNpy(a), rng), filename: 'TRAIN.NPZ' }) },
  {
    tag: 'npz.extra-arrays',
    expect: 'any',
    build: (rng, a) => ({
      bytes: npzOf(xNpy(a), yNpy(a), rng, [
        { name: rng.pick(['z.npy', 'x_test.npy', 'meta.npy']), data: npy({ descr: '<f4', shape: [3], data: new Uint8Array(12) }) },
      ]),
    }),
  },

  // ---- .npy headers ----
  {
    tag: 'npz.header.quadratic',
    weight: 0.3,
    expect: 'reject',
    build: (rng, a) => {
      // "'shape': (" repeated with no closing parenthesis: a backtracking regex scans the rest of
      // the header from every repetition.
      const version = rng.pick([1, 2] as const);
      const reps = version === 1 ? rng.pick([1000, 6000]) : rng.pick([20_000, 100_000, 300_000]);
      const header = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(reps)}`;
      return {
        bytes: npzOf(xNpy(a, { header, version }), yNpy(a), rng),
        note: `${reps} repetitions, v${version} (${header.length} bytes)`,
      };
    },
  },
  {
    tag: 'npz.header.long',
    weight: 0.5,
    expect: 'any',
    build: (rng, a) => {
      const version = rng.pick([1, 2] as const);
      const pad = version === 1 ? rng.pick([10_000, 65_000]) : rng.pick([100_000, 1_000_000, 3_000_000]);
      return { bytes: npzOf(xNpy(a, { version, pad }), yNpy(a), rng), note: `header padded by ${pad}, v${version}` };
    },
  },
  {
    tag: 'npz.header.length-field',
    expect: 'reject',
    build: (rng, a) => {
      const headerLen = rng.pick([0, 1, 0xffff, 0xffffffff, 10_000_000]);
      const version = headerLen > 0xffff ? 2 : rng.pick([1, 2] as const);
      return { bytes: npzOf(xNpy(a, { version, headerLen }), yNpy(a), rng), note: `length ${headerLen}` };
    },
  },
  {
    tag: 'npz.header.bad-dtype',
    expect: 'reject',
    build: (rng, a) => {
      const descr = rng.pick([
        '|O',
        '<c8',
        '<c16',
        '<U10',
        '|S5',
        '<M8[ns]',
        '<m8',
        '|V8',
        'float32',
        '',
        '<f16',
        '<f3',
        '<i16',
        'x',
        "<f4', 'x': 1, 'y",
        '\u0000',
      ]);
      const size = a.x.values.length;
      return { bytes: npzOf(xNpy(a, { descr, data: new Uint8Array(size * 8) }), yNpy(a), rng), note: JSON.stringify(descr) };
    },
  },
  {
    tag: 'npz.header.structured',
    expect: 'reject',
    build: (rng, a) => {
      const header = rng.pick([
        `{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (${a.n},), }`,
        `{'descr': [('', '|V4')], 'fortran_order': False, 'shape': (${a.n},), }`,
        `{'descr': [('a', '<f4', (2,))], 'fortran_order': False, 'shape': (${a.n},), }`,
      ]);
      return { bytes: npzOf(xNpy(a, { header, data: new Uint8Array(a.n * 8) }), yNpy(a), rng) };
    },
  },
  {
    tag: 'npz.header.bad-shape',
    expect: 'reject',
    build: (rng, a) => {
      const shape = rng.pick([
        '(-1, 8)',
        '(1.5, 8)',
        "('a',)",
        '(8,,)',
        '()',
        '(0, 8)',
        `(${a.n}, 0)`,
        '(1e3,)',
        '(0x10,)',
        '(None, 8)',
        '[4, 2]',
        `(${a.n}, -${a.x.values.length / a.n})`,
      ]);
      const header = `{'descr': '${a.x.order}${a.x.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
      return { bytes: npzOf(xNpy(a, { header }), yNpy(a), rng), note: shape };
    },
  },
  {
    tag: 'npz.header.huge-shape',
    expect: 'reject',
    build: (rng, a) => {
      const shape = rng.pick([
        '(1099511627776, 8)',
        '(1000000000, 1000000000)',
        '(4611686018427387904, 4611686018427387904)',
        '(4294967296, 4294967296)',
        `(${'9'.repeat(400)},)`,
        `(${Array(64).fill(2).join(', ')})`,
      ]);
      const header = `{'descr': '${a.x.order}${a.x.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
      return { bytes: npzOf(xNpy(a, { header }), yNpy(a), rng), note: shape.slice(0, 60) };
    },
  },
  {
    tag: 'npz.header.not-a-dict',
    expect: 'reject',
    build: (rng, a) => {
      const v = rng.pick<() => Uint8Array>([
        () => xNpy(a, { header: rng.pick(['', 'garbage', '{}', "{'descr': '<f4'}", '{"descr": 1}', 'None']) }),
        () => xNpy(a, { magic: enc('\u0093NUMPX') }),
        () => xNpy(a, { magic: enc('PK\u0003\u0004ab') }),
        () => {
          const b = xNpy(a);
          b[6] = rng.pick([0, 4, 255]);
          return b;
        },
        () => xNpy(a).slice(0, rng.int(0, 60)),
      ])();
      return { bytes: npzOf(v, yNpy(a), rng) };
    },
  },
  {
    tag: 'npz.data.length',
    expect: 'reject',
    build: (rng, a) => {
      const full = xNpy(a);
      const delta = rng.pick([-1, -8, 1, 8, 4096, -full.length + 80]);
      const bytes = delta < 0 ? full.slice(0, Math.max(0, full.length + delta)) : Uint8Array.from([...full, ...new Uint8Array(delta)]);
      return { bytes: npzOf(bytes, yNpy(a), rng), note: `${delta} bytes` };
    },
  },

  // ---- values and labels ----
  {
    tag: 'npz.values.nonfinite',
    expect: 'reject',
    build: (rng, a) => {
      const dtype = rng.pick(['f2', 'f4', 'f8']);
      a.x.dtype = dtype;
      a.x.order = rng.pick(['<', '>']);
      const bad = rng.pick([NaN, Infinity, -Infinity]);
      a.x.values[rng.int(0, a.x.values.length - 1)] = bad;
      return { bytes: npzOf(xNpy(a), yNpy(a), rng), note: `${dtype} with ${bad}` };
    },
  },
  {
    tag: 'npz.values.float64-beyond-float32',
    expect: 'any',
    build: (rng, a) => {
      a.x.dtype = 'f8';
      a.x.order = '<';
      a.x.values[0] = rng.pick([1e300, -1e39, 5e-324]);
      return { bytes: npzOf(xNpy(a), yNpy(a), rng), note: String(a.x.values[0]) };
    },
  },
  {
    tag: 'npz.labels.bad',
    expect: 'reject',
    build: (rng, a) => {
      const n = a.n;
      const kind = rng.pick([
        'negative',
        'fraction',
        'too-big-int64',
        'too-big-float',
        'nan',
        'short',
        'long',
        '3d',
        'empty-columns',
        'inf-one-hot',
      ]);
      let y: Uint8Array;
      const ints = Array.from({ length: n }, (_, i) => i % 3);
      if (kind === 'negative') {
        ints[rng.int(0, n - 1)] = -rng.int(1, 100);
        const dt = rng.pick(['i1', 'i4', 'i8']);
        y = npy({ descr: `${dt === 'i1' ? '|' : '<'}${dt}`, shape: [n], data: encodeValues(ints, DTYPES[dt]) });
      } else if (kind === 'fraction') {
        const f = ints.map((v) => v + 0.5);
        y = npy({ descr: '<f4', shape: [n], data: encodeValues(f, DTYPES.f4) });
      } else if (kind === 'too-big-int64') {
        ints[0] = 2 ** 40;
        y = npy({ descr: '<i8', shape: [n], data: encodeValues(ints, DTYPES.i8) });
      } else if (kind === 'too-big-float') {
        const f = ints.map((v) => v);
        f[0] = rng.pick([1e10, 1e300]);
        y = npy({ descr: '<f8', shape: [n], data: encodeValues(f, DTYPES.f8) });
      } else if (kind === 'nan') {
        const f = ints.map((v) => v);
        f[0] = NaN;
        y = npy({ descr: '<f4', shape: [n], data: encodeValues(f, DTYPES.f4) });
      } else if (kind === 'short' || kind === 'long') {
        const m = kind === 'short' ? n - 1 : n + rng.int(1, 10);
        y = npy({
          descr: '<i4',
          shape: [m],
          data: encodeValues(
            Array.from({ length: m }, (_, i) => i % 3),
            DTYPES.i4,
          ),
        });
      } else if (kind === '3d') {
        y = npy({ descr: '<i4', shape: [n, 1, 1], data: encodeValues(ints, DTYPES.i4) });
      } else if (kind === 'empty-columns') {
        y = npy({ descr: '<f4', shape: [n, 0], data: new Uint8Array(0) });
      } else {
        const vals: number[] = [];
        for (let i = 0; i < n; i++) vals.push(i === 0 ? Infinity : 0, 1);
        y = npy({ descr: '<f4', shape: [n, 2], data: encodeValues(vals, DTYPES.f4) });
      }
      return { bytes: npzOf(xNpy(a), y, rng), note: kind };
    },
  },
  {
    tag: 'npz.labels.huge-class-id',
    expect: 'any',
    build: (rng, a) => {
      const ints = Array.from({ length: a.n }, (_, i) => i % 3);
      ints[0] = rng.pick([1e6, 2 ** 31 - 1, 2 ** 32 - 1]);
      const dt = ints[0] > 2 ** 31 - 1 ? 'u4' : 'i4';
      return {
        bytes: npzOf(xNpy(a), npy({ descr: `<${dt}`, shape: [a.n], data: encodeValues(ints, DTYPES[dt]) }), rng),
        note: String(ints[0]),
      };
    },
  },
  {
    tag: 'npz.missing-x',
    expect: 'reject',
    build: (rng, a) => {
      const x = xNpy(a);
      const name = rng.pick(['X.npy', 'data/x.npy', 'x', 'x.NPY', 'inputs.npy', null]);
      return {
        bytes:
          name === null ? npzOf(null, yNpy(a) ?? x, rng) : zip([{ name, data: x }, ...(a.y ? [{ name: 'y.npy', data: yNpy(a)! }] : [])]),
        note: String(name),
      };
    },
  },

  // ---- the zip around it ----
  {
    tag: 'npz.zip.truncated',
    expect: 'reject',
    build: (rng, a) => {
      const full = npzOf(xNpy(a), yNpy(a), rng);
      const cut = rng.int(0, full.length - 1);
      return { bytes: full.slice(0, cut), note: `cut at ${cut} of ${full.length}` };
    },
  },
  {
    tag: 'npz.zip.flipped-bytes',
    expect: 'any',
    build: (rng, a) => ({ bytes: flip(npzOf(xNpy(a), yNpy(a), rng), rng, rng.pick([1, 4, 32])) }),
  },
  {
    tag: 'npz.zip.wrong-sizes',
    expect: 'any',
    build: (rng, a) => {
      const v = rng.pick([0, 1, 0x7fffffff, 0xffffffff, 100]);
      const where = rng.pick(['local', 'central'] as const);
      const key = rng.pick(['compressedSize', 'size', 'crc']);
      const x: ZipMember = { name: 'x.npy', data: xNpy(a), method: rng.pick([0, 8]), [where]: { [key]: v } };
      return { bytes: zip([x, ...(a.y ? [{ name: 'y.npy', data: yNpy(a)! }] : [])]), note: `${where}.${key} = ${v}` };
    },
  },
  {
    tag: 'npz.zip.duplicate-member',
    expect: 'any',
    build: (rng, a) => {
      const x = xNpy(a);
      const other = randomArrays(rng);
      return {
        bytes: zip([{ name: 'x.npy', data: x }, { name: 'x.npy', data: xNpy(other) }, ...(a.y ? [{ name: 'y.npy', data: yNpy(a)! }] : [])]),
      };
    },
  },
  {
    tag: 'npz.zip.path-tricks',
    expect: 'any',
    build: (rng, a, ctx) => {
      const t = pathTricks(rng, 'x.npy', ctx.canaryDir);
      return {
        bytes: zip([{ name: t.name, data: xNpy(a) }, ...(a.y ? [{ name: 'y.npy', data: yNpy(a)! }] : [])]),
        note: JSON.stringify(t.name).slice(0, 80),
      };
    },
  },
  {
    tag: 'npz.zip.nested',
    expect: 'reject',
    build: (rng, a) => ({ bytes: zip([{ name: rng.pick(['x.npy', 'inner.npz', 'inner.zip']), data: npzOf(xNpy(a), yNpy(a), rng) }]) }),
  },
  {
    tag: 'npz.zip.unsupported-method',
    expect: 'reject',
    build: (rng, a) => {
      const method = rng.pick([1, 9, 12, 14, 99]);
      return { bytes: zip([{ name: 'x.npy', data: xNpy(a), method, raw: xNpy(a) }]), note: `method ${method}` };
    },
  },
  {
    tag: 'npz.bomb.over-limit',
    weight: 0.6,
    expect: tooLarge(),
    build: (rng, a, ctx) => {
      // x.npy whose data is zeros: a valid header, then more bytes than MAX_UPLOAD_BYTES.
      const bytes = rng.pick([ctx.maxUploadBytes + 64, 8 * MiB, 16 * MiB, 64 * MiB, 128 * MiB]);
      const z = zeroNpy(Math.floor(bytes / 32));
      return {
        bytes: zip([{ name: 'x.npy', raw: z.deflated, size: z.size, crc: z.crc, method: 8 }]),
        note: `x.npy inflates to ${z.size} bytes`,
      };
    },
  },
  {
    tag: 'npz.bomb.overlapping',
    weight: 0.4,
    expect: 'reject',
    build: (rng, a, ctx) => {
      const n = rng.pick([8, 32, 128]);
      const each = 2 * MiB;
      const members: ZipMember[] = [{ name: 'x.npy', data: xNpy(a) }, bombMember('pad.npy', each)];
      for (let i = 0; i < n; i++) members.push({ name: `pad${i}.npy`, sharesLocalOf: 1 });
      // Over the limit once expanded; a reader that inflates each entry does n × 2 MiB of work.
      return { bytes: zip(members), note: `${n} entries × ${each}`, expect: n * each > ctx.maxUploadBytes ? 'reject' : 'any' };
    },
  },
  {
    tag: 'npz.bomb.lying-size',
    weight: 0.5,
    expect: 'reject',
    build: (rng) => {
      const size = rng.pick([8 * MiB, 64 * MiB]);
      return { bytes: zip([bombMember('x.npy', size, rng.pick([0, 128, 1000]))]), note: `${size} bytes declared small` };
    },
  },
  {
    tag: 'npz.not-npz',
    expect: 'reject',
    build: (rng, a) => {
      const v = rng.pick<() => { bytes: Uint8Array; filename?: string }>([
        () => ({ bytes: xNpy(a) }),
        () => ({ bytes: rng.bytes(rng.int(0, 5000)) }),
        () => ({ bytes: new Uint8Array(0) }),
        () => ({ bytes: enc('x,y\n1,2\n') }),
        () => ({
          bytes: npzOf(xNpy(a), yNpy(a), rng),
          filename: rng.pick(['train.npy', 'train.csv', 'train.npz.exe', 'train', '.npz.txt']),
        }),
      ])();
      return v;
    },
  },
];

const zeroNpys = new Map<number, { deflated: Uint8Array; crc: number; size: number }>();
/** A valid float32 [rows, 8] .npy of zeros, deflated (cached: the big ones take a moment). */
function zeroNpy(rows: number) {
  let z = zeroNpys.get(rows);
  if (!z) {
    const data = npy({ descr: '<f4', shape: [rows, 8], data: new Uint8Array(rows * 32) });
    z = { deflated: deflate(data, 9), crc: crc32(data), size: data.length };
    zeroNpys.set(rows, z);
  }
  return z;
}

const NUMPY_NAMES: Record<string, string> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
};

/** What an accepted valid dataset must report: its sample count, shape, dtype and labels. */
function describes(a: Arrays) {
  return (body: any): string | null => {
    const want = { samples: a.n, xShape: [a.n, ...a.sampleShape], xDtype: NUMPY_NAMES[a.x.dtype], hasLabels: a.y !== null };
    const got = { samples: body?.samples, xShape: body?.xShape, xDtype: body?.xDtype, hasLabels: body?.hasLabels };
    return JSON.stringify(got) === JSON.stringify(want) ? null : `says ${JSON.stringify(got)}, the file holds ${JSON.stringify(want)}`;
  };
}

export function npzCase(rng: Rng, ctx: FuzzContext): CaseSpec {
  const a = randomArrays(rng);
  const m = rng.weighted(NPZ_MUTATORS.map((x) => [x.weight ?? 1, x] as const));
  const r = m.build(rng, a, ctx);
  const plain = [
    'npz.ok.dtypes',
    'npz.ok.fortran-order',
    'npz.ok.header-version',
    'npz.ok.directory-entry',
    'npz.ok.uppercase-ext',
  ].includes(m.tag);
  return {
    check2xx: plain ? describes(a) : undefined,
    tags: [m.tag],
    expect: kindOf(r.expect ?? m.expect),
    request: uploadRequest('/v1/datasets', [
      { field: 'file', filename: r.filename ?? rng.pick(['train.npz', 'data.npz', 'x.npz']), content: r.bytes },
    ]),
    creates: 'datasets',
    note: r.note,
  };
}

export { deflate };
