// Datasets: x/y validation, label forms, shape checks against a model, seeded splits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { checkFitsModel } from '../../src/compatibility.js';
import { describeDataset, loadDataset, splitHoldout, takeSamples } from '../../src/io/dataset.js';
import { encodeNpz } from '../../src/io/npz-write.js';
import { seededRandom, shuffledIndices } from '../../src/io/random.js';
import { npy, npz } from './npy-fixtures.js';

const rejects =
  (pattern: RegExp, field = 'data') =>
  (e: unknown) =>
    e instanceof InputError && e.field === field && pattern.test(e.message);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('loads x (uint8, kept as-is) and integer y from bytes and from a path', async () => {
  const bytes = npz(
    {
      x: npy(
        '|u1',
        [3, 2, 2],
        range(12).map((v) => v * 20),
      ),
      y: npy('<i8', [3], [0, 4, 1]),
    },
    true,
  );
  const dir = mkdtempSync(join(tmpdir(), 'lopper-ds-'));
  try {
    writeFileSync(join(dir, 'd.npz'), bytes);
    for (const source of [bytes, join(dir, 'd.npz')]) {
      const ds = await loadDataset(source);
      assert.ok(ds.x instanceof Float32Array);
      assert.deepEqual(
        [...ds.x],
        range(12).map((v) => v * 20),
      );
      assert.deepEqual(ds.sampleShape, [2, 2]);
      assert.deepEqual([...ds.y!], [0, 4, 1]);
      assert.deepEqual(describeDataset(ds), {
        samples: 3,
        xShape: [3, 2, 2],
        sampleShape: [2, 2],
        xDtype: 'uint8',
        hasLabels: true,
        classes: 5,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(loadDataset('/nonexistent/d.npz', 'evalData'), rejects(/evalData: cannot read/, 'evalData'));
});

test('reads what src/io/npz-write.ts writes (the examples and e2e fixtures depend on it)', async () => {
  for (const compressed of [false, true]) {
    const bytes = encodeNpz(
      { x: { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [3, 2] }, y: { data: Int32Array.from([2, 0, 1]), shape: [3] } },
      compressed,
    );
    const ds = await loadDataset(bytes);
    assert.deepEqual([...ds.x], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...ds.y!], [2, 0, 1]);
  }
});

test('x without y; float64 x; 1-D x means scalar samples', async () => {
  const ds = await loadDataset(npz({ x: npy('<f8', [4], [0.5, -1, 2, 3]) }));
  assert.deepEqual(ds.sampleShape, []);
  assert.equal(ds.n, 4);
  assert.equal(ds.y, null);
  assert.equal(ds.classes, null);
  assert.deepEqual([...ds.x], [0.5, -1, 2, 3]);
});

test('one-hot / probability y is argmax-ed; [n, 1] and integral floats are class ids', async () => {
  const x = npy('<f4', [3, 2], range(6));
  const onehot = await loadDataset(npz({ x, y: npy('<f4', [3, 4], [0, 0, 1, 0, 0.1, 0.7, 0.2, 0, 1, 0, 0, 0]) }));
  assert.deepEqual([...onehot.y!], [2, 1, 0]);
  assert.equal(onehot.classes, 4);
  const column = await loadDataset(npz({ x, y: npy('<f8', [3, 1], [1, 0, 2]) }));
  assert.deepEqual([...column.y!], [1, 0, 2]);
  assert.equal(column.classes, 3);
});

test('rejects missing x, empty x, NaN/Inf and float32 overflow', async () => {
  await assert.rejects(
    loadDataset(npz({ y: npy('<i4', [1], [0]), images: npy('<f4', [1], [0]) })),
    rejects(/data: missing array "x" \(found: y, images\)/),
  );
  await assert.rejects(loadDataset(npz({ x: npy('<f4', [0, 3], []) })), rejects(/x has no samples/));
  await assert.rejects(loadDataset(npz({ x: npy('<f4', [], [1]) })), rejects(/at least 1-D/));
  await assert.rejects(loadDataset(npz({ x: npy('<f4', [2, 0], []) })), rejects(/empty sample shape/));
  const withNaN = range(200).map((i) => (i === 123 ? NaN : i));
  await assert.rejects(
    loadDataset(npz({ x: npy('<f4', [100, 2], withNaN) }), 'evalData'),
    rejects(/^evalData: x contains NaN at index 123$/, 'evalData'),
  );
  await assert.rejects(loadDataset(npz({ x: npy('<f8', [2], [1, -Infinity]) })), rejects(/x contains Infinity at index 1/));
  await assert.rejects(loadDataset(npz({ x: npy('<f8', [2], [1e300, 1]) })), rejects(/outside the float32 range .* at index 0/));
});

test('rejects bad labels', async () => {
  const x = npy('<f4', [3], [1, 2, 3]);
  await assert.rejects(loadDataset(npz({ x, y: npy('<i4', [2], [0, 1]) })), rejects(/y has 2 labels but x has 3 samples/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<i4', [3], [0, -1, 1]) })), rejects(/y\[1\] = -1 is negative/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<f4', [3], [0, 1.5, 1]) })), rejects(/y\[1\] = 1.5 is not an integer/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<f4', [3], [0, NaN, 1]) })), rejects(/y\[1\] = NaN is not an integer/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<f4', [2, 2], [1, 0, 0, 1]) })), rejects(/y has 2 rows but x has 3 samples/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<f4', [3, 2], [1, 0, NaN, 1, 0, 1]) })), rejects(/y contains NaN at index 2/));
  await assert.rejects(loadDataset(npz({ x, y: npy('<i4', [3, 1, 1], [0, 1, 2]) })), rejects(/y must be 1-D .* got shape \[3, 1, 1\]/));
});

