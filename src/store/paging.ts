// Newest-first pagination over a sorted set. Every member is "<createdAt ms, zero-padded>:<id>" with
// score 0, so lexicographic order is creation order and a cursor (the last member returned) stays
// valid while new items arrive: ZRANGE ... BYLEX REV continues strictly below it.
import { BadCursorError } from '../errors.js';
import type { Redis } from 'ioredis';

export function sortKey(createdAtMs: number, id: string): string {
  return `${String(createdAtMs).padStart(15, '0')}:${id}`;
}

export function idFromSortKey(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

export interface Page {
  ids: string[];
  /** Opaque cursor for the next page, or null when this page reached the end. */
  nextCursor: string | null;
}

function decodeCursor(cursor: string): string {
  const member = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{15}:[A-Za-z0-9_-]{1,64}$/.test(member)) throw new BadCursorError('cursor is not one this API returned');
  return member;
}

export async function pageNewestFirst(redis: Redis, key: string, limit: number, cursor?: string): Promise<Page> {
  const max = cursor ? `(${decodeCursor(cursor)}` : '+';
  // One extra member tells whether another page exists without a second round trip.
  const members = await redis.zrange(key, max, '-', 'BYLEX', 'REV', 'LIMIT', 0, limit + 1);
  const page = members.slice(0, limit);
  const more = members.length > limit;
  return {
    ids: page.map(idFromSortKey),
    nextCursor: more ? Buffer.from(page[page.length - 1], 'utf8').toString('base64url') : null,
  };
}
