// The streaming inspector: the same verdict as loadDataset + describeDataset on every file (valid,
// invalid, cut, damaged, from numpy), bounded memory and time on bombs, crafted headers and large files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import { zipSync } from 'fflate';
import { InputError } from '../../src/errors.js';
import { describeDataset, loadDataset } from '../../src/io/dataset.js';
import { inspectNpzFile, type NpzLimits } from '../../src/io/npz-stream.js';
import { MAX_CENTRAL_DIRECTORY_BYTES } from '../../src/io/zip-directory.js';
import { npy, npyBytes, npyWithHeader, npz, npzWithDescriptors, zip64Npz } from './npy-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'lopper-npz-stream-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const NO_LIMITS: NpzLimits = { maxUnzippedBytes: 2 ** 40, maxCompressionRatio: 1e9 };
const MiB = 1 << 20;
const range = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

let files = 0;
function file(bytes: Uint8Array): string {
  const path = join(dir, `f${files++}.npz`);
  writeFileSync(path, bytes);
  return path;
}

type Outcome = { summary: unknown } | { error: { field: string; status: number; message: string } };
async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { summary: await run() };
  } catch (e) {
    assert.ok(e instanceof InputError, `not an InputError: ${(e as Error).stack}`);
    return { error: { field: e.field, status: e.status, message: e.message } };
  }
}
const inMemory = (path: string) =>
  outcome(async () => {
    const ds = await loadDataset(path, 'file');
    return describeDataset(ds);
  });
const streamed = (path: string, chunkBytes?: number) => outcome(() => inspectNpzFile(path, 'file', NO_LIMITS, { chunkBytes }));

/** Asserts both paths reach the same verdict on `bytes`, read in pieces of each of `chunks` bytes. */
async function agree(bytes: Uint8Array, what: string, chunks = [1, 7, 64 * 1024]): Promise<Outcome> {
  const path = file(bytes);
  const expected = await inMemory(path);
  for (const chunkBytes of chunks) assert.deepEqual(await streamed(path, chunkBytes), expected, `${what} (reads of ${chunkBytes} bytes)`);
  return expected;
}
const message = (o: Outcome) => ('error' in o ? o.error.message : null);

const DTYPES: [string, number[]][] = [
  ['f2', [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0]], // bit patterns: 1, -2, 0.5, 65504, 2^-24, 0
  ['f4', [1.5, -2.25, 0, 1e30, 3, 4]],
  ['f8', [1e-300, -3.5, 0, 3e38, 5, 6]],
  ['i1', [-128, -1, 0, 127, 1, 2]],
  ['u1', [0, 1, 128, 255, 3, 4]],
  ['b1', [1, 0, 0, 1, 1, 0]],
  ['i2', [-32768, -1, 2, 32767, 0, 0]],
  ['u2', [0, 1, 40000, 65535, 0, 0]],
  ['i4', [-2147483648, -1, 7, 2147483647, 0, 0]],
  ['u4', [0, 1, 3000000000, 4294967295, 0, 0]],
  ['i8', [-5, 0, 2 ** 40, -(2 ** 52), 1, 2]],
  ['u8', [0, 1, 2 ** 53 - 1, 3, 4, 5]],
];
const orders = (kind: string) => (kind.endsWith('1') ? ['|'] : ['<', '>']);

