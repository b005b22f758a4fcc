/**
 * The logits-wide part of the RL loss (docs/design.md §4.1, §4.8) as one op with its closed-form gradient.
 *
 * For M decision terms with raw logits u_i ∈ R^{A} (A = N+1: items and STOP), additive masks m_i
 * (0 allowed, −1e9 forbidden), chosen actions a_i, coefficients c_i and the reference policy's raw
 * logits u^ref_i:
 *
 *   z_i = u_i + m_i,  p_i = softmax(z_i),  lse_i = log Σ_a exp z_ia,  ℓ_i = log p_i(a_i) = z_{i,a_i} − lse_i
 *   KL_i = Σ_a p_ia (log p_ia − log p^ref_ia) = Σ_a p_ia (u_ia − u^ref_ia) − (lse_i − lse^ref_i)
 *   H_i  = −Σ_a p_ia log p_ia = lse_i − Σ_a p_ia u_ia
 *   loss = Σ_i c_i ℓ_i + κ Σ_i KL_i
 *
 * (sums over allowed actions: p = 0 on the others, and the mask cancels in log p − log p^ref), with
 * the gradient with respect to u, in closed form:
 *
 *   ∂ℓ_i/∂u_ib  = [b = a_i] − p_ib
 *   ∂KL_i/∂u_ib = p_ib ((log p_ib − log p^ref_ib) − KL_i)
 *   ∂loss/∂u_ib = c_i [b = a_i] + p_ib (κ (u_ib − u^ref_ib) + α_i),   α_i = −c_i − κ (lse_i − lse^ref_i + KL_i)
 *
 * The RL trainer's loss −(1/N) Σ A_t ℓ_t + (β/N) Σ KL_t is c_i = −A_i/N, κ = β/N. Autodiff through
 * log-softmax, the exact KL and the entropy costs ~40 element-wise passes over the [M × A] logits
 * (each a wasm kernel call); here the softmaxes run on the backend (its vectorised kernel) and
 * the rest is one JS pass per row over u, p and u^ref, which also yields ℓ, KL and H for the logs.
 * Sums are in float64. Tested against the autodiff loss (test/rl-perf.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { LOG_PROB_FLOOR } from '../compute/masks.ts';
import { trainingTerms, type PolicyNetwork, type Trajectories } from './policy.ts';

/** The log-sum-exp of masked logits per row, with the raw logits, read into JS. */
export interface LogSumExpRows {
  readonly rows: number;
  readonly width: number;
  /** Raw logits u [rows × width] (unmasked). */
  readonly logits: Float32Array;
  /** log Σ_a exp(u_a + m_a) per row. */
  readonly lse: Float64Array;
}

/** Softmax statistics of masked logits, read into JS. */
export interface SoftmaxRows extends LogSumExpRows {
  /** p = softmax(u + mask) [rows × width]. */
  readonly probs: Float32Array;
}

/**
 * Reads raw logits u [rows × width] and, with `probs`, p = softmax(u + mask) into JS, with each
 * row's log-sum-exp lse = z_j − log p_j at j = argmax p (exact up to the rounding of p_j, the
 * largest probability: the backend's softmax is vectorised, its exp is not). The argmax (first of
 * equal maxima) and p_j come from the backend, so without `probs` only the logits and two numbers
 * per row are read. Does not dispose `u`.
 */
function readSoftmax(u: tf.Tensor2D, mask: Float32Array, probs: boolean): { logits: Float32Array; lse: Float64Array; probs: Float32Array | null } {
  const [rows, width] = u.shape;
  if (mask.length !== rows * width) throw new Error(`softmaxRows: mask has ${mask.length} values for [${rows} × ${width}] logits`);
  const [pT, jT, maxT] = tf.tidy(() => {
    const p = tf.softmax(tf.add(u, tf.tensor2d(mask, [rows, width])));
    return [p, tf.argMax(p, 1), tf.max(p, 1)];
  });
  const j = jT.dataSync() as Int32Array;
  const pMax = maxT.dataSync() as Float32Array;
  const p = probs ? (pT.dataSync() as Float32Array) : null;
  tf.dispose([pT, jT, maxT]);
  const logits = u.dataSync() as Float32Array;
  const lse = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * width + j[i];
    lse[i] = logits[o] + mask[o] - Math.log(pMax[i]);
  }
  return { logits, lse, probs: p };
}

