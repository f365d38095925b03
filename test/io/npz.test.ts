// .npy/.npz parsing: every dtype and byte order, format versions, Fortran order, and each rejection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { MAX_NPY_HEADER_BYTES, parseNpy } from '../../src/io/npy.js';
import { parseNpz } from '../../src/io/npz.js';
import { encode, npy, npyBytes, npyWithHeader, npz } from './npy-fixtures.js';

const inputError =
  (pattern: RegExp, field = 'data') =>
  (e: unknown) =>
    e instanceof InputError && e.field === field && pattern.test(e.message);

const CASES: [string, string, string, number[]][] = [
  // descr, numpy name, JS array type, values
  ['f4', 'float32', 'Float32Array', [1.5, -2.25, 0, 1e30]],
  ['f8', 'float64', 'Float64Array', [1e-300, -3.5, 0, 1e300]],
  ['u1', 'uint8', 'Uint8Array', [0, 1, 128, 255]],
  ['i1', 'int8', 'Int8Array', [-128, -1, 0, 127]],
  ['i2', 'int16', 'Int16Array', [-32768, -1, 2, 32767]],
  ['u2', 'uint16', 'Uint16Array', [0, 1, 40000, 65535]],
  ['i4', 'int32', 'Int32Array', [-2147483648, -1, 7, 2147483647]],
  ['u4', 'uint32', 'Uint32Array', [0, 1, 3000000000, 4294967295]],
  ['i8', 'int64', 'Int32Array', [-5, 0, 9, 2147483647]],
  ['u8', 'uint64', 'Int32Array', [0, 1, 2, 3]],
  ['b1', 'bool', 'Uint8Array', [1, 0, 0, 1]],
];

for (const [kind, name, jsType, values] of CASES) {
  for (const order of kind.endsWith('1') ? ['|'] : ['<', '>']) {
    test(`reads ${order}${kind} as ${name}`, () => {
      for (const compressed of [false, true]) {
        const arr = parseNpz(npz({ a: npy(order + kind, [2, 2], values) }, compressed)).get('a')!;
        assert.equal(arr.dtype, name);
        assert.deepEqual(arr.shape, [2, 2]);
        assert.equal(arr.data.constructor.name, jsType);
        assert.deepEqual([...arr.data], kind === 'f4' ? [...Float32Array.from(values)] : values);
      }
    });
  }
}

test('reads float16 (normal, subnormal, infinity) in both byte orders', () => {
  // 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), +inf
  const bits = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00];
  for (const d of ['<f2', '>f2']) {
    const arr = parseNpz(npz({ h: npy(d, [6], bits) })).get('h')!;
    assert.equal(arr.dtype, 'float16');
    assert.deepEqual([...arr.data], [1, -2, 0.5, 65504, 2 ** -24, Infinity]);
  }
});

test('int64 beyond int32 becomes Float64Array; beyond 2^53 is rejected', () => {
  const big = parseNpz(npz({ a: npy('<i8', [2], [2 ** 40, -(2 ** 52)]) })).get('a')!;
  assert.ok(big.data instanceof Float64Array);
  assert.deepEqual([...big.data], [2 ** 40, -(2 ** 52)]);
  const huge = npyBytes('<i8', [1], new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x40])); // 2^62
  assert.throws(() => parseNpz(npz({ a: huge })), inputError(/beyond 2\^53/));
});

test('format versions 1, 2 and 3 read the same', () => {
  for (const version of [1, 2, 3] as const) {
    const arr = parseNpz(npz({ x: npy('<f4', [3], [1, 2, 3], { version }) })).get('x')!;
    assert.deepEqual([...arr.data], [1, 2, 3]);
  }
});

test("unaligned data (header without numpy's padding) is copied, not viewed", () => {
  const bytes = npy('<f8', [2], [1.25, -3], { pad: false });
  assert.notEqual((bytes.length - 16) % 8, 0); // data offset is not a multiple of 8
  assert.deepEqual([...parseNpz(npz({ a: bytes })).get('a')!.data], [1.25, -3]);
});

test('fortran_order arrays are transposed to C order', () => {
  const shape = [2, 3, 4];
  const f = new Array<number>(24);
  // Element (i, j, k) has value equal to its C-order offset, stored at its Fortran offset.
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) f[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
  const arr = parseNpz(npz({ a: npy('>f8', shape, f, { fortran: true }) })).get('a')!;
  assert.deepEqual(arr.shape, shape);
  assert.deepEqual(
    [...arr.data],
    Array.from({ length: 24 }, (_, i) => i),
  );
});