test('every dtype and byte order of x and of y, stored and compressed, read in pieces of any size', async () => {
  const NaN16 = 0x7e00;
  const Inf16 = 0xfc00;
  for (const [kind, values] of DTYPES) {
    for (const order of orders(kind)) {
      const d = order + kind;
      for (const compressed of [false, true]) {
        const ok = await agree(npz({ x: npy(d, [3, 2], values) }, compressed), d);
        assert.ok('summary' in ok, `${d}: ${message(ok)}`);
        // As labels: class ids where the values allow it, else the first bad one is reported.
        await agree(npz({ x: npy('<f4', [6], range(6)), y: npy(d, [6], values) }, compressed), `${d} y`);
        await agree(npz({ x: npy('<f4', [3], range(3)), y: npy(d, [3, 2], values) }, compressed), `${d} one-hot y`);
      }
    }
  }
  for (const order of ['<', '>']) {
    const r = await agree(npz({ x: npy(`${order}f2`, [4], [0x3c00, NaN16, Inf16, 0]) }), 'f2 NaN');
    assert.equal(message(r), 'file: x contains NaN at index 1');
    const big = npyBytes(
      `${order}i8`,
      [2],
      order === '<'
        ? new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40])
        : new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]),
    );
    for (const key of ['x', 'y', 'extra']) {
      const members = { x: npy('<f4', [2], [1, 2]), [key]: big };
      const r2 = await agree(npz(members), `i8 beyond 2^53 in ${key}`);
      assert.match(
        message(r2)!,
        new RegExp(`${key} is not a valid \\.npy array: int64 value 4611686018427387904 at index 1 is beyond 2\\^53`),
      );
    }
  }
});

test('NaN, Infinity and float32 overflow at any position, in C and Fortran order, across block boundaries', async () => {
  const n = 3 * 7 * 1000; // 84 KB of float32 and 168 KB of float64: more than one 64 KiB block
  const shape = [3, 7, 1000];
  const cIndex = (f: number) => {
    const i = f % 3,
      j = Math.floor(f / 3) % 7,
      k = Math.floor(f / 21);
    return (i * 7 + j) * 1000 + k;
  };
  for (const d of ['<f4', '>f8', '<f2']) {
    const bad = d === '<f2' ? [0x7e00, 0x7c00] : d === '>f8' ? [NaN, -Infinity, 1e39] : [NaN, Infinity];
    const fill = d === '<f2' ? 0x3c00 : 1;
    for (const at of [0, 1, 16383, 16384, n - 2, n - 1]) {
      for (const v of bad) {
        for (const fortran of [false, true]) {
          const values = range(n, () => fill);
          values[at] = v;
          // A second, later failure in file order that comes first in C order when stored in Fortran order.
          if (fortran && at > 0) values[at === 1 ? 2 : 1] = bad[0];
          const r = await agree(npz({ x: npy(d, shape, values, { fortran }) }, at % 2 === 1), `${d} ${v} at ${at}${fortran ? ' F' : ''}`, [
            4093,
            64 * 1024,
          ]);
          const first = fortran ? Math.min(...[at, at === 1 ? 2 : 1].filter((f) => values[f] !== fill).map(cIndex)) : at;
          assert.match(message(r)!, new RegExp(`^file: x contains .* at index ${first}$`));
        }
      }
    }
  }
  // Just past float32's largest value but rounding down to it is fine; half an ulp past it is Infinity.
  const f64 = await agree(npz({ x: npy('<f8', [2], [3.4028235e38, 3.4028236e38]) }), 'f32 max edge');
  assert.equal(message(f64), 'file: x contains a value outside the float32 range (3.4028236e+38) at index 1');
});

