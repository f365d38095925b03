import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectKept } from '../../src/vbp/ranking.js';

describe('selectKept', () => {
  const scores = [Float64Array.from([5, 1, 3, 0.5]), Float64Array.from([0.1, 0.2, 9, 8, 7, 6])];

  it('global ranking removes ceil(p·total) lowest scores across blocks', () => {
    const kept = selectKept(scores, 0.4, 'global'); // ceil(4) = 4 removed: 0.1, 0.2, 0.5, 1
    assert.deepEqual(
      kept.map((k) => Array.from(k)),
      [
        [0, 2],
        [2, 3, 4, 5],
      ],
    );
  });

  it('keeps at least one neuron per block', () => {
    const kept = selectKept([Float64Array.from([0, 0, 0]), Float64Array.from([5, 6])], 0.8, 'global');
    assert.deepEqual(
      kept.map((k) => k.length),
      [1, 1],
    );
  });

  it('per-block scope applies the ratio inside each block', () => {
    const kept = selectKept(scores, 0.5, 'per-block');
    assert.deepEqual(
      kept.map((k) => Array.from(k)),
      [
        [0, 2],
        [2, 3, 4],
      ],
    );
  });

  it('ratio 0 keeps everything', () => {
    assert.deepEqual(
      selectKept(scores, 0, 'global').map((k) => k.length),
      [4, 6],
    );
  });
});
