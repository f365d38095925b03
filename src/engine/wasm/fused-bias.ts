// FusedConv2D and FusedDepthwiseConv2D read their bias's rank from the wasm backend's per-buffer
// record, not from the tensor handed in. Since clones share buffers (identity.ts), that record can
// hold another view's shape of the same size; these wrappers make it match before delegating.
import { type KernelArgs, replaceKernel, restoreKernel, syncRecordShape } from './registry.js';

const KERNELS = ['FusedConv2D', 'FusedDepthwiseConv2D'] as const;

export function registerFusedBias(): void {
  for (const name of KERNELS) {
    replaceKernel(name, (stock) => (args: KernelArgs) => {
      syncRecordShape(args.backend, args.inputs.bias);
      return stock(args);
    });
  }
}

export function restoreFusedBias(): void {
  for (const name of KERNELS) restoreKernel(name);
}
