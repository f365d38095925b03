// Trains a small seeded MLP classifier with plain tfjs (Adam, cross-entropy): the model that the
// example, the tests and the results script prune.
import * as tf from '@tensorflow/tfjs';

export interface MlpSpec {
  inputSize: number;
  hidden: number[];
  classes: number;
  activation?: 'relu' | 'gelu' | 'tanh';
  dropout?: number;
  seed?: number;
}

export function buildMlp(spec: MlpSpec): tf.Sequential {
  const seed = spec.seed ?? 1;
  const model = tf.sequential();
  spec.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: spec.activation ?? 'relu',
        inputShape: i === 0 ? [spec.inputSize] : undefined,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
        name: `fc${i + 1}`,
      }),
    );
    if (spec.dropout) model.add(tf.layers.dropout({ rate: spec.dropout, seed: seed + i, name: `dropout${i + 1}` }));
  });
  model.add(
    tf.layers.dense({
      units: spec.classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }),
      name: 'classifier',
    }),
  );
  return model;
}

export async function trainMlp(
  spec: MlpSpec,
  data: { x: Float32Array; y: Int32Array; n: number },
  epochs: number,
  batchSize = 64,
): Promise<tf.Sequential> {
  const model = buildMlp(spec);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor2d(data.x, [data.n, spec.inputSize]);
  const ys = tf.tensor1d(data.y, 'float32');
  await model.fit(xs, ys, { epochs, batchSize, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  return model;
}
