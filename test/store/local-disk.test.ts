// The local-disk store: atomic put with sha256, ranged reads, folder delete.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { LocalDiskStorage } from '../../src/store/local-disk.js';

test('putFile moves the file in and records size and sha256; reads honour ranges', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lopper-store-'));
  try {
    const store = new LocalDiskStorage(root);
    const src = join(root, 'incoming.txt');
    await writeFile(src, 'hello, lopper');
    const obj = await store.putFile('jobs/j1/report.json', src);
    assert.equal(obj.bytes, 13);
    assert.equal(obj.sha256, createHash('sha256').update('hello, lopper').digest('hex'));
    assert.deepEqual((await readdir(root)).sort(), ['jobs'], 'the source was moved, not copied');
    assert.equal(await text(await store.read('jobs/j1/report.json')), 'hello, lopper');
    assert.equal(await text(await store.read('jobs/j1/report.json', { start: 7, end: 12 })), 'lopper');
    await assert.rejects(store.read('jobs/j1/nothing'), /ENOENT/);
    await assert.rejects(store.putFile('../escape', src), /invalid storage key/);
    await store.deleteFolder('jobs/j1');
    await assert.rejects(store.read('jobs/j1/report.json'), /ENOENT/);
    assert.deepEqual(await readdir(join(root, 'jobs')), [], 'the folder itself is gone');
    await store.deleteFolder('jobs/j1'); // a no-op when there is nothing
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
