// Seeded randomness for the fuzz suite: mulberry32, with a per-case seed derived from
// (suite seed, class, case index) so any single case can be rebuilt on its own (LOPPER_FUZZ_CASE).

/** 32-bit FNV-1a of a string: turns a class name into part of a seed. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** The seed of case `index` of `cls`: independent of how many cases come before it. */
  static forCase(seed: number, cls: string, index: number): Rng {
    return new Rng(hash32(`${seed}:${cls}:${index}`));
  }

  /** mulberry32: a float in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of items) {
      if ((r -= w) < 0) return v;
    }
    return items[items.length - 1][1];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** A short identifier-ish string. */
  word(min = 1, max = 12): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789_';
    let s = '';
    for (let i = this.int(min, max); i > 0; i--) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }

  /** Strings a hostile client likes: empty, huge, unicode, control characters, path and prototype tricks. */
  nastyString(): string {
    return this.pick<() => string>([
      () => '',
      () => ' ',
      () => this.word(),
      () => 'x'.repeat(this.pick([256, 1000, 10_000, 100_000])),
      () => '\u0000',
      () => 'a\u0000b',
      () => '\r\n',
      () => '../../etc/passwd',
      () => '..\\..\\windows\\win.ini',
      () => '/etc/passwd',
      () => '%2e%2e%2f',
      () => '__proto__',
      () => 'constructor',
      () => 'prototype',
      () => 'toString',
      () => 'hasOwnProperty',
      () => 'NaN',
      () => 'Infinity',
      () => '-1',
      () => '1e309',
      () => '\u202e\u0645\u0631\u062d\u0628\u0627',
      () => '\ud83d\ude00'.repeat(this.int(1, 50)),
      () => '\ud800', // a lone surrogate
      () => '${jndi:ldap://x}',
      () => "'; DROP TABLE models; --",
      () => '<script>alert(1)</script>',
    ])();
  }
}
