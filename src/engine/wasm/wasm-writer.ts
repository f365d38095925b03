// A minimal WebAssembly binary writer: just the instructions Lopper's hand-written SIMD kernels
// (simd-bmm.ts, erf.ts) use. Kernels import tfjs-backend-wasm's memory (env.memory) and work on
// tensors in place.
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
export const str = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

export const I32 = 0x7f;
export const V128 = 0x7b;
export const F32 = 0x7d;
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  geu: [0x4f],
  gtu: [0x4b],
  f32load: (offset = 0) => [0x2a, 2, ...uleb(offset)],
  f32store: (offset = 0) => [0x38, 2, ...uleb(offset)],
  f32add: [0x92],
  f32mul: [0x94],
  f32zero: [0x43, 0, 0, 0, 0],
  vload: (offset = 0) => [0xfd, 0x00, 0, ...uleb(offset)],
  vstore: (offset = 0) => [0xfd, 0x0b, 0, ...uleb(offset)],
  splat: [0xfd, 0x13],
  vadd: [0xfd, ...uleb(0xe4)],
  vmul: [0xfd, ...uleb(0xe6)],
  vzero: [0xfd, 0x0c, ...new Array(16).fill(0)],
  vsub: [0xfd, ...uleb(0xe5)],
  vdiv: [0xfd, ...uleb(0xe7)],
  // f32x4.pmin/pmax (b < a ? b : a, a < b ? b : a): one minps/maxps, where V8's NaN-exact
  // min/max take several instructions (measured 4x slower). With a constant b, a NaN a is kept.
  vpmin: [0xfd, ...uleb(0xea)],
  vpmax: [0xfd, ...uleb(0xeb)],
  vgt: [0xfd, ...uleb(0x44)], // f32x4.gt: all-ones lanes where a > b
  vabs: [0xfd, ...uleb(0xe0)],
  vsqrt: [0xfd, ...uleb(0xe3)],
  vbitselect: [0xfd, ...uleb(0x52)], // (a, b, mask): a's bits where mask is set, else b's
  vnearest: [0xfd, ...uleb(0x6a)], // f32x4.nearest (round half to even)
  vtruncSat: [0xfd, ...uleb(0xf8)], // i32x4.trunc_sat_f32x4_s
  i32x4add: [0xfd, ...uleb(0xae)],
  i32x4sub: [0xfd, ...uleb(0xb1)],
  i32x4shl: [0xfd, ...uleb(0xab)], // (v128, i32 count)
  i32x4shrS: [0xfd, ...uleb(0xac)],
  f32const: (v: number) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)],
  f32div: [0x95],
  f32sqrt: [0x91],
  f32fromI32: [0xb3], // f32.convert_i32_u
  f32fromBits: [0xbe], // f32.reinterpret_i32
  vextract: (lane: number) => [0xfd, 0x1f, lane], // f32x4.extract_lane
  block: [0x02, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  loop: [0x03, 0x40],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
};


/**
 * Four-lane constants as immutable v128 globals of the module. V8 builds a v128.const with three
 * instructions wherever it appears, so a polynomial's constants inside a loop cost more than its
 * arithmetic; a global is one load (measured: erf over 1M floats 1.96 → 1.25 ms, same bits).
 */
export class Constants {
  private readonly values: number[][] = [];

  /** global.get of four copies of the float c. */
  f32(c: number): number[] {
    return this.get([...new Uint8Array(new Float32Array([c, c, c, c]).buffer)]);
  }

  /** global.get of four copies of the integer c. */
  i32(c: number): number[] {
    return this.get([...new Uint8Array(new Int32Array([c, c, c, c]).buffer)]);
  }

  private get(bytes: number[]): number[] {
    let index = this.values.findIndex((v) => v.every((b, i) => b === bytes[i]));
    if (index < 0) index = this.values.push(bytes) - 1;
    return [0x23, ...uleb(index)];
  }

  /** The global section (id 6), or nothing when no constant was used. */
  section(): number[] {
    return this.values.length ? section(6, vec(this.values.map((bytes) => [V128, 0x00, 0xfd, 0x0c, ...bytes, 0x0b]))) : [];
  }
}

/** A module importing env.memory and exporting one function `name` of `params` i32 parameters. */
export function moduleWithFunction(name: string, params: number, locals: [number, number][], body: number[], constants?: Constants): Uint8Array {
  const func = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(new Array(params).fill([I32])), 0x00]])), // type: (params × i32) -> ()
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page
    ...section(3, vec([[0x00]])), // one function of type 0
    ...(constants?.section() ?? []),
    ...section(7, vec([[...str(name), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

/** `for (i = 0; i < limit; i++) body` as block/loop. */
export const forLoop = (i: number, limit: number[], body: number[]): number[] => [
  ...op.i32(0), ...op.set(i),
  ...op.block, ...op.loop,
  ...op.get(i), ...limit, ...op.geu, ...op.brIf(1),
  ...body,
  ...op.get(i), ...op.i32(1), ...op.add, ...op.set(i),
  ...op.br(0), ...op.end, ...op.end,
];

/** Compiles once per process and instantiates once per memory; null where WebAssembly SIMD is missing. */
export function kernelLoader<F>(bytes: () => Uint8Array, name: string): (memory: WebAssembly.Memory) => F | null {
  let compiled: WebAssembly.Module | null | undefined;
  const instances = new WeakMap<WebAssembly.Memory, F>();
  return (memory) => {
    const known = instances.get(memory);
    if (known) return known;
    if (compiled === undefined) {
      try {
        compiled = new WebAssembly.Module(bytes() as Uint8Array<ArrayBuffer>);
      } catch {
        compiled = null;
      }
    }
    if (!compiled) return null;
    const fn = new WebAssembly.Instance(compiled, { env: { memory } }).exports[name] as F;
    instances.set(memory, fn);
    return fn;
  };
}
