// Fine-tuning needs the backward kernel of every layer on the chosen backend, and some backends
// lack some (tfjs-backend-wasm 4.22 has no DepthwiseConv2dNativeBackpropFilter/Input, for one;
// tfjs has no gradient for dilated Conv2D anywhere). Finding that out after statistics, pruning and
// evaluation wastes the job and fails it mid-way, so the pipeline runs one forward/backward pass
// on a single zero sample first and turns a failure into an InputError naming what is missing.
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.js';

/** Layer classes whose backward pass needs kernels beyond matmul/elementwise ones, by kernel. */
const KERNEL_LAYERS: Record<string, string[]> = {
  Conv2DBackpropFilter: ['Conv1D', 'Conv2D', 'Conv2DTranspose', 'SeparableConv2D'],
  Conv2DBackpropInput: ['Conv1D', 'Conv2D', 'SeparableConv2D'],
  DepthwiseConv2dNativeBackpropFilter: ['DepthwiseConv2D', 'SeparableConv2D'],
  DepthwiseConv2dNativeBackpropInput: ['DepthwiseConv2D', 'SeparableConv2D'],
};

/** Throws InputError when `model` cannot be trained on the current backend. */
export function checkTrainable(model: tf.LayersModel, sampleShape: number[]): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (vars.length === 0) return;
  try {
    tf.tidy(() => {
      const x = tf.zeros([1, ...sampleShape]);
      // Inference mode: the same backward kernels are needed, and training mode would update the
      // original model's BatchNormalization moving statistics with this dummy sample.
      const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar, vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    const backend = tf.getBackend();
    const missing = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec(message);
    if (missing) {
      const classes = KERNEL_LAYERS[missing[1]] ?? [];
      const layers = model.layers.filter((l) => classes.includes(l.getClassName())).map((l) => `${l.name} (${l.getClassName()})`);
      throw new InputError(
        'model',
        `fine-tuning this model needs the ${missing[1]} kernel, which the ${missing[2]} backend lacks` +
          `${layers.length ? ` (gradient of ${layers.join(', ')})` : ''}; prune without fine-tuning (epochs 0) or use another backend`,
      );
    }
    throw new InputError('model', `fine-tuning cannot compute this model's gradients on the ${backend} backend: ${message}`);
  }
}