test('labels: class ids, [n, 1] columns, one-hot and probability rows in either order, and every rejection', async () => {
  const x = npy('<f4', [4, 2], range(8));
  const cases: [string, Uint8Array, RegExp | null][] = [
    ['ids', npy('<i8', [4], [0, 4, 1, 2]), null],
    ['column', npy('<f8', [4, 1], [1, 0, 2, 0]), null],
    ['one-hot', npy('<f4', [4, 3], [0, 0, 1, 0, 1, 0, 1, 0, 0, 0.2, 0.5, 0.3]), null],
    ['one-hot F', npy('>f8', [4, 3], [0, 0, 1, 0, 1, 0, 1, 0, 0, 0.2, 0.5, 0.3], { fortran: true }), null],
    // Fortran order: the NaN comes first in the file, the Infinity (row 0, column 1) first in C order.
    [
      'F NaN',
      npy('<f4', [4, 3], [0, NaN, 0, 0, Infinity, 0, 0, 0, 0, 0, 0, 0], { fortran: true }),
      /^file: y contains Infinity at index 1$/,
    ],
    ['short', npy('<i4', [3], [0, 1, 2]), /y has 3 labels but x has 4 samples/],
    ['rows', npy('<f4', [3, 2], range(6)), /y has 3 rows but x has 4 samples/],
    ['negative', npy('<i2', [4], [0, 1, -1, 2]), /y\[2\] = -1 is negative/],
    ['fraction', npy('<f4', [4], [0, 1.5, 1, 0]), /y\[1\] = 1.5 is not an integer/],
    ['NaN id', npy('<f2', [4], [0, 0x7e00, 0, 0]), /y\[1\] = NaN is not an integer/],
    ['huge id', npy('<u8', [4], [0, 2 ** 31, 0, 0]), /y\[1\] = 2147483648 is too large/],
    ['3-D', npy('<i4', [4, 1, 1], [0, 1, 2, 3]), /y must be 1-D .* got shape \[4, 1, 1\]/],
    ['empty rows', npy('<i4', [4, 0], []), /y must be 1-D/],
  ];
  for (const [what, y, pattern] of cases) {
    for (const members of [
      { x, y },
      { y, x },
    ]) {
      const r = await agree(npz(members, what.length % 2 === 0), `${what}, ${Object.keys(members)}`);
      if (pattern) assert.match(message(r) ?? 'accepted', pattern, what);
      else assert.ok('summary' in r, `${what}: ${message(r)}`);
    }
  }
  const ids = await streamed(file(npz({ x, y: npy('<i8', [4], [0, 4, 1, 2]) })));
  assert.deepEqual(ids, { summary: { samples: 4, xShape: [4, 2], sampleShape: [2], xDtype: 'float32', hasLabels: true, classes: 5 } });
});

