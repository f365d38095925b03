// Kernel fixes for tfjs-backend-wasm, registered only on that backend (see docs/performance.md).
// backend.ts calls registerWasmKernels() after importing @tensorflow/tfjs-backend-wasm and before
// tf.setBackend('wasm'); each fix lives in src/engine/wasm/ and delegates to the stock kernel
// for the cases it does not improve.
import { registerTileGradient, restoreTileGradient } from './gradients/tile.js';
import { registerAdamW, restoreAdamW } from './wasm/adamw.js';
import { registerCast, restoreCast } from './wasm/cast.js';
import { registerConv2DBackpropFilter, restoreConv2DBackpropFilter } from './wasm/conv2d-backprop-filter.js';
import { registerErf, restoreErf } from './wasm/erf.js';
import { registerExp, restoreExp } from './wasm/exp.js';
import { registerFusedBias, restoreFusedBias } from './wasm/fused-bias.js';
import { registerGelu, restoreGelu } from './wasm/gelu.js';
import { registerIdentity, restoreIdentity } from './wasm/identity.js';
import { registerLayerNorm, restoreLayerNorm } from './wasm/layer-norm.js';
import { registerMatMul, restoreMatMul } from './wasm/matmul.js';
import { registerSlice, restoreSlice } from './wasm/slice.js';
import { registerSum, restoreSum } from './wasm/sum.js';
import { registerTile, restoreTile } from './wasm/tile.js';
import { registerTranspose, restoreTranspose } from './wasm/transpose.js';

/** The fixes by name, for before/after benchmarks. */
export const WASM_FIXES = {
  matmul: { register: registerMatMul, restore: restoreMatMul },
  transpose: { register: registerTranspose, restore: restoreTranspose },
  tile: { register: registerTile, restore: restoreTile },
  slice: { register: registerSlice, restore: restoreSlice },
  erf: { register: registerErf, restore: restoreErf },
  exp: { register: registerExp, restore: restoreExp },
  gelu: { register: registerGelu, restore: restoreGelu }, // Lopper's GELU op (src/engine/ops/gelu.ts)
  layerNorm: { register: registerLayerNorm, restore: restoreLayerNorm }, // and its layer-norm op
  adamw: { register: registerAdamW, restore: restoreAdamW }, // and AdamW's update (src/engine/ops/adamw-update.ts)
  sum: { register: registerSum, restore: restoreSum },
  // Sharing buffers in Identity (and same-dtype Cast) needs the fused kernels' bias-record fix with it.
  identity: {
    register: () => (registerFusedBias(), registerIdentity(), registerCast()),
    restore: () => (restoreCast(), restoreIdentity(), restoreFusedBias()),
  },
  tileGradient: { register: registerTileGradient, restore: restoreTileGradient },
  conv2dBackpropFilter: { register: registerConv2DBackpropFilter, restore: restoreConv2DBackpropFilter }, // missing on wasm
} as const;

/** Registers every fix (idempotent). Requires @tensorflow/tfjs-backend-wasm to be imported. */
export function registerWasmKernels(): void {
  for (const fix of Object.values(WASM_FIXES)) fix.register();
}

/** Puts the stock tfjs-backend-wasm kernels (and tfjs-core's Tile gradient) back. */
export function unregisterWasmKernels(): void {
  for (const fix of Object.values(WASM_FIXES)) fix.restore();
}
