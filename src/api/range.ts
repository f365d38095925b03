// HTTP Range requests (RFC 9110 §14): one "bytes=" range per request, which is what download
// managers and resumable clients send. Several ranges are answered with the whole file, which
// RFC 9110 allows; an unsatisfiable range is 416.
import type { ByteRange } from '../store/storage.js';

export type RangeResult = { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' }; // unknown unit, multi-range, or malformed: ignore
  let start: number;
  let end: number;
  if (m[1] === '') {
    // "bytes=-N": the last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' }; // invalid range: ignored per RFC 9110
  }
  if (start >= size || size === 0) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}
