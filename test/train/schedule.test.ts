import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineLr } from '../../src/train/schedule.js';

test('cosineLr: base at step 0, min at the end, mean at the midpoint', () => {
  assert.equal(cosineLr(0, 100, 1.5e-5), 1.5e-5);
  assert.ok(Math.abs(cosineLr(100, 100, 1.5e-5)) < 1e-20);
  assert.ok(Math.abs(cosineLr(100, 100, 1e-3, 1e-5) - 1e-5) < 1e-15);
  assert.ok(Math.abs(cosineLr(50, 100, 1e-3, 1e-5) - (1e-3 + 1e-5) / 2) < 1e-15);
});

test('cosineLr: decreases monotonically', () => {
  let prev = Infinity;
  for (let s = 0; s <= 40; s++) {
    const lr = cosineLr(s, 40, 0.1);
    assert.ok(lr <= prev);
    prev = lr;
  }
});
