// Range header parsing for artifact downloads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../../src/api/range.js';

test('Range headers: single ranges, suffixes, open ends, ignored and unsatisfiable ones', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', range: { start: 0, end: 9 } });
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  assert.deepEqual(parseRange('bytes=50-500', 100), { kind: 'partial', range: { start: 50, end: 99 } });
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' });
  assert.deepEqual(parseRange('items=0-1', 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
});