test('x shapes, missing x, other members, directories, duplicates, unreadable and non-zip files', async () => {
  const cases: [string, Uint8Array, RegExp | null][] = [
    ['no x', npz({ y: npy('<i4', [1], [0]), images: npy('<f4', [1], [0]) }), /missing array "x" \(found: y, images\)/],
    ['empty zip', npz({}), /missing array "x" \(found: no arrays\)/],
    ['scalar x', npz({ x: npy('<f4', [], [1]) }), /at least 1-D/],
    ['no samples', npz({ x: npy('<f4', [0, 3], []) }), /x has no samples/],
    ['empty sample', npz({ x: npy('<f4', [2, 0], []) }), /empty sample shape \[0\]/],
    ['1-D x', npz({ x: npy('<f4', [3], [1, 2, 3]) }), null],
    ['extra arrays', npz({ x: npy('<f4', [2], [1, 2]), mean: npy('<f8', [], [0.5]), names: npy('|u1', [3], [1, 2, 3]) }), null],
    ['unicode extra', npz({ x: npy('<f4', [1], [1]), names: npyBytes('<U3', [1], new Uint8Array(12)) }), /names has unsupported dtype <U3/],
    ['object x', npz({ x: npyBytes('|O', [1], new Uint8Array(8)) }), /x has object dtype/],
    ['complex x', npz({ x: npyBytes('<c8', [1], new Uint8Array(8)) }), /unsupported dtype <c8/],
    ['structured', npz({ x: npyBytes("[('a', '<f4')]", [1], new Uint8Array(4)) }), /structured/],
    ['short data', npz({ x: npyBytes('<f4', [3], new Uint8Array(8)) }), /shape \[3\] of <f4 needs 12 data bytes but the file has 8/],
    ['long data', npz({ x: npyBytes('<f4', [1], new Uint8Array(8)) }), /needs 4 data bytes but the file has 8/],
    [
      'text member',
      npz({ x: npy('<f4', [1], [1]), notes: new TextEncoder().encode('hello') }),
      /^file: notes is not a valid \.npy array: missing the \\x93NUMPY magic$/,
    ],
    ['tiny member', npz({ x: new Uint8Array([0x93, 0x4e]) }), /missing the \\x93NUMPY magic/],
    [
      'bad version',
      npz({
        x: (() => {
          const b = npy('<f4', [1], [1]);
          b[6] = 9;
          return b;
        })(),
      }),
      /format version 9/,
    ],
    ['cut header', npz({ x: npy('<f4', [1], [1]).subarray(0, 30) }), /truncated header/],
    ['v2 and v3', npz({ x: npy('<f4', [2], [1, 2], { version: 2 }), y: npy('<u2', [2], [0, 1], { version: 3 }) }), null],
    ['unpadded', npz({ x: npy('<f8', [2], [1.25, -3], { pad: false }) }), null],
    ['descriptors', npzWithDescriptors({ x: npy('<f4', [4, 2], range(8)), y: npy('<i8', [4], [0, 1, 2, 1]) }), null],
    ['descriptors, deflated', npzWithDescriptors({ x: npy('<f4', [4, 2], range(8)), y: npy('<i8', [4], [0, 1, 2, 1]) }, true), null],
    ['zip64', zip64Npz({ x: npy('<f4', [4, 2], range(8)), y: npy('<i8', [4], [0, 1, 2, 1]) }), null],
    ['bare .npy', npy('<f4', [1], [1]), /single \.npy/],
    ['csv', new TextEncoder().encode('x,y\n1,2\n3,4\n5,6\n7,8\n9,0\n'), /not a \.npz file/],
  ];
  for (const [what, bytes, pattern] of cases) {
    const r = await agree(bytes, what);
    if (pattern) assert.match(message(r) ?? 'accepted', pattern, what);
    else assert.ok('summary' in r, `${what}: ${message(r)}`);
  }
  // A directory entry, and a name stored twice (the last copy is the one unzipSync returns).
  const withDir = zipSync({ 'data/': new Uint8Array(0), 'x.npy': npy('<f4', [1], [1]) });
  assert.ok('summary' in (await agree(withDir, 'directory entry')));
  const twice = concatZips(npz({ x: npy('<f4', [2], [NaN, 1]), y: npy('<i4', [2], [0, 1]) }), npz({ x: npy('<f4', [3], [1, 2, 3]) }));
  assert.equal(message(await agree(twice, 'duplicate name')), 'file: y has 2 labels but x has 3 samples');
  assert.deepEqual(await streamed(join(dir, 'missing.npz')), await inMemory(join(dir, 'missing.npz')));
  // Past MAX_CENTRAL_DIRECTORY_BYTES of member list the directory is not read (the in-memory path reads it).
  const many: Record<string, Uint8Array> = { 'x.npy': npy('<f4', [1], [1]) };
  for (let i = 0; i < 20_000; i++) many[`padding/${String(i).padStart(40, '0')}/`] = new Uint8Array(0);
  const crowded = await streamed(file(zipSync(many)));
  assert.deepEqual(crowded, {
    error: { field: 'file', status: 413, message: `file: the .npz's member list is longer than ${MAX_CENTRAL_DIRECTORY_BYTES} bytes` },
  });
});

