/**
 * Step 6 of the RL loop (agents/rl.ts): one optimiser update from sampled paths and their
 * advantages, with the gradient computed in chunks of whole groups so that the spread of the chunk
 * gradients estimates the estimator's variance (docs/design.md §4.9) at no extra cost, and the
 * chunks optionally dealt to training workers (agents/pg-worker.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Advantages } from './estimators.ts';
import type { AdamW } from './nn.ts';
import { chunkGradient, type ChunkGradient } from './pg-loss.ts';
import type { UpdateWorker } from './pg-worker.ts';
import { trainingTerms, type PolicyNetwork, type Trajectories } from './policy.ts';

export interface UpdateStats {
  loss: number;
  klPerPath: number;
  klPerStep: number;
  entropy: number;
  /** ‖g‖ before clipping. */
  gradNorm: number;
  /** Mean and variance over chunks c of ‖C·g_c‖ (each C·g_c estimates g from 1/C of the batch). */
  chunkNormMean: number;
  chunkNormVar: number;
  /** (1/(C−1)) Σ_c ‖C·g_c − g‖²: C × the trace of the covariance of the batch gradient. */
  gradVarTrace: number;
}

/**
 * Step 6 of the loop: one update on −(1/N) Σ A_t ℓ_t + β·(1/N) Σ KL_t (β = 0 unless kl = 'exact'),
 * the gradient summed over chunks of whole groups (rows [c·G·groups/C, ...)), so that the spread of
 * the chunk gradients estimates the estimator's variance at no extra cost. Terms are those of
 * `trainingTerms(traj)`; advantages[i] has one entry per term of row i. Returns the logged numbers.
 * The logits-wide part of the loss (log-softmax, ℓ, exact KL, entropy) is one op with its
 * closed-form gradient (agents/pg-loss.ts); `fusedLoss: false` differentiates it op by op instead
 * (the reference the fused op is tested against; equal up to float round-off). With `worker`
 * (agents/pg-worker.ts, N training workers), chunk c runs on worker c mod N; the chunks are the same
 * computation wherever they run and are summed in chunk order here: the result is bit-identical
 * for every N.
 */