test('checkFitsModel compares per-sample shapes, null matching anything', async () => {
  const ds = await loadDataset(npz({ x: npy('<f4', [2, 28, 28], new Array(2 * 784).fill(0)) }));
  checkFitsModel(ds, [28, 28], 'data');
  checkFitsModel(ds, [null, 28], 'data');
  assert.throws(
    () => checkFitsModel(ds, [784], 'evalData'),
    rejects(/^evalData: x samples have shape \[28, 28\] but the model expects \[784\]/, 'evalData'),
  );
  assert.throws(() => checkFitsModel(ds, [28, 28, 1], 'data'), rejects(/expects \[28, 28, 1\]/));
});

test('seeded PRNG and shuffles are deterministic and well spread', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = range(1000).map(() => a());
  assert.deepEqual(
    xs,
    range(1000).map(() => b()),
  );
  assert.ok(xs.every((v) => v >= 0 && v < 1));
  assert.ok(Math.abs(xs.reduce((s, v) => s + v, 0) / 1000 - 0.5) < 0.05);
  const p = shuffledIndices(100, 7);
  assert.deepEqual(
    [...p].sort((u, v) => u - v),
    range(100),
  );
  assert.deepEqual([...p], [...shuffledIndices(100, 7)]);
  assert.notDeepEqual([...p], [...shuffledIndices(100, 8)]);
  assert.notDeepEqual([...p], range(100));
});

test('splitHoldout is seeded, disjoint and complete; takeSamples keeps rows and classes', async () => {
  const n = 50;
  const ds = await loadDataset(
    npz({
      x: npy('<f4', [n, 2], range(2 * n)),
      y: npy(
        '<i4',
        [n],
        range(n).map((i) => i % 5),
      ),
    }),
  );
  const { train, evaluation } = splitHoldout(ds, 0.2, 3);
  assert.equal(evaluation.n, 10);
  assert.equal(train.n, 40);
  const ids = (d: typeof ds) => range(d.n).map((i) => d.x[i * 2] / 2); // row index recovered from x
  assert.deepEqual(
    [...ids(train), ...ids(evaluation)].sort((a, b) => a - b),
    range(n),
  );
  assert.deepEqual(ids(evaluation), ids(splitHoldout(ds, 0.2, 3).evaluation));
  assert.notDeepEqual(ids(evaluation), ids(splitHoldout(ds, 0.2, 4).evaluation));
  assert.ok(range(evaluation.n).every((i) => evaluation.y![i] === ids(evaluation)[i] % 5));
  assert.equal(evaluation.classes, 5);

  const picked = takeSamples(ds, [4, 0, 4]);
  assert.deepEqual([...picked.x], [8, 9, 0, 1, 8, 9]);
  assert.deepEqual([...picked.y!], [4, 0, 4]);
  assert.throws(() => takeSamples(ds, [n]), RangeError);
  assert.equal(splitHoldout(ds, 0.001, 1).evaluation.n, 1); // at least one sample held out
  const one = takeSamples(ds, [0]);
  assert.throws(() => splitHoldout(one, 0.5, 0), rejects(/cannot hold out/));
});