test('cut at every offset and damaged at every byte: the verdict of the in-memory path', async () => {
  const members = {
    x: npy(
      '<f4',
      [6, 2],
      range(12, (i) => i / 4),
    ),
    y: npy('<i8', [6], [0, 2, 1, 1, 0, 2]),
  };
  const archives: [string, Uint8Array][] = [
    ['stored', npz(members)],
    ['zip64', zip64Npz(members)],
    ['deflated', npz(members, true)],
    ['deflated, data descriptors', npzWithDescriptors(members, true)],
  ];
  for (const [kind, whole] of archives) {
    for (let cut = 0; cut < whole.length; cut++) {
      assert.ok('error' in (await agree(whole.subarray(0, cut), `${kind} cut at ${cut}`, [64 * 1024])), `${kind} cut at ${cut} accepted`);
    }
    for (let at = 0; at < whole.length; at++) {
      const damaged = whole.slice();
      damaged[at] ^= [0x01, 0x80, 0xff][at % 3];
      const what = `${kind}, byte ${at} damaged`;
      if (!kind.startsWith('deflated')) {
        await agree(damaged, what, [64 * 1024]);
        continue;
      }
      // Damaged deflate data decodes differently in zlib (streaming) and fflate (in memory), and
      // fflate quietly cuts a member that inflates past its declared size: the streaming verdict may
      // then only be stricter, never accept what the in-memory path refuses.
      const path = file(damaged);
      const [expected, got] = [await inMemory(path), await streamed(path)];
      if ('summary' in got) assert.deepEqual(got, expected, what);
      else if ('summary' in expected) assert.match(got.error.message, /^file: truncated or corrupt \.npz/, what);
      else assert.deepEqual([got.error.field, got.error.status], [expected.error.field, expected.error.status], what);
    }
  }
});