test('0-d and empty arrays', () => {
  const m = parseNpz(npz({ s: npy('<f4', [], [7]), e: npy('<f4', [0, 3], []) }));
  assert.deepEqual(m.get('s')!.shape, []);
  assert.deepEqual([...m.get('s')!.data], [7]);
  assert.equal(m.get('e')!.data.length, 0);
});

test('rejects object, unknown and structured dtypes', () => {
  assert.throws(() => parseNpz(npz({ x: npyBytes('|O', [1], new Uint8Array(8)) })), inputError(/x has object dtype/));
  assert.throws(() => parseNpz(npz({ x: npyBytes('<c8', [1], new Uint8Array(8)) })), inputError(/unsupported dtype <c8/));
  assert.throws(() => parseNpz(npz({ x: npyBytes('<U3', [1], new Uint8Array(12)) })), inputError(/unsupported dtype/));
  const structured = npyBytes("[('a', '<f4')]", [1], new Uint8Array(4));
  assert.throws(() => parseNpz(npz({ x: structured })), inputError(/structured/));
});

test('header dict: quotes, spacing, trailing commas, key order and Python 2 longs as numpy has written them', () => {
  const data = encode('<i2', [1, 2, 3, 4, 5, 6]);
  for (const header of [
    `{"descr": "<i2", "fortran_order": False, "shape": (2, 3)}`,
    `{'shape':(2,3,),'fortran_order':False,'descr':'<i2',}`,
    `{ 'descr' : '<i2' ,\t'fortran_order' : False , 'shape' : ( 2L , 3L ) , }   `,
  ]) {
    const arr = parseNpy(npyWithHeader(header, data), 'data', 'a');
    assert.deepEqual(arr.shape, [2, 3], header);
    assert.deepEqual([...arr.data], [1, 2, 3, 4, 5, 6]);
  }
  assert.deepEqual(parseNpy(npyWithHeader(`{'descr': '<i2', 'fortran_order': False, 'shape': (6), }`, data), 'data', 'a').shape, [6]);
  assert.deepEqual(
    parseNpy(npyWithHeader(`{'descr': '<i2', 'fortran_order': False, 'shape': (), }`, data.subarray(0, 2)), 'data', 'a').shape,
    [],
  );
});

test('header dict: rejects what numpy would not read, without echoing more than its start', () => {
  const reject = (header: string, pattern: RegExp) =>
    assert.throws(
      () => parseNpy(npyWithHeader(header, new Uint8Array(4)), 'data', 'x'),
      (e: unknown) => {
        assert.ok(e instanceof InputError && pattern.test(e.message), `${header}: ${(e as Error).message}`);
        assert.ok(e.message.length < 300, e.message);
        return true;
      },
    );
  const ok = `'descr': '<f4', 'fortran_order': False, 'shape': (1,)`;
  reject(`{${ok}, 'descr': '<f4'}`, /x is not a valid \.npy array: header is not a numpy header dict \(duplicate key 'descr'/);
  reject(`{${ok}, 'shape': (1,)}`, /duplicate key 'shape'/);
  reject(`{${ok}, 'align': False}`, /unexpected key "align"/);
  reject(`{'descr': '<f4', 'shape': (1,)}`, /missing fortran_order/);
  reject(`{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}`, /expected True or False/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': [1]}`, /expected "\("/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}`, /expected an integer/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}`, /expected "," or "\)"/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,),,}`, /expected a string/);
  reject(`{${ok}} {}`, /text after the dict/);
  reject(`{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}`, /escape/);
  reject(`{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}`, /expected "," or "}"/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'9'.repeat(30_000)},)}`, /shape dimension 9{20}\.\.\. is too large/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (${2 ** 27}, ${2 ** 27})}`, /shape \[134217728, 134217728\] is too large/);
  reject(`{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}`, /structured \(record\) dtypes are not supported/);
  reject(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'1, '.repeat(21_000)})}`, /shape has more than 64 dimensions/);
});

test('a crafted header is refused in linear time; one over MAX_NPY_HEADER_BYTES before it is read', () => {
  // The regexes that used to read headers took 35 s on this (100,000 repetitions) and 0.15 s at the v1 maximum.
  for (const [version, repeats] of [
    [1, 6500],
    [2, 100_000],
  ] as const) {
    const header = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(repeats)}`;
    const started = performance.now();
    assert.throws(
      () => parseNpz(npz({ x: npyWithHeader(header, new Uint8Array(0), { version }) })),
      inputError(/x is not a valid \.npy array/),
    );
    assert.ok(performance.now() - started < 200, `${performance.now() - started} ms`);
  }
  const long = npyWithHeader(
    `{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}${' '.repeat(MAX_NPY_HEADER_BYTES)}`,
    encode('<f4', [1]),
    { version: 2 },
  );
  assert.throws(
    () => parseNpy(long, 'data', 'x'),
    inputError(/x is not a valid \.npy array: header of 656\d\d bytes is longer than the 65536 allowed/),
  );
  // A length field claiming 4 GB gets the same answer, not a wait for (or allocation of) 4 GB.
  const claims = npy('<f4', [1], [1], { version: 2 });
  new DataView(claims.buffer).setUint32(8, 0xffffffff, true);
  assert.throws(() => parseNpy(claims, 'data', 'x'), inputError(/header of 4294967295 bytes is longer/));
});

