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
 * (each a wasm kernel call); here the two softmaxes run on the backend (its vectorised kernel) and
 * the rest is one JS pass per row over u, p, u^ref and p^ref, which also yields ℓ, KL and H for the
 * logs, reading those tensors and writing the gradient in place on the wasm heap (no copies:
 * compute/tensor-data.ts). Sums are in float64. Tested against the autodiff loss (test/fast-paths.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { LOG_PROB_FLOOR } from '../compute/masks.ts';
import { activeNativeBlas } from '../compute/kernels/index.ts';
import { passOverTensorData } from '../compute/tensor-data.ts';
import { trainingTerms, type PolicyNetwork, type Trajectories } from './policy.ts';
import { invariant } from '../core/errors.ts';

/** Rows per block of the native passes: [16 × 3,044] float32 × 4 arrays is 780 KB, within L2. */
const NATIVE_ROW_BLOCK = 16;

export interface PgLossTerms {
  /** Additive mask per term [M × A] (0 allowed, −1e9 forbidden; not disposed). */
  readonly mask: tf.Tensor2D;
  /** Chosen action per term (must be allowed). */
  readonly actions: Int32Array;
  /** c_i: the loss's coefficient of ℓ_i. */
  readonly coef: Float32Array;
  /** κ: the loss's coefficient of Σ KL_i (0: the KL is only logged). */
  readonly klCoef: number;
  /**
   * The reference policy's raw logits u^ref [M × A] on the same terms (for KL_i): a constant,
   * computed outside the tape. Not disposed.
   */
  readonly refLogits: tf.Tensor2D;
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
    const { mask, actions, coef, klCoef: kappa, refLogits } = terms;
    invariant(actions.length === M && coef.length === M, () => `policyGradientLoss: ${actions.length} actions and ${coef.length} coefficients for ${M} terms`);
    invariant(refLogits.shape[0] === M && refLogits.shape[1] === A, () => `policyGradientLoss: reference logits [${refLogits.shape}], policy [${M} × ${A}]`);
    invariant(mask.shape[0] === M && mask.shape[1] === A, () => `policyGradientLoss: mask [${mask.shape}], logits [${M} × ${A}]`);
    // p = softmax(u + m) and p^ref on the backend (its vectorised kernel); the rest is one JS pass
    // per row over the tensors' data, in place on the wasm heap (compute/tensor-data.ts).
    const [p, pRef] = tf.tidy(() => [tf.softmax(tf.add(logits2d, mask)), tf.softmax(tf.add(refLogits, mask))]);
    const chosen = new Float64Array(M);
    let loss = 0;
    let klSum = 0;
    let entSum = 0;
    const native = activeNativeBlas();
    let g: tf.Tensor;
    try {
      [g] = passOverTensorData([logits2d, p, refLogits, pRef, mask], [[M, A]], ([uu, pp, ur, pr, m], [grad]) => {
        for (let i = 0; i < M; i++) {
          const a = actions[i];
          invariant(a >= 0 && a < A && m[i * A + a] === 0, () => `policyGradientLoss: term ${i}: action ${a} is not an allowed action`);
        }
        // Row i's log-sum-exps, ℓ, KL, H and its share of the loss from the sums of pass 1; returns
        // α_i. lse = z_j − log p_j at j = the first argmax of p (exact up to the rounding of p_j,
        // the largest probability: the backend's softmax is vectorised, its exp is not exact).
        const finishRow = (i: number, j: number, pMax: number, jr: number, prMax: number, pd: number, pu: number): number => {
          const lse = uu[j] + m[j] - Math.log(pMax);
          const lseRef = ur[jr] + m[jr] - Math.log(prMax);
          const dLse = lse - lseRef;
          const kl = pd - dLse;
          const ell = uu[i * A + actions[i]] - lse;
          chosen[i] = ell;
          klSum += kl;
          entSum += lse - pu;
          loss += coef[i] * ell + kappa * kl;
          return -coef[i] - kappa * (dLse + kl);
        };
        if (native) {
          // The same two passes in C (compute/native/blas.c: same arithmetic, same bits), over
          // blocks of rows that stay in cache between them.
          const sums = new Float64Array(6 * NATIVE_ROW_BLOCK);
          const alpha = new Float64Array(NATIVE_ROW_BLOCK);
          for (let r0 = 0; r0 < M; r0 += NATIVE_ROW_BLOCK) {
            const r1 = Math.min(M, r0 + NATIVE_ROW_BLOCK);
            native.pgRowSums(uu, pp, ur, pr, A, r0, r1, sums);
            for (let i = r0; i < r1; i++) {
              const s = 6 * (i - r0);
              alpha[i - r0] = finishRow(i, i * A + sums[s], sums[s + 1], i * A + sums[s + 2], sums[s + 3], sums[s + 4], sums[s + 5]);
            }
            native.pgRowGrad(uu, pp, ur, A, r0, r1, kappa, alpha, grad);
            for (let i = r0; i < r1; i++) grad[i * A + actions[i]] += coef[i];
          }
          return;
        }
        for (let i = 0; i < M; i++) {
          const o = i * A;
          // Pass 1: the first argmax of p and of p^ref, Σ p (u − u_ref) and Σ p u.
          let j = o;
          let pMax = pp[o];
          let pd = 0;
          let pu = 0;
          for (let b = o; b < o + A; b++) {
            const pb = pp[b];
            if (pb > pMax) {
              pMax = pb;
              j = b;
            }
            if (pb === 0) continue;
            pd += pb * (uu[b] - ur[b]);
            pu += pb * uu[b];
          }
          let jr = o;
          let prMax = pr[o];
          for (let b = o + 1; b < o + A; b++) {
            if (pr[b] > prMax) {
              prMax = pr[b];
              jr = b;
            }
          }
          const alpha = finishRow(i, j, pMax, jr, prMax, pd, pu);
          // Pass 2: the gradient row.
          for (let b = o; b < o + A; b++) {
            const pb = pp[b];
            grad[b] = pb !== 0 ? pb * (kappa * (uu[b] - ur[b]) + alpha) : 0;
          }
          grad[o + actions[i]] += coef[i];
        }
      });
    } finally {
      tf.dispose([p, pRef]);
    }
    log?.({ loss, kl: klSum, entropy: entSum, chosen });
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

/** What `chunkGradient` computes the loss of, besides the networks and the chunk's paths. */
export interface ChunkGradientOptions {
  /** A_t of each term of `trainingTerms(sub)`, in term order. */
  readonly advantages: Float32Array;
  /** N: the paths in the whole batch (the loss is a mean over them, not over the chunk's). */
  readonly batchPaths: number;
  /** β: the coefficient of the KL penalty. */
  readonly beta: number;
  /** policyGradientLoss (true, the default) or log-softmax, KL and entropy op by op (false: the reference). */
  readonly fused?: boolean;
}

/**
 * The loss of the terms `trainingTerms(sub)` of a chunk of rows,
 *   −(1/N) Σ_t A_t ℓ_t + (β/N) Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))
 * and its gradient with respect to the policy's parameters (see ChunkGradientOptions). π_ref's
 * logits are constants (computed outside the tape); they are needed for the KL term and, whatever
 * β, for the logged KL.
 */
export function chunkGradient(net: PolicyNetwork, ref: PolicyNetwork, sub: Trajectories, opts: ChunkGradientOptions): ChunkGradient {
  const { advantages: adv, batchPaths: N, beta, fused = true } = opts;
  const terms = trainingTerms(sub, net.stop);
  invariant(adv.length === terms.count, () => `chunkGradient: ${adv.length} advantages for ${terms.count} terms`);
  const named = (grads: tf.NamedTensorMap): Record<string, tf.Tensor> => Object.fromEntries(net.params.keys.map((k) => [k, grads[net.params.get(k).name]]));
  if (fused) {
    const mask = net.maskTensor(sub, terms);
    let refT: tf.Tensor2D | null = null;
    let logged: PgLossLog | null = null;
    let grads: tf.NamedTensorMap;
    try {
      const refLogits = (refT = tf.tidy(() => ref.termLogits(sub, terms)));
      const coef = Float32Array.from(adv, (a) => -a / N);
      const g = tf.variableGrads(
        () => policyGradientLoss(net.termLogits(sub, terms), { mask, actions: terms.action, coef, klCoef: beta / N, refLogits }, (l) => (logged = l)),
        net.params.list(),
      );
      g.value.dispose();
      grads = g.grads;
    } finally {
      tf.dispose(refT ? [mask, refT] : [mask]);
    }
    const l = logged as PgLossLog | null;
    invariant(l, 'chunkGradient: the loss did not report');
    return { grads: named(grads), loss: l.loss, kl: l.kl, entropy: l.entropy };
  }
  const mask = net.buildMask(sub, terms);
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