test('what numpy writes: savez, savez_compressed, to an unseekable stream (data descriptors), formats 2 and 3', async (t) => {
  if (spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
    t.skip('numpy not available');
    return;
  }
  const script = `
import numpy as np, sys, io, zipfile
d = sys.argv[1]
class Unseekable:
  def __init__(self, f): self.f = f
  def read(self, n): raise io.UnsupportedOperation('read')
  def write(self, b): return self.f.write(b)
  def flush(self): self.f.flush()
rng = np.random.default_rng(0)
sets = dict(
  small=dict(x=np.arange(12, dtype=np.float32).reshape(3, 4) / 4, y=np.array([0, 2, 1])),
  images=dict(x=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), y=rng.integers(0, 10, 50)),
  floats=dict(x=rng.standard_normal((300, 100)).astype('>f8'), y=np.eye(5, dtype=np.float32)[rng.integers(0, 5, 300)]),
  fortran=dict(x=np.asfortranarray(rng.standard_normal((40, 30, 20)).astype(np.float32)), y=np.asfortranarray(np.eye(3)[rng.integers(0, 3, 40)])),
  half=dict(x=rng.standard_normal((64, 9)).astype(np.float16), y=np.arange(64, dtype=np.uint64).reshape(64, 1) % 7),
  nan=dict(x=np.where(np.arange(20000) == 19999, np.nan, 1).astype(np.float32).reshape(1000, 20)),
  extra=dict(x=np.ones((5, 2)), y=np.zeros(5, dtype=np.int8), names=np.array(['a', 'b'])),
)
for name, arrays in sets.items():
  np.savez(f'{d}/{name}.npz', **arrays)
  np.savez_compressed(f'{d}/{name}-z.npz', **arrays)
  with open(f'{d}/{name}-stream.npz', 'wb') as f:
    np.savez_compressed(Unseekable(f), **arrays)
with zipfile.ZipFile(d + '/versions.npz', 'w') as z:
  for key, v in [('x', (2, 0)), ('y', (3, 0))]:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(5, dtype='<u2'), version=v)
    z.writestr(key + '.npy', buf.getvalue())
`;
  const py = mkdtempSync(join(dir, 'numpy-'));
  const r = spawnSync('python3', ['-c', script, py], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const verdicts: Record<string, string> = {};
  for (const name of ['small', 'images', 'floats', 'fortran', 'half', 'nan', 'extra']) {
    for (const suffix of ['', '-z', '-stream']) {
      const bytes = readFileSync(join(py, `${name}${suffix}.npz`));
      if (suffix === '-stream') assert.equal(bytes[6] & 8, 8, 'expected data descriptors');
      const o = await agree(bytes, `${name}${suffix}`, [4093, 64 * 1024]);
      verdicts[`${name}${suffix}`] = message(o) ?? JSON.stringify((o as { summary: unknown }).summary);
    }
  }
  assert.match(verdicts.small, /"xShape":\[3,4\].*"classes":3/);
  assert.match(verdicts['fortran-stream'], /"xShape":\[40,30,20\].*"classes":3/);
  assert.match(verdicts['half-z'], /"xDtype":"float16".*"classes":7/);
  assert.equal(verdicts.nan, 'file: x contains NaN at index 19999');
  assert.match(verdicts['extra-z'], /names has unsupported dtype <U1/);
  assert.ok('summary' in (await agree(readFileSync(join(py, 'versions.npz')), 'versions')));
});

/** A file of `members`, written piece by piece so that no test holds a large one in memory. */
async function writeNpz(
  path: string,
  members: { name: string; header: Uint8Array; dataBytes: number; piece: (at: number, out: Uint8Array) => void }[],
  level: number | null,
) {
  const compressed = level !== null;
  const fd = openSync(path, 'w');
  const central: Uint8Array[] = [];
  let offset = 0;
  try {
    for (const m of members) {
      const name = new TextEncoder().encode(m.name);
      const head = new Uint8Array(30 + name.length);
      head.set(name, 30);
      writeSync(fd, head, 0, head.length, offset); // sizes filled in below
      const start = offset + head.length;
      let written = 0;
      const total = m.header.length + m.dataBytes;
      async function* content() {
        yield m.header;
        for (let at = 0; at < m.dataBytes; at += 4 * MiB) {
          const out = new Uint8Array(Math.min(4 * MiB, m.dataBytes - at));
          m.piece(at, out);
          yield out;
        }
      }
      const sink = createWriteStream('', { fd, start, autoClose: false });
      const counted = async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          written += chunk.length;
          yield chunk;
        }
      };
      if (compressed) await pipeline(Readable.from(content()), createDeflateRaw({ level }), counted, sink);
      else await pipeline(Readable.from(content()), counted, sink);
      const h = new DataView(head.buffer);
      h.setUint32(0, 0x04034b50, true);
      h.setUint16(4, 20, true);
      h.setUint16(8, compressed ? 8 : 0, true);
      h.setUint32(18, written, true);
      h.setUint32(22, total, true);
      h.setUint16(26, name.length, true);
      writeSync(fd, head, 0, head.length, offset); // CRC left 0: neither reader checks it
      const entry = new Uint8Array(46 + name.length);
      const c = new DataView(entry.buffer);
      c.setUint32(0, 0x02014b50, true);
      c.setUint16(6, 20, true);
      c.setUint16(10, compressed ? 8 : 0, true);
      c.setUint32(20, written, true);
      c.setUint32(24, total, true);
      c.setUint16(28, name.length, true);
      c.setUint32(42, offset, true);
      entry.set(name, 46);
      central.push(entry);
      offset = start + written;
    }
    const dirStart = offset;
    for (const e of central) offset += writeSync(fd, e, 0, e.length, offset);
    const end = new Uint8Array(22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, central.length, true);
    v.setUint16(10, central.length, true);
    v.setUint32(12, offset - dirStart, true);
    v.setUint32(16, dirStart, true);
    writeSync(fd, end, 0, 22, offset);
  } finally {
    closeSync(fd);
  }
}

const header = (descr: string, shape: number[]) => npyBytes(descr, shape, new Uint8Array(0));

/** Runs inspectNpzFile in a fresh process: its verdict, time, and how far its peak RSS rose above where it started. */
function inspectInChild(path: string, limits: NpzLimits) {
  // Peak RSS from /proc where there is one: on Linux getrusage's maxrss carries over from the parent
  // that forked the process, so it would report the test runner's size.
  const script = `
import { readFileSync } from 'node:fs';
const peak = () => {
  try { return Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; }
  catch { return process.resourceUsage().maxRSS * 1024; }
};
const { inspectNpzFile } = await import(process.argv[1]);
const before = process.memoryUsage().rss;
const started = performance.now();
let out;
try { out = { summary: await inspectNpzFile(process.argv[2], 'file', JSON.parse(process.argv[3])) }; }
catch (e) { out = { error: { name: e.name, status: e.status, message: e.message } }; }
out.ms = performance.now() - started;
out.rssGrowth = peak() - before;
console.log(JSON.stringify(out));`;
  const module = new URL('../../src/io/npz-stream.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, module, path, JSON.stringify(limits)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    summary?: Record<string, unknown>;
    error?: { name: string; status: number; message: string };
    ms: number;
    rssGrowth: number;
  };
}

