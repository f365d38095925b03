// Finds NaN and ±Infinity among stored float32 or float16 weight values: the values whose exponent
// bits are all ones in either encoding. Tested over 32-bit integer views (float16 two at a time),
// one loop per encoding so that each stays monomorphic: several GB/s.

/** The first NaN or ±Infinity among `count` values stored little-endian at data[offset…], or null. */
export function firstNonFinite(
  data: Uint8Array,
  offset: number,
  count: number,
  format: 'float32' | 'float16',
): { index: number; value: number } | null {
  const width = format === 'float32' ? 4 : 2;
  // A typed view needs aligned bytes; after an odd-sized quantized weight they are copied first.
  const at = data.byteOffset + offset;
  const [buffer, start] = at % width === 0 ? [data.buffer, at] : [data.slice(offset, offset + count * width).buffer, 0];
  if (format === 'float32') {
    const index = firstAllOnes32(new Int32Array(buffer, start, count));
    return index < 0 ? null : { index, value: new Float32Array(buffer, start, count)[index] };
  }
  const words = new Uint16Array(buffer, start, count);
  const index = firstAllOnes16(words);
  if (index < 0) return null;
  return { index, value: words[index] & 0x3ff ? NaN : words[index] & 0x8000 ? -Infinity : Infinity };
}

function firstAllOnes32(words: Int32Array): number {
  for (let i = 0; i < words.length; i++) if ((words[i] & 0x7f800000) === 0x7f800000) return i;
  return -1;
}

function firstAllOnes16(words: Uint16Array): number {
  const one = (i: number) => (words[i] & 0x7c00) === 0x7c00;
  let i = 0;
  if (words.byteOffset % 4) {
    if (!words.length) return -1;
    if (one(0)) return 0;
    i = 1;
  }
  // Two values per 32-bit word: adding 1 to each 5-bit exponent carries into the bit above it
  // only when the exponent is all ones, and the low half's carry stops short of the high half.
  const pairs = new Int32Array(words.buffer, words.byteOffset + 2 * i, (words.length - i) >> 1);
  for (let p = 0; p < pairs.length; p++) {
    if ((((pairs[p] & 0x7c007c00) + 0x04000400) & 0x80008000) !== 0) return one(i + 2 * p) ? i + 2 * p : i + 2 * p + 1;
  }
  const last = i + 2 * pairs.length;
  return last < words.length && one(last) ? last : -1;
}
