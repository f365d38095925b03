// The distillation objective for fine-tuning a pruned student against its unpruned teacher:
// distillWeight · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − distillWeight) · CE(labels, s).
import * as tf from '@tensorflow/tfjs';

// Probabilities are clipped before the log so a saturated softmax (exact 0 in float32) gives a
// large finite logit instead of −∞, which would make the KL term NaN.
const PROB_EPSILON = 1e-7;

// Wrappers whose inner layer decides the output activation (per-token classifiers).
const WRAPPERS = new Set(['TimeDistributed', 'Bidirectional']);

function isSoftmaxLayer(layer: tf.layers.Layer): boolean {
  const className = layer.getClassName();
  if (className === 'Softmax') return true;
  if (WRAPPERS.has(className)) {
    const inner = (layer as unknown as { layer?: tf.layers.Layer }).layer;
    return inner != null && isSoftmaxLayer(inner);
  }
  // Dense, Conv*, Activation, … all serialise their activation by name.
  return layer.getConfig().activation === 'softmax';
}

/** True when the model's (first) output is a softmax, i.e. it emits probabilities, not logits. */
export function outputsAreProbabilities(model: tf.LayersModel): boolean {
  const last = model.outputs[0]?.sourceLayer ?? model.layers[model.layers.length - 1];
  return last != null && isSoftmaxLayer(last as tf.layers.Layer);
}

/**
 * Logits from model outputs. For probabilities, log p differs from the true logits only by a
 * per-row constant, which softmax (hence the KD and CE terms) ignores, so log p is as good.
 */
export function toLogits(outputs: tf.Tensor, areProbabilities: boolean): tf.Tensor {
  if (!areProbabilities) return outputs;
  return tf.tidy(() => tf.log(tf.clipByValue(outputs, PROB_EPSILON, 1)));
}

export interface DistillOptions {
  temperature: number;
  distillWeight: number;
}

/**
 * Scalar loss, averaged over every row of the last (class) axis: the batch for [b, k] outputs,
 * batch × tokens for [b, tokens, k]. `labels` holds one class index per such row (row-major);
 * without labels the loss is the KD term alone, whatever distillWeight says.
 */
export function distillationLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor | null,
  { temperature, distillWeight }: DistillOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const k = studentLogits.shape[studentLogits.rank - 1];
    const s = tf.reshape(studentLogits, [-1, k]);
    const t = tf.reshape(teacherLogits, [-1, k]);
    const kdWeight = labels ? distillWeight : 1;
    let loss: tf.Scalar = tf.scalar(0);
    if (kdWeight > 0) {
      const logPs = tf.logSoftmax(tf.div(s, temperature));
      const logPt = tf.logSoftmax(tf.div(t, temperature));
      const kl = tf.mean(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), -1));
      // T² keeps the gradient scale of the soft term independent of T (Hinton et al.).
      loss = tf.add(loss, tf.mul(kl, kdWeight * temperature * temperature));
    }
    if (labels && distillWeight < 1) {
      if (labels.size !== s.shape[0]) {
        throw new Error(`distillationLoss: ${labels.size} labels for ${s.shape[0]} output rows`);
      }
      const oneHot = tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), k);
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(s)), -1)));
      loss = tf.add(loss, tf.mul(ce, 1 - distillWeight));
    }
    return loss;
  });
}
