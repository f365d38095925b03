// Lopper's AdamW update op (src/engine/ops/adamw-update.ts) as one wasm kernel: a WebAssembly
// SIMD loop (wat/adamw.wat) reads w, g, m, v (and the decay mask) once and writes w', m', v', with
// the portable path's operations in the portable path's order, so the results are the same bits.
import { ADAMW_UPDATE } from '../ops/adamw-update.js';
import { kernel } from './modules.js';
import { type Info, type KernelArgs, addKernel, memoryOf, offsetOf, removeKernel, sizeOf } from './registry.js';

type Fn = (
  w: number,
  g: number,
  m: number,
  v: number,
  mask: number,
  outW: number,
  outM: number,
  outV: number,
  vectors: number,
  decays: number,
  beta1: number,
  c1: number,
  beta2: number,
  c2: number,
  step: number,
  eps: number,
  decay: number,
) => void;
const simdAdamW = kernel<Fn>('adamw', 'adamw');

const f = Math.fround;

/** The same steps for element i in float32, for the last n mod 4 elements (and the tests). */
export function adamwElement(
  w: number,
  g: number,
  m: number,
  v: number,
  mask: number,
  s: { beta1: number; beta2: number; stepSize: number; epsilon: number; decay: number },
): [number, number, number] {
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
  const simd = simdAdamW(memoryOf(backend));
  const vectors = simd ? n >> 2 : 0;
  if (simd) {
    const o = (t: Info | undefined) => (t ? offsetOf(backend, t) : 0);
    simd(
      o(w),
      o(g),
      o(m),
      o(v),
      o(mask),
      o(outs[0]),
      o(outs[1]),
      o(outs[2]),
      vectors,
      withDecay ? 1 : 0,
      s.beta1,
      1 - s.beta1,
      s.beta2,
      1 - s.beta2,
      s.stepSize,
      s.epsilon,
      s.decay,
    );
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
