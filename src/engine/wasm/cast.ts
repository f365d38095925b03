// Cast. The stock wasm kernel copies even when the dtype does not change, which tfjs-core's
// gradients do on every step (Square's and Mul's gradients cast their saved inputs to float32:
// ~35 full-size copies per tiny-ViT training step); that cast now shares the data, as Identity
// does (see identity.ts). It also converts to bool with a typed-array copy, so 0.5 became false
// and NaN false; tfjs' cpu and webgpu backends give x ≠ 0, and so does this kernel.
import { type Info, type KernelArgs, replaceKernel, restoreKernel, sizeOf, stockKernel, view } from './registry.js';

function cast(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const dtype = attrs.dtype as Info['dtype'];
  if (x.dtype === dtype && dtype !== 'string') return view(backend, x, x.shape.slice());
  if (dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
    const out = backend.makeOutput(x.shape.slice(), 'bool');
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    for (let i = 0, n = sizeOf(x.shape); i < n; i++) dst[i] = src[i] !== 0 ? 1 : 0; // NaN !== 0
    return out;
  }
  return stockKernel('Cast')(args);
}

export function registerCast(): void {
  replaceKernel('Cast', () => cast);
}

export function restoreCast(): void {
  restoreKernel('Cast');
}