/** softmax(u + mask) with its raw logits and log-sum-exp per row (readSoftmax). */
export function softmaxRows(u: tf.Tensor2D, mask: Float32Array): SoftmaxRows {
  const [rows, width] = u.shape;
  const r = readSoftmax(u, mask, true);
  return { rows, width, logits: r.logits, lse: r.lse, probs: r.probs as Float32Array };
}

/** The raw logits and log-sum-exp per row of u + mask, without reading the probabilities (readSoftmax). */
export function logSumExpRows(u: tf.Tensor2D, mask: Float32Array): LogSumExpRows {
  const [rows, width] = u.shape;
  const r = readSoftmax(u, mask, false);
  return { rows, width, logits: r.logits, lse: r.lse };
}

export interface PgLossTerms {
  /** Additive mask per term [M × A] (0 allowed, −1e9 forbidden). */
  readonly mask: Float32Array;
  /** Chosen action per term (must be allowed). */
  readonly actions: Int32Array;
  /** c_i: the loss's coefficient of ℓ_i. */
  readonly coef: Float32Array;
  /** κ: the loss's coefficient of Σ KL_i (0: the KL is only logged). */
  readonly klCoef: number;
  /** The reference policy's logits and log-sum-exp on the same terms and mask (for KL_i). */
  readonly ref: LogSumExpRows;
}

/** What one evaluation logs. */
export interface PgLossLog {
  /** The loss value. */
  loss: number;
  /** Σ_i KL_i and Σ_i H_i over the terms. */
  kl: number;
  entropy: number;
  /** ℓ_i per term. */
  chosen: Float64Array;
}

/**
 * loss(u) = Σ_i c_i ℓ_i + κ Σ_i KL_i for raw logits u [M × A] (differentiable: call inside
 * tf.variableGrads / tf.grad), with its closed-form gradient (module comment). `log` receives the
 * loss, Σ KL, Σ H and the ℓ_i. Throws when a chosen action is masked or out of range.
 */