export function policyGradientStep(
  net: PolicyNetwork,
  ref: PolicyNetwork,
  traj: Trajectories,
  advantages: Advantages,
  optimizer: AdamW,
  opts: {
    groupSize: number;
    chunks: number;
    beta: number;
    fusedLoss?: boolean;
    worker?: UpdateWorker | null;
    /** N of the loss (default: every path of the batch; `emptyPaths: 'drop'` counts the non-empty ones). */
    normaliser?: number;
    /** Factor on the learning rate of this update (a schedule's: agents/rl.ts `learningRateScale`). */
    lrScale?: number;
  },
): UpdateStats {
  const terms = trainingTerms(traj, net.stop);
  const B = traj.size;
  const N = opts.normaliser ?? B;
  const G = opts.groupSize;
  const groups = Math.ceil(B / G);
  const C = Math.max(1, Math.min(opts.chunks, groups));
  const beta = opts.beta;
  const fused = opts.fusedLoss ?? true;
  const worker = opts.worker ?? null;
  const A = new Float32Array(terms.count);
  {
    const next = new Int32Array(B);
    for (let i = 0; i < terms.count; i++) A[i] = advantages[terms.row[i]][next[terms.row[i]]++];
  }
  // Chunk c holds the rows of whole groups [g_c·G, g_{c+1}·G): a function of the batch only, never
  // of the number of workers, so that every chunk is the same computation wherever it runs.
  const units: { chunk: number; r0: number; r1: number }[] = [];
  for (let c = 0; c < C; c++) {
    const r0 = Math.floor((c * groups) / C) * G;
    const r1 = Math.min(B, Math.floor(((c + 1) * groups) / C) * G);
    units.push({ chunk: c, r0, r1 });
  }
  // Terms are ordered by row: a unit's terms are a contiguous range.
  const firstTerm = new Int32Array(B + 1);
  for (let b = 0, i = 0; b <= B; b++) {
    while (i < terms.count && terms.row[i] < b) i++;
    firstTerm[b] = i;
  }
  const work = units
    .map((u) => ({ ...u, sub: subTrajectories(traj, u.r0, u.r1), adv: A.slice(firstTerm[u.r0], firstTerm[u.r1]) }))
    .filter((u) => u.adv.length > 0);
  // Chunk k of `work` runs on worker k mod N (agents/pg-worker.ts; the main thread is worker 0).
  const local = (u: { sub: Trajectories; adv: Float32Array }): ChunkGradient =>
    chunkGradient(net, ref, u.sub, { advantages: u.adv, batchPaths: N, beta, fused });
  const computed: ChunkGradient[] =
    worker && worker.size > 1 && work.length > 1
      ? worker.run(work, { policy: () => net.params.snapshot(), ref: () => ref.params.snapshot() }, { N, beta, fused }, local, (part) => {
          const grads: Record<string, tf.Tensor> = {};
          for (const key of net.params.keys) grads[key] = tf.tensor(part.grads[key], net.params.get(key).shape, 'float32');
          return { grads, loss: part.loss, kl: part.kl, entropy: part.entropy };
        })
      : work.map(local);
  // The reduction, on the main thread in chunk order (a fixed order, whatever ran where).
  let loss = 0;
  let kl = 0;
  let ent = 0;
  const chunkGrads: Record<string, tf.Tensor>[] = [];
  for (const g of computed) {
    loss += g.loss;
    kl += g.kl;
    ent += g.entropy;
    chunkGrads.push(g.grads);
  }
  const keys = net.params.keys;
  // A batch without any term (every path empty under `emptyPaths: 'drop'`): a zero gradient; the
  // optimiser still steps (its moments decay), as the official code's zero loss does.
  if (chunkGrads.length === 0) chunkGrads.push(Object.fromEntries(keys.map((k) => [k, tf.zerosLike(net.params.get(k))])));
  // g = Σ_c g_c; each C·g_c is an estimate of g from 1/C of the batch.
  const total: Record<string, tf.Tensor> = {};
  for (const k of keys) total[k] = tf.tidy(() => tf.addN(chunkGrads.map((g) => g[k])));
  const Cn = chunkGrads.length;
  const stats = tf.tidy(() => {
    const norms = chunkGrads.map((g) => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(tf.mul(g[k], Cn)))))));
    const dev = chunkGrads.map((g) => tf.addN(keys.map((k) => tf.sum(tf.square(tf.sub(tf.mul(g[k], Cn), total[k]))))));
    return tf.concat([tf.stack(norms), tf.stack(dev)]);
  });
  const sv = stats.dataSync();
  stats.dispose();
  const norms = Array.from(sv.slice(0, Cn));
  const devs = Array.from(sv.slice(Cn));
  const mean = norms.reduce((a, b) => a + b, 0) / Cn;
  const gradNorm = optimizer.apply(total, opts.lrScale ?? 1);
  for (const g of chunkGrads) tf.dispose(Object.values(g));
  tf.dispose(Object.values(total));
  return {
    loss,
    klPerPath: kl / N,
    klPerStep: kl / Math.max(1, terms.count),
    entropy: ent / Math.max(1, terms.count),
    gradNorm,
    chunkNormMean: mean,
    chunkNormVar: Cn > 1 ? norms.reduce((a, b) => a + (b - mean) ** 2, 0) / (Cn - 1) : 0,
    gradVarTrace: Cn > 1 ? devs.reduce((a, b) => a + b, 0) / (Cn - 1) : 0,
  };
}

/** Rows [r0, r1) of a batch. */
function subTrajectories(t: Trajectories, r0: number, r1: number): Trajectories {
  const H = t.history.length / t.size;
  return {
    size: r1 - r0,
    history: t.history.slice(r0 * H, r1 * H),
    target: t.target.slice(r0, r1),
    width: t.width,
    items: t.items.slice(r0 * t.width, r1 * t.width),
    accepted: t.accepted.slice(r0 * t.width, r1 * t.width),
    lengths: t.lengths.slice(r0, r1),
    stopped: t.stopped.slice(r0, r1),
  };
}
