// The inspector sandbox's mechanics, with stand-in child scripts that misbehave on purpose (hang,
// eat memory, crash, fail with an InputError): each blow-up is a 422 naming the file, the child is
// replaced, never reused, and the pool keeps serving. The real child (workers/inspector.ts) is
// exercised by the API tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InspectorPool, type InspectLimits } from '../../src/api/inspector.js';
import { InputError } from '../../src/errors.js';

const LIMITS: InspectLimits = { maxParams: 1e6, maxLayers: 100, maxDepth: 50, maxUnzippedBytes: 1e6, maxCompressionRatio: 100 };

// Answers each task by what its path says: its pid, a hang, a memory hog, a crash or an InputError.
const CHILD = `
process.on('disconnect', () => process.exit(0));
process.on('message', ({ id, task }) => {
  const what = task.path;
  if (what === 'hang') { for (;;) {} }
  if (what === 'hog') { const keep = []; for (;;) keep.push(Buffer.alloc(64 << 20, 1)); }
  if (what === 'crash') process.abort();
  if (what === 'bad') return process.send({ id, ok: false, error: { input: true, message: 'file: bad', field: 'file', status: 422 } });
  if (what === 'big') return process.send({ id, ok: false, error: { input: true, message: 'file: too big', field: 'file', status: 413 } });
  if (what === 'bug') return process.send({ id, ok: false, error: { input: false, message: 'TypeError: oops' } });
  setTimeout(() => process.send({ id, ok: true, result: { pid: process.pid } }), Number(what) || 0);
});
process.send({ ready: true });
`;

let dir: string;
let script: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lopper-inspector-'));
  script = join(dir, 'child.mjs');
  await writeFile(script, CHILD);
});
after(() => rm(dir, { recursive: true, force: true }));

const pool = (concurrency = 1) => new InspectorPool({ concurrency, timeoutMs: 1500, memoryMb: 256, script });
const pidOf = async (p: InspectorPool) => (await p.inspectDataset<{ pid: number }>('0', 'file', LIMITS)).pid;
const isInputError = (status: number, pattern: RegExp) => (e: unknown) =>
  e instanceof InputError && e.field === 'file' && e.status === status && pattern.test(e.message);

test('a healthy child is reused; an InputError from it keeps it', async () => {
  const p = pool();
  try {
    const first = await pidOf(p);
    assert.equal(await pidOf(p), first);
    await assert.rejects(p.inspectDataset('bad', 'file', LIMITS), isInputError(422, /bad/));
    await assert.rejects(p.inspectDataset('big', 'file', LIMITS), isInputError(413, /too big/));
    assert.equal(await pidOf(p), first);
  } finally {
    await p.close();
  }
});

test('a hang is cut at the deadline and the child replaced', async () => {
  const p = pool();
  try {
    const first = await pidOf(p);
    const t0 = Date.now();
    await assert.rejects(p.inspectDataset('hang', 'file', LIMITS), isInputError(422, /did not finish within 1500 ms/));
    assert.ok(Date.now() - t0 < 5000);
    const next = await pidOf(p);
    assert.notEqual(next, first);
    assert.throws(() => process.kill(first, 0), /ESRCH/, 'the hung child is gone');
  } finally {
    await p.close();
  }
});

test('a memory hog is killed at the memory cap, a crash is reported, a bug is not blamed on the file', async () => {
  const p = pool();
  try {
    await assert.rejects(p.inspectDataset('hog', 'file', LIMITS), isInputError(422, /more than 256 MB|out of memory/));
    await assert.rejects(p.inspectDataset('crash', 'file', LIMITS), isInputError(422, /stopped \(SIGABRT\)/));
    await assert.rejects(p.inspectDataset('bug', 'file', LIMITS), (e: Error) => !(e instanceof InputError) && /oops/.test(e.message));
    assert.ok(await pidOf(p));
  } finally {
    await p.close();
  }
});

test('tasks beyond the concurrency wait their turn; a blown-up child makes room for the next', async () => {
  const p = pool(2);
  try {
    const results = await Promise.allSettled([
      p.inspectDataset<{ pid: number }>('300', 'file', LIMITS),
      p.inspectDataset('hang', 'file', LIMITS),
      p.inspectDataset<{ pid: number }>('0', 'file', LIMITS),
      p.inspectDataset<{ pid: number }>('0', 'file', LIMITS),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.ok(p.size <= 2);
  } finally {
    await p.close();
  }
  assert.equal(p.size, 0);
});