export function policyGradientLoss(u: tf.Tensor2D, terms: PgLossTerms, log?: (l: PgLossLog) => void): tf.Scalar {
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const logits2d = x as tf.Tensor2D;
    const [M, A] = logits2d.shape;
    const { mask, actions, coef, klCoef: kappa, ref } = terms;
    if (actions.length !== M || coef.length !== M)
      throw new Error(`policyGradientLoss: ${actions.length} actions and ${coef.length} coefficients for ${M} terms`);
    if (ref.rows !== M || ref.width !== A) throw new Error(`policyGradientLoss: reference logits [${ref.rows} × ${ref.width}], policy [${M} × ${A}]`);
    const { logits: uu, probs: p, lse } = softmaxRows(logits2d, mask);
    const ur = ref.logits;
    const grad = new Float32Array(M * A);
    const chosen = new Float64Array(M);
    let loss = 0;
    let klSum = 0;
    let entSum = 0;
    for (let i = 0; i < M; i++) {
      const o = i * A;
      const a = actions[i];
      if (!(a >= 0 && a < A) || mask[o + a] !== 0) throw new Error(`policyGradientLoss: term ${i}: action ${a} is not an allowed action`);
      let pd = 0; // Σ p (u − u_ref)
      let pu = 0; // Σ p u
      for (let b = o; b < o + A; b++) {
        const pb = p[b];
        if (pb === 0) continue;
        pd += pb * (uu[b] - ur[b]);
        pu += pb * uu[b];
      }
      const dLse = lse[i] - ref.lse[i];
      const kl = pd - dLse;
      const ell = uu[o + a] - lse[i];
      chosen[i] = ell;
      klSum += kl;
      entSum += lse[i] - pu;
      loss += coef[i] * ell + kappa * kl;
      const alpha = -coef[i] - kappa * (dLse + kl);
      for (let b = o; b < o + A; b++) {
        const pb = p[b];
        if (pb !== 0) grad[b] = pb * (kappa * (uu[b] - ur[b]) + alpha);
      }
      grad[o + a] += coef[i];
    }
    log?.({ loss, kl: klSum, entropy: entSum, chosen });
    const g = tf.tensor2d(grad, [M, A]);
    save([g]);
    return { value: tf.scalar(loss), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(u) as tf.Scalar;
}

/** One chunk's contribution to the update: the gradient of its loss terms and what they log. */
export interface ChunkGradient {
  /** ∂loss/∂θ per parameter key of the policy (tensors owned by the caller). */
  readonly grads: Record<string, tf.Tensor>;
  readonly loss: number;
  /** Σ KL_t and Σ H_t over the chunk's terms. */
  readonly kl: number;
  readonly entropy: number;
}

/**
 * The loss of the terms `trainingTerms(sub)` of a chunk of rows,
 *   −(1/N) Σ_t A_t ℓ_t + (β/N) Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))
 * (N: paths in the whole batch; `adv[i]`: A of term i), and its gradient with respect to the
 * policy's parameters. `fused` (default) uses policyGradientLoss; false differentiates log-softmax,
 * the exact KL and the entropy op by op (the reference). π_ref's logits are constants (computed
 * outside the tape); they are needed for the KL term and, whatever β, for the logged KL.
 */
export function chunkGradient(
  net: PolicyNetwork,
  ref: PolicyNetwork,
  sub: Trajectories,
  adv: Float32Array,
  N: number,
  beta: number,
  fused = true,
): ChunkGradient {
  const terms = trainingTerms(sub, net.stop);
  if (adv.length !== terms.count) throw new Error(`chunkGradient: ${adv.length} advantages for ${terms.count} terms`);
  const mask = net.buildMask(sub, terms);
  const named = (grads: tf.NamedTensorMap): Record<string, tf.Tensor> => Object.fromEntries(net.params.keys.map((k) => [k, grads[net.params.get(k).name]]));
  if (fused) {
    const refT = tf.tidy(() => ref.termLogits(sub, terms));
    const refRows = logSumExpRows(refT, mask);
    refT.dispose();
    const coef = Float32Array.from(adv, (a) => -a / N);
    let logged: PgLossLog | null = null;
    const { value, grads } = tf.variableGrads(
      () => policyGradientLoss(net.termLogits(sub, terms), { mask, actions: terms.action, coef, klCoef: beta / N, ref: refRows }, (l) => (logged = l)),
      net.params.list(),
    );
    value.dispose();
    const l = logged as PgLossLog | null;
    if (!l) throw new Error('chunkGradient: the loss did not report');
    return { grads: named(grads), loss: l.loss, kl: l.kl, entropy: l.entropy };
  }
  const advT = tf.tensor1d(adv);
  const refLogp = tf.tidy(() => ref.termLogProbs(sub, terms, mask));
  let klT: tf.Tensor | null = null;
  let entT: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const logp = net.termLogProbs(sub, terms, mask);
    const ell = net.chosenLogProbs(logp, terms);
    // Policy-gradient surrogate: −(1/N) Σ A_t ℓ_t.
    const pg = tf.div(tf.neg(tf.sum(tf.mul(advT, ell))), N);
    // Exact per-step KL(π ‖ π_ref) = Σ_a π(a)(log π(a) − log π_ref(a)) at each visited state.
    const p = tf.exp(logp);
    const klSteps = tf.sum(tf.mul(p, tf.sub(logp, refLogp)), 1);
    klT = tf.keep(tf.sum(klSteps));
    entT = tf.keep(tf.neg(tf.sum(tf.mul(p, tf.maximum(logp, LOG_PROB_FLOOR)))));
    return (beta > 0 ? tf.add(pg, tf.mul(beta / N, tf.sum(klSteps))) : pg) as tf.Scalar;
  }, net.params.list());
  const out = {
    grads: named(grads),
    loss: value.dataSync()[0],
    kl: (klT as unknown as tf.Tensor).dataSync()[0],
    entropy: (entT as unknown as tf.Tensor).dataSync()[0],
  };
  tf.dispose([value, advT, refLogp, klT as unknown as tf.Tensor, entT as unknown as tf.Tensor]);
  return out;
}
