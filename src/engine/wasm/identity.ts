// Identity: the stock wasm kernel copies the tensor. tfjs calls it for every tensor a gradient
// saves (engine.saveTensorsForBackwardMode clones inputs/outputs while the tape records) and in
// Layers' Add and pass-through outputs: ~450 full-size copies per tiny-ViT training step. Tensor
// data is immutable in tfjs (variables switch to new data on assign), so, as the cpu and webgpu
// backends do, the clone can share the data and count one more reference. (The fused kernels'
// bias checks read a per-buffer shape record that sharing can leave stale: see fused-bias.ts.)
import { type Info, type KernelArgs, replaceKernel, restoreKernel, stockKernel, view } from './registry.js';

function identity(args: KernelArgs): Info {
  const x = args.inputs.x!;
  if (x.dtype === 'string') return stockKernel('Identity')(args);
  return view(args.backend, x, x.shape.slice());
}

export function registerIdentity(): void {
  replaceKernel('Identity', () => identity);
}

export function restoreIdentity(): void {
  restoreKernel('Identity');
}
