/**
 * The layers the simulators (SASRec, GRU4Rec) and the policy are built from, written once. Where
 * the two historically computed the same function in a different order of float operations, the
 * order is an option, so each model keeps its bits (its shipped weights and committed results
 * depend on them): e.g. layer norm's `rsqrt` (the simulators') against `divide` (the policy's).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * a @ b whose gradients are also plain (non-transposed) 2-D products: on wasm a transposed operand
 * sends tf.matMul down a path measured 10x slower (984 ms against 88 ms for 1024x64 @ 64x3706),
 * and tf.matMul's own gradient uses transposed operands.
 */
export const mm = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

export interface LayerNormOptions {
  /** Added to the variance. */
  epsilon: number;
  /**
   * How the centred input is scaled: 'rsqrt' multiplies by rsqrt(variance + ε) (the simulators'),
   * 'divide' divides by sqrt(variance + ε) (the policy's). The two differ in the last bits.
   */
  scale: 'rsqrt' | 'divide';
}

/** Layer normalisation over the last axis with a gain and a bias: (x − mean) / sqrt(var + ε) · gain + bias. */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, opts: LayerNormOptions): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const centred = tf.sub(x, mean);
  const normed = opts.scale === 'rsqrt' ? tf.mul(centred, tf.rsqrt(tf.add(variance, opts.epsilon))) : tf.div(centred, tf.sqrt(tf.add(variance, opts.epsilon)));
  return tf.add(tf.mul(normed, gain), bias);
}

/** Gives a fresh dropout seed per call (from an Rng), or null at inference. */
export type DropoutSeeds = (() => number) | null;

/** Dropout at `rate` with the next seed of `seeds`; the identity at inference (seeds null) or rate 0. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seeds: DropoutSeeds): T {
  return seeds && rate > 0 ? (tf.dropout(x, rate, undefined, seeds()) as T) : x;
}

/**
 * One GRU step from the input's and the state's projections for the reset (r), update (z) and
 * candidate (n) gates, biases included (torch's and cuDNN's formulation: the reset gate scales the
 * state's candidate term):
 *   r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r ∘ h_n),  h' = z ∘ h + (1 − z) ∘ n.
 * How the projections are parametrised (one weight per gate, or one [d × 3d] block split in three)
 * is the caller's.
 */
export function gruCell(
  x: { reset: tf.Tensor2D; update: tf.Tensor2D; candidate: tf.Tensor2D },
  h: { reset: tf.Tensor2D; update: tf.Tensor2D; candidate: tf.Tensor2D },
  state: tf.Tensor2D,
): tf.Tensor2D {
  const reset = tf.sigmoid(tf.add(x.reset, h.reset));
  const update = tf.sigmoid(tf.add(x.update, h.update));
  const candidate = tf.tanh(tf.add(x.candidate, tf.mul(reset, h.candidate)));
  return tf.add(tf.mul(update, state), tf.mul(tf.sub(1, update), candidate)) as tf.Tensor2D;
}
