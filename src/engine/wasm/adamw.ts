// Lopper's AdamW update op (src/engine/ops/adamw-update.ts) as one wasm kernel: a hand-assembled
// WebAssembly SIMD loop reads w, g, m, v (and the decay mask) once and writes w', m', v', with
// the portable path's operations in the portable path's order, so the results are the same bits.
import { ADAMW_UPDATE } from '../ops/adamw-update.js';
import { type Info, type KernelArgs, addKernel, memoryOf, offsetOf, removeKernel, sizeOf } from './registry.js';
import { I32, V128, forLoop, kernelLoader, moduleWithFunction, op } from './wasm-writer.js';

// Parameters: w, g, m, v, mask, outW, outM, outV, vectors, then the float32 bits of
// β1, 1−β1, β2, 1−β2, step, ε, decay.
const P = { W: 0, G: 1, M: 2, V: 3, MASK: 4, OW: 5, OM: 6, OV: 7, COUNT: 8, SCALARS: 9 };
const SCALARS = ['beta1', 'c1', 'beta2', 'c2', 'step', 'eps', 'decay'] as const;
const PARAMS = P.SCALARS + SCALARS.length;

function moduleBytes(withDecay: boolean): () => Uint8Array {
  return () => {
    let n = PARAMS;
    const I = n++;
    const OFF = n++;
    const [G, M, V, W] = [n++, n++, n++, n++];
    const K = Object.fromEntries(SCALARS.map((name) => [name, n++])) as Record<(typeof SCALARS)[number], number>;
    const at = (base: number) => [...op.get(base), ...op.get(OFF), ...op.add];
    const init = SCALARS.flatMap((name, i) => [...op.get(P.SCALARS + i), ...op.f32fromBits, ...op.splat, ...op.set(K[name])]);
    const body = forLoop(I, op.get(P.COUNT), [
      ...op.get(I), ...op.i32(16), ...op.mul, ...op.set(OFF),
      ...at(P.G), ...op.vload(), ...op.set(G),
      // m' = m·β1 + g·(1−β1)
      ...at(P.OM), ...at(P.M), ...op.vload(), ...op.get(K.beta1), ...op.vmul, ...op.get(G), ...op.get(K.c1), ...op.vmul, ...op.vadd, ...op.set(M), ...op.get(M), ...op.vstore(),
      // v' = v·β2 + g²·(1−β2)
      ...at(P.OV), ...at(P.V), ...op.vload(), ...op.get(K.beta2), ...op.vmul, ...op.get(G), ...op.get(G), ...op.vmul, ...op.get(K.c2), ...op.vmul, ...op.vadd, ...op.set(V), ...op.get(V), ...op.vstore(),
      // w' = (w − (w·mask)·decay) − (m'/(√v' + ε))·step
      ...at(P.OW),
      ...at(P.W), ...op.vload(), ...op.set(W), ...op.get(W),
      ...(withDecay ? [...op.get(W), ...at(P.MASK), ...op.vload(), ...op.vmul, ...op.get(K.decay), ...op.vmul, ...op.vsub] : []),
      ...op.get(M), ...op.get(V), ...op.vsqrt, ...op.get(K.eps), ...op.vadd, ...op.vdiv, ...op.get(K.step), ...op.vmul, ...op.vsub,
      ...op.vstore(),
    ]);
    return moduleWithFunction('adamw', PARAMS, [[2, I32], [4 + SCALARS.length, V128]], [...init, ...body, ...op.end]);
  };
}

type Fn = (...args: number[]) => void;
const simdAdamW = { decay: kernelLoader<Fn>(moduleBytes(true), 'adamw'), plain: kernelLoader<Fn>(moduleBytes(false), 'adamw') };

const f = Math.fround;
const bits = (x: number) => new Int32Array(new Float32Array([x]).buffer)[0];

/** The same steps for element i in float32, for the last n mod 4 elements (and the tests). */
export function adamwElement(w: number, g: number, m: number, v: number, mask: number, s: { beta1: number; beta2: number; stepSize: number; epsilon: number; decay: number }): [number, number, number] {
  const m2 = f(f(m * f(s.beta1)) + f(g * f(1 - s.beta1)));
  const v2 = f(f(v * f(s.beta2)) + f(f(g * g) * f(1 - s.beta2)));
  const decayed = s.decay > 0 ? f(w - f(f(w * mask) * f(s.decay))) : w;
  const update = f(f(m2 / f(f(Math.sqrt(v2)) + f(s.epsilon))) * f(s.stepSize));
  return [f(decayed - update), m2, v2];
}

function adamwKernel(args: KernelArgs): Info[] {
  const { inputs, backend, attrs } = args;
  const { w, g, m, v, mask } = inputs as Record<string, Info>;
  const s = attrs as { beta1: number; beta2: number; stepSize: number; epsilon: number; decay: number };
  const outs = [w, m, v].map((t) => backend.makeOutput(t.shape.slice(), 'float32'));
  const n = sizeOf(w.shape);
  const withDecay = mask != null && s.decay > 0;
  const kernel = (withDecay ? simdAdamW.decay : simdAdamW.plain)(memoryOf(backend));
  const vectors = kernel ? n >> 2 : 0;
  if (kernel) {
    const o = (t: Info | undefined) => (t ? offsetOf(backend, t) : 0);
    kernel(o(w), o(g), o(m), o(v), o(mask), o(outs[0]), o(outs[1]), o(outs[2]), vectors,
      ...[s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.stepSize, s.epsilon, s.decay].map((x) => bits(x)));
  }
  if (n > vectors * 4) {
    const h = (t: Info) => backend.typedArrayFromHeap(t);
    const [ws, gs, ms, vs] = [w, g, m, v].map(h);
    const masks = withDecay ? h(mask) : null;
    const [ow, om, ov] = outs.map(h);
    for (let i = vectors * 4; i < n; i++) {
      [ow[i], om[i], ov[i]] = adamwElement(ws[i], gs[i], ms[i], vs[i], masks ? masks[i] : 0, withDecay ? s : { ...s, decay: 0 });
    }
  }
  return outs;
}

export function registerAdamW(): void {
  addKernel(ADAMW_UPDATE, adamwKernel as unknown as (a: KernelArgs) => Info);
}

export function restoreAdamW(): void {
  removeKernel(ADAMW_UPDATE);
}
