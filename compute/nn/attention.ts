/**
 * Scaled dot-product attention, shared by SASRec's blocks (multi-head, learned positions) and the
 * policy's block (one head, the target as an extra key), in their two uses: whole windows
 * (`attention`: every query against every key, an additive mask hides keys) and one new query per
 * row against a cache of the earlier keys and values (`queryKeyDots` then `attentionWeights`).
 *
 * Scaling by 1/sqrt(d_k) is an option because the simulators multiply by 1/sqrt(d_k) where the
 * policy divides by sqrt(d_k): the two differ in the last bits, and each model's shipped weights
 * and committed results depend on its own order.
 */
import * as tf from '@tensorflow/tfjs';

export interface AttentionOptions {
  /** 'multiply': logits · (1/sqrt(d_k)) (the simulators'); 'divide': logits / sqrt(d_k) (the policy's). */
  scale: 'multiply' | 'divide';
}

/**
 * softmax(scores / sqrt(dk) + mask) over the last axis: the attention weights from raw query·key
 * products `scores` and an additive mask (0 visible, FORBIDDEN hidden; broadcast against `scores`).
 */
export function attentionWeights<T extends tf.Tensor>(scores: T, dk: number, mask: tf.Tensor, opts: AttentionOptions): T {
  const scaled = opts.scale === 'multiply' ? tf.mul(scores, 1 / Math.sqrt(dk)) : tf.div(scores, Math.sqrt(dk));
  return tf.softmax(tf.add(scaled, mask)) as T;
}

/**
 * Attention over whole windows: q [..., Q, dk], k [..., K, dk], v [..., K, dv] and an additive mask
 * broadcast to [..., Q, K] → [..., Q, dv]. `dropout` (training) applies to the weights.
 */
export function attention<T extends tf.Tensor>(q: T, k: T, v: T, mask: tf.Tensor, opts: AttentionOptions & { dropout?: (weights: T) => T }): T {
  const dk = k.shape[k.rank - 1] as number;
  let weights = attentionWeights(tf.matMul(q, k, false, true) as T, dk, mask, opts);
  if (opts.dropout) weights = opts.dropout(weights);
  return tf.matMul(weights, v) as T;
}

/**
 * The query·key products of one new query per row against cached keys: Σ over the last axis of
 * keys ∘ query (the query broadcast over the cache's slot axis). Measured on wasm: this broadcast
 * product beats a batched matrix product for a single query.
 */
export function queryKeyDots(query: tf.Tensor, keys: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(keys, query), -1);
}
