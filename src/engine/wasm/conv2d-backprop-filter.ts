// Conv2DBackpropFilter: the gradient of a Conv2D kernel, which tfjs-backend-wasm lacks, so that
// fine-tuning any model with a Conv2D layer (a ViT's patch projection, a ConvNeXt's 1×1
// pointwise MLP) failed on wasm with "Kernel 'Conv2DBackpropFilter' not registered".
// dW[kh, kw, ci, co] = Σ_{b,oh,ow} x[b, oh·sh + kh·dh − top, ow·sw + kw·dw − left, ci] · dy[b, oh, ow, co]
// computed as im2col + one matmul: cols [M = b·oh·ow, fh·fw·ci] (zeros where the window covers
// padding), dW = colsᵀ · dy through the registered BatchMatMul kernel. A 1×1 stride-1 unpadded
// convolution needs no cols: x itself is [M, ci]. NHWC only (tfjs-layers convolves in NHWC).
import * as tf from '@tensorflow/tfjs';
import { type Info, type KernelArgs, release, view, withShape } from './registry.js';

const NAME = 'Conv2DBackpropFilter';

function matMulTransposeA(args: KernelArgs, a: Info, b: Info): Info {
  const matmul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc as unknown as (a: KernelArgs) => Info;
  return matmul({ inputs: { a, b }, backend: args.backend, attrs: { transposeA: true, transposeB: false } });
}

function conv2DBackpropFilter(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const dy = inputs.dy!;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat === 'NCHW') throw new Error(`${NAME} on wasm supports NHWC only`);
  const c = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = c;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  const m = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const outShape = [filterHeight, filterWidth, inChannels, outChannels];
  const dy3 = view(backend, dy, [1, m, outChannels]);
  const pointwise =
    filterHeight === 1 &&
    filterWidth === 1 &&
    strideHeight === 1 &&
    strideWidth === 1 &&
    top === 0 &&
    left === 0 &&
    outHeight === inHeight &&
    outWidth === inWidth;
  let cols: Info;
  if (pointwise) {
    cols = view(backend, x, [1, m, k]);
  } else {
    cols = backend.makeOutput([1, m, k], 'float32');
    // Views are taken after makeOutput: an allocation can grow (and move) the wasm heap.
    const src = backend.typedArrayFromHeap(x) as Float32Array;
    const dst = backend.typedArrayFromHeap(cols) as Float32Array;
    let row = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        for (let ow = 0; ow < outWidth; ow++, row++) {
          let o = row * k;
          for (let kh = 0; kh < filterHeight; kh++) {
            const ih = oh * strideHeight - top + kh * dilationHeight;
            for (let kw = 0; kw < filterWidth; kw++, o += inChannels) {
              const iw = ow * strideWidth - left + kw * dilationWidth;
              if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
                for (let ci = 0; ci < inChannels; ci++) dst[o + ci] = 0;
              } else {
                // An element loop: subarray()+set() per pixel costs more than the copy for few channels.
                const s = ((b * inHeight + ih) * inWidth + iw) * inChannels;
                for (let ci = 0; ci < inChannels; ci++) dst[o + ci] = src[s + ci];
              }
            }
          }
        }
      }
    }
  }
  const product = matMulTransposeA(args, cols, dy3); // [1, k, outChannels]
  release(backend, cols, dy3);
  return withShape(backend, product, outShape);
}

let config: tf.KernelConfig | null = null;

/** Registers the kernel on wasm unless one is registered already (e.g. by a later tfjs). */
export function registerConv2DBackpropFilter(): void {
  if (tf.getKernel(NAME, 'wasm')) return;
  config = { kernelName: NAME, backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc };
  tf.registerKernel(config);
}

export function restoreConv2DBackpropFilter(): void {
  if (config && tf.getKernel(NAME, 'wasm') === config) tf.unregisterKernel(NAME, 'wasm');
  config = null;
}