test('a deflate bomb (1 MiB unpacking to 1 GiB of x) is stopped early by either cap, in little memory', async (t) => {
  const path = join(dir, 'bomb.npz');
  const n = 1 << 28; // float32 zeros: 1 GiB
  await writeNpz(path, [{ name: 'x.npy', header: header('<f4', [n]), dataBytes: 4 * n, piece: () => {} }], 9);
  const ratio = inspectInChild(path, { maxUnzippedBytes: 2 ** 40, maxCompressionRatio: 200 });
  t.diagnostic(`ratio cap: ${ratio.ms.toFixed(0)} ms, RSS +${(ratio.rssGrowth / MiB).toFixed(1)} MiB`);
  assert.equal(ratio.error?.name, 'InputError');
  assert.equal(ratio.error?.status, 413);
  assert.match(ratio.error!.message, /^file: member "x\.npy" unpacks to more than 200 times its \d+ compressed bytes/);
  assert.ok(ratio.rssGrowth < 64 * MiB, `RSS grew by ${ratio.rssGrowth}`);
  const total = inspectInChild(path, { maxUnzippedBytes: 64 * MiB, maxCompressionRatio: 2000 });
  t.diagnostic(`size cap: ${total.ms.toFixed(0)} ms, RSS +${(total.rssGrowth / MiB).toFixed(1)} MiB`);
  assert.equal(total.error?.status, 413);
  assert.match(total.error!.message, /^file: the \.npz unpacks to more than the 67108864 bytes accepted$/);
  assert.ok(total.rssGrowth < 64 * MiB, `RSS grew by ${total.rssGrowth}`);
  // Declaring a small size does not help: unpacking stops as soon as the member outgrows it.
  const liar = readFileSync(path);
  const view = new DataView(liar.buffer, liar.byteOffset);
  const dirAt = view.getUint32(liar.length - 6, true);
  view.setUint32(dirAt + 24, 1000, true);
  view.setUint32(22, 1000, true);
  const lied = inspectInChild(file(liar), NO_LIMITS);
  assert.match(lied.error!.message, /member "x\.npy" unpacks to more than the 1000 bytes it declares/);
  assert.ok(lied.rssGrowth < 64 * MiB, `RSS grew by ${lied.rssGrowth}`);
});

test('crafted .npy headers inside a .npz: answered at once, never buffered past the cap', async () => {
  for (const [version, repeats] of [
    [1, 6500],
    [2, 100_000],
    [3, 100_000],
  ] as const) {
    const bytes = npz(
      { x: npyWithHeader(`{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(repeats)}`, new Uint8Array(0), { version }) },
      true,
    );
    const started = performance.now();
    const r = await agree(bytes, `${repeats} x 'shape': (`, [64 * 1024]);
    assert.ok(performance.now() - started < 500, `${performance.now() - started} ms`);
    assert.match(message(r)!, /x is not a valid \.npy array: header/);
  }
  // A header length of 4 GiB in a member that really is that long: refused on its first bytes.
  const path = join(dir, 'long-header.npz');
  const claim = npy('<f4', [1], [1], { version: 2 }).subarray(0, 12);
  new DataView(claim.buffer, claim.byteOffset).setUint32(8, 0xfffffff0, true);
  await writeNpz(path, [{ name: 'x.npy', header: claim, dataBytes: 64 * MiB, piece: (_, out) => out.fill(0x20) }], 1);
  const r = inspectInChild(path, NO_LIMITS);
  assert.match(r.error!.message, /x is not a valid \.npy array: header of 4294967280 bytes is longer than the 65536 allowed/);
  assert.ok(r.ms < 500 && r.rssGrowth < 64 * MiB, JSON.stringify(r));
});