test('rejects data length not matching the shape', () => {
  const short = npyBytes('<f4', [3], new Uint8Array(8));
  assert.throws(() => parseNpz(npz({ x: short })), inputError(/x .*shape \[3\] of <f4 needs 12 data bytes but the file has 8/));
  const long = npyBytes('<f4', [1], new Uint8Array(8));
  assert.throws(() => parseNpz(npz({ x: long })), inputError(/needs 4 data bytes but the file has 8/));
});

test('rejects members that are not .npy', () => {
  assert.throws(() => parseNpz(npz({ x: new TextEncoder().encode('hello world') })), inputError(/x is not a valid \.npy.*magic/));
  const bad = npy('<f4', [1], [1]);
  bad[6] = 9;
  assert.throws(() => parseNpz(npz({ x: bad })), inputError(/format version 9/));
  assert.throws(() => parseNpz(npz({ x: npy('<f4', [1], [1]).subarray(0, 30) })), inputError(/truncated header/));
});

test('rejects non-zips and truncated or corrupt zips', () => {
  assert.throws(() => parseNpz(new TextEncoder().encode('x,y\n1,2\n'), 'evalData'), inputError(/not a \.npz/, 'evalData'));
  assert.throws(() => parseNpz(npy('<f4', [1], [1])), inputError(/single \.npy/));
  for (const compressed of [false, true]) {
    const whole = npz({ x: npy('<f4', [100], new Array(100).fill(1)), y: npy('<i8', [100], new Array(100).fill(0)) }, compressed);
    assert.throws(() => parseNpz(whole.subarray(0, whole.length >> 1)), inputError(/truncated or corrupt/));
    assert.throws(() => parseNpz(whole.subarray(0, whole.length - 1)), inputError(/truncated or corrupt/));
  }
});

test('reads files written by numpy itself (np.savez, np.savez_compressed, format versions 2/3)', (t) => {
  if (spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
    t.skip('numpy not available');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lopper-npz-'));
  try {
    const script = `
import numpy as np, zipfile, io, sys
d = sys.argv[1]
arrays = dict(
  x=np.arange(12, dtype=np.float32).reshape(3, 4) / 4,
  y=np.array([0, 2, 1]),
  ff=np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
  be=np.arange(6, dtype='>i4').reshape(2, 3),
  h=np.array([1, -2, 0.5], dtype=np.float16),
  b=np.array([True, False]),
  big=np.array([2**40], dtype=np.uint64),
)
np.savez(d + '/plain.npz', **arrays)
np.savez_compressed(d + '/compressed.npz', **arrays)
with zipfile.ZipFile(d + '/versions.npz', 'w') as z:
  for v in [(2, 0), (3, 0)]:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(5, dtype='<u2'), version=v)
    z.writestr('v%d.npy' % v[0], buf.getvalue())
`;
    const r = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const file of ['plain.npz', 'compressed.npz']) {
      const m = parseNpz(readFileSync(join(dir, file)));
      assert.deepEqual(m.get('x')!.shape, [3, 4]);
      assert.deepEqual(
        [...m.get('x')!.data],
        Array.from({ length: 12 }, (_, i) => i / 4),
      );
      assert.equal(m.get('y')!.dtype, 'int64');
      assert.deepEqual([...m.get('y')!.data], [0, 2, 1]);
      assert.deepEqual(
        [...m.get('ff')!.data],
        Array.from({ length: 24 }, (_, i) => i),
      );
      assert.deepEqual([...m.get('be')!.data], [0, 1, 2, 3, 4, 5]);
      assert.deepEqual([...m.get('h')!.data], [1, -2, 0.5]);
      assert.deepEqual([...m.get('b')!.data], [1, 0]);
      assert.deepEqual([...m.get('big')!.data], [2 ** 40]);
    }
    const v = parseNpz(readFileSync(join(dir, 'versions.npz')));
    assert.deepEqual([...v.get('v2')!.data], [0, 1, 2, 3, 4]);
    assert.deepEqual([...v.get('v3')!.data], [0, 1, 2, 3, 4]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