test('~200 MB datasets, stored and compressed, inspect in bounded memory', async (t) => {
  const rows = 50_000;
  const cols = 1000; // float32: 200 MB of x
  const piece = (at: number, out: Uint8Array) => {
    // Pixel-like values (small integers as float32): compressible about as well as real images.
    const v = new Float32Array(out.buffer, out.byteOffset, out.length / 4);
    for (let i = 0; i < v.length; i++) v[i] = ((at / 4 + i) * 2654435761) % 251;
  };
  const labels = (at: number, out: Uint8Array) => {
    const v = new BigInt64Array(out.buffer, out.byteOffset, out.length / 8);
    for (let i = 0; i < v.length; i++) v[i] = BigInt((at / 8 + i) % 10);
  };
  for (const compressed of [false, true]) {
    const path = join(dir, compressed ? 'large-z.npz' : 'large.npz');
    await writeNpz(
      path,
      [
        { name: 'x.npy', header: header('<f4', [rows, cols]), dataBytes: rows * cols * 4, piece },
        { name: 'y.npy', header: header('<i8', [rows]), dataBytes: rows * 8, piece: labels },
      ],
      compressed ? 1 : null,
    );
    const r = inspectInChild(path, { maxUnzippedBytes: 400 * MiB, maxCompressionRatio: 200 });
    const mb = (rows * cols * 4 + rows * 8) / 1e6;
    t.diagnostic(
      `${compressed ? 'compressed' : 'stored'}: ${mb.toFixed(0)} MB unpacked in ${r.ms.toFixed(0)} ms = ${(mb / (r.ms / 1000)).toFixed(0)} MB/s, RSS +${(r.rssGrowth / MiB).toFixed(1)} MiB`,
    );
    assert.deepEqual(
      r.summary,
      { samples: rows, xShape: [rows, cols], sampleShape: [cols], xDtype: 'float32', hasLabels: true, classes: 10 },
      JSON.stringify(r),
    );
    assert.ok(r.rssGrowth < 64 * MiB, `RSS grew by ${r.rssGrowth}`);
    rmSync(path);
  }
});

/** Two archives' members in one: a's, then b's (central directories merged, offsets moved). */
function concatZips(a: Uint8Array, b: Uint8Array): Uint8Array {
  const parts = (z: Uint8Array) => {
    const v = new DataView(z.buffer, z.byteOffset);
    const end = z.length - 22;
    return { v, dirAt: v.getUint32(end + 16, true), dirLen: v.getUint32(end + 12, true), count: v.getUint16(end + 8, true) };
  };
  const pa = parts(a);
  const pb = parts(b);
  const dirB = b.slice(pb.dirAt, pb.dirAt + pb.dirLen);
  const vb = new DataView(dirB.buffer);
  for (let at = 0; at < dirB.length; at += 46 + vb.getUint16(at + 28, true) + vb.getUint16(at + 30, true) + vb.getUint16(at + 32, true)) {
    vb.setUint32(at + 42, vb.getUint32(at + 42, true) + pa.dirAt, true);
  }
  const out = new Uint8Array(pa.dirAt + pb.dirAt + pa.dirLen + pb.dirLen + 22);
  out.set(a.subarray(0, pa.dirAt));
  out.set(b.subarray(0, pb.dirAt), pa.dirAt);
  out.set(a.subarray(pa.dirAt, pa.dirAt + pa.dirLen), pa.dirAt + pb.dirAt);
  out.set(dirB, pa.dirAt + pb.dirAt + pa.dirLen);
  const end = new DataView(out.buffer, out.length - 22);
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, pa.count + pb.count, true);
  end.setUint16(10, pa.count + pb.count, true);
  end.setUint32(12, pa.dirLen + pb.dirLen, true);
  end.setUint32(16, pa.dirAt + pb.dirAt, true);
  return out;
}
