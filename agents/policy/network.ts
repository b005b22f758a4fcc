/**
 * The item-level policy π(a | h, path, T): a distribution over the N items ∪ {STOP} (docs/design.md §5.4:
 * an item-level softmax cannot emit non-existent items, unlike the paper's 4-token semantic ids).
 *
 * Architecture (small on purpose: it trains on 2 CPU cores):
 * - item embeddings E [N × d] (d = 64), shared by the input and the output layer;
 * - an encoder over the user's sequence history ⊕ path: one causal self-attention block with the
 *   target as an extra key (default), or a GRU. Items the user did not accept (accept: 'sample')
 *   are not part of the sequence: masked as attention keys / no GRU update. Attention is the
 *   default because on the wasm backend it is ~10x faster: a GRU is ~12 small ops per time step,
 *   and every tf.slice/split of a large tensor copies the whole tensor out of the wasm heap;
 * - a head on [h_t, e_T, h_t ∘ e_T, s_t] (s_t: embedding of the step index t, so the STOP decision
 *   can depend on the path length) → z_t ∈ R^d;
 * - logits: items z_t·E^T + b, STOP z_t·w_stop + b_stop; forbidden actions get FORBIDDEN (−1e9, compute/masks.ts) before the
 *   log-softmax. Forbidden: the target, items already recommended in the path, and optionally the
 *   history (`maskHistory`); `act` also applies the environment's actionMask.
 *
 * A batch of paths is a `Trajectories`: a term of row b at position t (t = 0..L) is the decision
 * made after t items; terms 0..L-1 chose the path items, term L chose STOP when the path stopped.
 * Teacher forcing computes every term of every row in one pass (training), `nextLogProbs` the
 * term at t = L only (acting).
 */
import { FORBIDDEN } from '../../compute/masks.ts';
import * as tf from '@tensorflow/tfjs';
import { passOverTensorData } from '../../compute/tensor-data.ts';
import { HISTORY_LENGTH, type ItemTable } from '../../data/dataset.ts';
import { Rng } from '../../core/rng.ts';
import { ConfigError, invariant } from '../../core/errors.ts';
import { attention, glorotArray, gruCell, layerNorm, normalArray, ParamSet } from '../../compute/nn/index.ts';
import { resolvePolicyConfig, type PolicyConfig } from './config.ts';
import { nextTerms, trainingTerms, type MaskOptions, type Terms, type Trajectories } from './batch.ts';
import { itemContentMatrix } from './item-prior.ts';

export interface PolicyNetworkOptions {
  /** Fixes every initial weight (drawn in JS from Rng streams keyed by the seed and the label, not by tfjs). */
  seed: number;
  /** False for a frozen reference copy (default true). */
  trainable?: boolean;
  /** Names the parameters and their init streams (default 'policy'): another label, other initial weights. */
  label?: string;
  /** The environment's item table: needed when `config.itemPrior` is not 'none'. */
  items?: ItemTable | null;
  /** The train split's item sequences: needed by the 'cooccurrence' priors. */
  trainSequences?: readonly (readonly number[])[] | null;
}

export class PolicyNetwork {
  readonly params: ParamSet;
  readonly config: PolicyConfig;
  /** STOP's action id. */
  readonly stop: number;
  /** F of the item prior [N × features] (a constant), or null without one. */
  private readonly content: tf.Tensor2D | null;

  /** The environment's item table (needed when `config.itemPrior` is not 'none'), or null. */
  readonly items: ItemTable | null;
  /** The train split's item sequences (needed by the 'cooccurrence' priors), or null. */
  readonly trainSequences: readonly (readonly number[])[] | null;

  constructor(
    readonly numItems: number,
    config: Partial<PolicyConfig>,
    opts: PolicyNetworkOptions,
  ) {
    const { seed, trainable = true, label = 'policy' } = opts;
    const items = (this.items = opts.items ?? null);
    const trainSequences = (this.trainSequences = opts.trainSequences ?? null);
    this.config = resolvePolicyConfig(config);
    this.stop = numItems;
    const d = this.config.dim;
    const N = numItems;
    const rng = Rng.stream(seed, `${label}-init`);
    const p = (this.params = new ParamSet(label, trainable));
    p.add('emb', [N, d], normalArray(rng, N * d, 0.1), { decay: true });
    if (this.config.itemPrior !== 'none') {
      if (!items) throw new ConfigError(`policy: itemPrior '${this.config.itemPrior}' needs the environment's item table`);
      if (items.count !== N) throw new ConfigError(`policy: the item table has ${items.count} items, the policy ${N}`);
      const F = itemContentMatrix(items, this.config.itemPrior, trainSequences, this.config.cooccurrence);
      this.content = tf.keep(tf.tensor2d(F.values, [N, F.features]));
      // P from a stream of its own, so the other weights are the same with and without a prior.
      p.add('prior_proj', [F.features, d], normalArray(Rng.stream(seed, `${label}-init/prior`), F.features * d, 0.1), { decay: true });
    } else {
      this.content = null;
    }
    if (this.config.encoder === 'gru') {
      p.add('gru_wx', [d, 3 * d], glorotArray(rng, d, 3 * d), { decay: true });
      p.add('gru_wh', [d, 3 * d], normalArray(rng, d * 3 * d, 1 / Math.sqrt(d)), { decay: true });
      p.add('gru_b', [3 * d], new Float32Array(3 * d));
    } else {
      // Positions 0..HISTORY_LENGTH + maxLength − 1 for tokens (later ones share the last), and
      // one more row for the target token, whose position must not depend on the batch's padding.
      const P = HISTORY_LENGTH + this.config.maxLength + 1;
      p.add('att_pos', [P, d], normalArray(rng, P * d, 0.1), { decay: true });
      for (const k of ['att_wq', 'att_wk', 'att_wv', 'att_wo']) p.add(k, [d, d], glorotArray(rng, d, d), { decay: true });
      p.add('att_ln1_g', [d], new Float32Array(d).fill(1));
      p.add('att_ln1_b', [d], new Float32Array(d));
      p.add('att_ff1', [d, 2 * d], glorotArray(rng, d, 2 * d), { decay: true });
      p.add('att_ff1_b', [2 * d], new Float32Array(2 * d));
      p.add('att_ff2', [2 * d, d], glorotArray(rng, 2 * d, d), { decay: true });
      p.add('att_ff2_b', [d], new Float32Array(d));
      p.add('att_ln2_g', [d], new Float32Array(d).fill(1));
      p.add('att_ln2_b', [d], new Float32Array(d));
    }
    const S = this.config.maxLength + 1;
    p.add('step_emb', [S, d], normalArray(rng, S * d, 0.1), { decay: true });
    p.add('head_w1', [4 * d, 2 * d], glorotArray(rng, 4 * d, 2 * d), { decay: true });
    p.add('head_b1', [2 * d], new Float32Array(2 * d));
    p.add('head_w2', [2 * d, d], glorotArray(rng, 2 * d, d), { decay: true });
    p.add('head_b2', [d], new Float32Array(d));
    p.add('item_bias', [N], new Float32Array(N));
    p.add('stop_w', [d, 1], normalArray(rng, d, 0.1), { decay: true });
    p.add('stop_b', [1], new Float32Array(1));
  }

  /**
   * The item representations E [N × d]: E_free, plus F·P with an item prior. Call inside tf.tidy.
   */
  itemTable(): tf.Tensor2D {
    const free = this.params.get('emb') as tf.Tensor2D;
    return this.content ? (tf.add(free, tf.matMul(this.content, this.params.get('prior_proj'))) as tf.Tensor2D) : free;
  }

  /**
   * Sequence states H [B·(W+1), d]: row b·(W+1) + t is the state after the history and the first
   * t path items (W = traj.width). `E` is `itemTable()` (computed once per forward pass by the
   * caller). Call inside tf.tidy (or dispose the result).
   */
  encode(traj: Trajectories, E: tf.Tensor2D = this.itemTable()): tf.Tensor2D {
    return this.config.encoder === 'gru' ? this.encodeGru(traj, E) : this.encodeAttention(traj, E);
  }

  private encodeGru(traj: Trajectories, E: tf.Tensor2D): tf.Tensor2D {
    const d = this.config.dim;
    const B = traj.size;
    const W = traj.width;
    const wx = this.params.get('gru_wx');
    const bias = this.params.get('gru_b');
    // Input projections of every history and path position in one matmul.
    const T = HISTORY_LENGTH + W;
    const seq = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < HISTORY_LENGTH; j++) seq[b * T + j] = traj.history[b * HISTORY_LENGTH + j];
      for (let t = 0; t < W; t++) seq[b * T + HISTORY_LENGTH + t] = traj.items[b * W + t];
    }
    const X = tf.reshape(tf.add(tf.matMul(tf.gather(E, tf.tensor1d(seq, 'int32')), wx), bias), [B, T, 3 * d]);
    const cell = (h: tf.Tensor2D, j: number): tf.Tensor2D => this.gruCell(h, tf.reshape(tf.slice(X, [0, j, 0], [B, 1, 3 * d]), [B, 3 * d]));
    let h = tf.zeros([B, d]) as tf.Tensor2D;
    for (let j = 0; j < HISTORY_LENGTH; j++) h = cell(h, j);
    const states: tf.Tensor2D[] = [h];
    if (W > 0) {
      const acc = tf.tensor2d(Float32Array.from(traj.accepted), [B, W]);
      for (let t = 0; t < W; t++) {
        const next = cell(h, HISTORY_LENGTH + t);
        // A rejected (or padding) item leaves the user's sequence, hence the state, unchanged.
        const a = tf.slice(acc, [0, t], [B, 1]);
        h = tf.add(tf.mul(a, next), tf.mul(tf.sub(1, a), h)) as tf.Tensor2D;
        states.push(h);
      }
    }
    return tf.reshape(tf.stack(states, 1), [B * (W + 1), d]) as tf.Tensor2D;
  }

  /**
   * One GRU step: h [M × d], x = e·W_x + b [M × 3d] (the input projection of the item) → h'.
   * z: update gate, r: reset gate, n: candidate (torch's GRU formulation).
   */
  gruCell(h: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
    const hh = tf.matMul(h, this.params.get('gru_wh'));
    const [xz, xr, xn] = tf.split(x, 3, 1) as tf.Tensor2D[];
    const [hz, hr, hn] = tf.split(hh, 3, 1) as tf.Tensor2D[];
    return gruCell({ reset: xr, update: xz, candidate: xn }, { reset: hr, update: hz, candidate: hn }, h);
  }

  /** Pre-norm layer norm over the last axis with gain `g` and bias `b` (parameter keys): ε = 1e-5, divided by sqrt. */
  layerNorm(x: tf.Tensor, g: string, b: string): tf.Tensor {
    return layerNorm(x, this.params.get(g), this.params.get(b), { epsilon: 1e-5, scale: 'divide' });
  }

  /**
   * One pre-norm causal self-attention block over history ⊕ path, with the target as an extra key
   * every position may attend to (IRN conditions its sequence on the target; its personalised
   * impressionability mask is not reproduced). The state after t path items is the output at
   * token HISTORY_LENGTH − 1 + t.
   */
  private encodeAttention(traj: Trajectories, E: tf.Tensor2D): tf.Tensor2D {
    const d = this.config.dim;
    const B = traj.size;
    const W = traj.width;
    const T = HISTORY_LENGTH + W;
    const Q = W + 1;
    const posTable = this.params.get('att_pos');
    const targetPos = posTable.shape[0] - 1;
    const maxPos = targetPos - 1;
    const seq = new Int32Array(B * T);
    // Every token is a key (and value); only the tokens whose outputs are states are queries:
    // token HISTORY_LENGTH − 1 + t is the state after t items (t = 0..W). Additive key mask
    // [B, Q, T+1]: causal, rejected/padding items hidden, the target (last key) visible to all.
    const mask = new Float32Array(B * Q * (T + 1));
    const queryIdx = new Int32Array(B * Q);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < HISTORY_LENGTH; j++) seq[b * T + j] = traj.history[b * HISTORY_LENGTH + j];
      for (let t = 0; t < W; t++) seq[b * T + HISTORY_LENGTH + t] = traj.items[b * W + t];
      for (let t = 0; t < Q; t++) {
        const q = HISTORY_LENGTH - 1 + t;
        queryIdx[b * Q + t] = b * (T + 1) + q;
        for (let k = 0; k <= T; k++) {
          let ok: boolean;
          if (k === T) ok = true;
          else ok = k <= q && (k < HISTORY_LENGTH || (traj.accepted[b * W + (k - HISTORY_LENGTH)] === 1 && k - HISTORY_LENGTH < traj.lengths[b]));
          if (k === q) ok = true; // a query always sees itself (no empty rows)
          mask[(b * Q + t) * (T + 1) + k] = ok ? 0 : FORBIDDEN;
        }
      }
    }
    const pos = Int32Array.from({ length: T + 1 }, (_, j) => (j === T ? targetPos : Math.min(j, maxPos)));
    const tokens = tf.reshape(tf.gather(E, tf.tensor1d(seq, 'int32')), [B, T, d]);
    const tgt = tf.reshape(tf.gather(E, tf.tensor1d(traj.target, 'int32')), [B, 1, d]);
    const x = tf.reshape(tf.add(tf.concat([tokens, tgt], 1), tf.expandDims(tf.gather(posTable, tf.tensor1d(pos, 'int32')), 0)), [B * (T + 1), d]);
    const xn = this.layerNorm(x, 'att_ln1_g', 'att_ln1_b');
    const keys = (w: string) => tf.reshape(tf.matMul(xn, this.params.get(w)), [B, T + 1, d]);
    const k = keys('att_wk');
    const v = keys('att_wv');
    const queries = tf.tensor1d(queryIdx, 'int32');
    const q = tf.reshape(tf.matMul(tf.gather(xn, queries), this.params.get('att_wq')), [B, Q, d]);
    const att = tf.reshape(attention(q, k, v, tf.tensor3d(mask, [B, Q, T + 1]), { scale: 'divide' }), [B * Q, d]);
    return this.blockOutput(tf.gather(x, queries) as tf.Tensor2D, att as tf.Tensor2D); // [B·(W+1), d]
  }

  /**
   * The rest of the attention block per token, from its input x [M × d] and its attention read-out
   * att [M × d]: h1 = x + att·W_o, output h1 + FF(LN2(h1)).
   */
  blockOutput(x: tf.Tensor2D, att: tf.Tensor2D): tf.Tensor2D {
    const h1 = tf.add(x, tf.matMul(att, this.params.get('att_wo')));
    const h1n = this.layerNorm(h1, 'att_ln2_g', 'att_ln2_b');
    const ff = tf.add(
      tf.matMul(tf.relu(tf.add(tf.matMul(h1n, this.params.get('att_ff1')), this.params.get('att_ff1_b'))), this.params.get('att_ff2')),
      this.params.get('att_ff2_b'),
    );
    return tf.add(h1, ff) as tf.Tensor2D;
  }

  /**
   * The additive mask of each term [count × (N+1)]: FORBIDDEN on the target, on the path items before
   * t, on the history when maskHistory, and where `extra` (the environment's actionMask per row)
   * is 0. Built in JS: it is a memset plus a few writes per term. `opts` serves IRN, which predicts
   * the target itself as the end of a path instead of STOP.
   */
  buildMask(traj: Trajectories, terms: Terms, extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}, into?: Float32Array): Float32Array {
    const A = this.numItems + 1;
    const maskHistory = opts.maskHistory ?? this.config.maskHistory;
    invariant(!into || into.length === terms.count * A, () => `buildMask: ${into!.length} values for [${terms.count} × ${A}]`);
    const mask = into ? into.fill(0) : new Float32Array(terms.count * A);
    for (let i = 0; i < terms.count; i++) {
      const b = terms.row[i];
      const t = terms.t[i];
      const o = i * A;
      if (maskHistory) for (let j = 0; j < HISTORY_LENGTH; j++) mask[o + traj.history[b * HISTORY_LENGTH + j]] = FORBIDDEN;
      for (let k = 0; k < t; k++) mask[o + traj.items[b * traj.width + k]] = FORBIDDEN;
      const e = extra?.[b];
      if (e) for (let a = 0; a < A; a++) if (!e[a]) mask[o + a] = FORBIDDEN;
      mask[o + traj.target[b]] = opts.allowTarget ? 0 : FORBIDDEN;
      mask[o + this.stop] = opts.forbidStop ? FORBIDDEN : 0;
    }
    return mask;
  }

  /** `buildMask` as a tensor [count × (N+1)], built in place on the backend (compute/tensor-data.ts). */
  maskTensor(traj: Trajectories, terms: Terms, extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}): tf.Tensor2D {
    const [m] = passOverTensorData([], [[terms.count, this.numItems + 1]], (_, [out]) => void this.buildMask(traj, terms, extra, opts, out));
    return m as tf.Tensor2D;
  }

  /** Raw logits of the terms [count × (N+1)] from states H (see `encode`) and the item table E. */
  headLogits(H: tf.Tensor2D, traj: Trajectories, terms: Terms, E: tf.Tensor2D = this.itemTable()): tf.Tensor2D {
    const W1 = traj.width + 1;
    const stateIdx = Int32Array.from({ length: terms.count }, (_, i) => terms.row[i] * W1 + terms.t[i]);
    const targets = Int32Array.from({ length: terms.count }, (_, i) => traj.target[terms.row[i]]);
    return this.stateLogits(tf.gather(H, tf.tensor1d(stateIdx, 'int32')), targets, terms.t, E);
  }

  /**
   * Raw logits [M × (N+1)] of M decisions from their states h [M × d], targets and step indices t
   * (each term's number of path items so far). Inside tf.tidy.
   */
  stateLogits(h: tf.Tensor2D, targets: Int32Array, t: ArrayLike<number>, E: tf.Tensor2D): tf.Tensor2D {
    const maxStep = this.config.maxLength;
    const steps = Int32Array.from({ length: targets.length }, (_, i) => Math.min(t[i], maxStep));
    const eT = tf.gather(E, tf.tensor1d(targets, 'int32'));
    const s = tf.gather(this.params.get('step_emb'), tf.tensor1d(steps, 'int32'));
    const x = tf.concat([h, eT, tf.mul(h, eT), s], 1);
    const z1 = tf.relu(tf.add(tf.matMul(x, this.params.get('head_w1')), this.params.get('head_b1')));
    const z = tf.add(tf.matMul(z1, this.params.get('head_w2')), this.params.get('head_b2'));
    // Items and STOP in one product, z·[E; w_stopᵀ]ᵀ + [b; b_stop]: the weights are concatenated (a
    // [(N+1) × d] copy) instead of the [M × (N+1)] logits. Bit-identical to the two products and the
    // concatenation, forward and backward (test/fast-paths.test.ts); a bias fused into the product
    // would not be (XNNPACK starts its sums from the bias).
    const table = tf.concat([E, tf.transpose(this.params.get('stop_w'))], 0);
    const bias = tf.concat([this.params.get('item_bias'), this.params.get('stop_b')]);
    return tf.add(tf.matMul(z, table, false, true), bias) as tf.Tensor2D;
  }

  /** Raw (unmasked) logits of the terms [count × (N+1)], teacher-forced. Inside tf.tidy. */
  termLogits(traj: Trajectories, terms: Terms): tf.Tensor2D {
    const E = this.itemTable();
    return this.headLogits(this.encode(traj, E), traj, terms, E);
  }

  /** Masked log-probabilities of the terms [count × (N+1)]. Inside tf.tidy. */
  termLogProbs(traj: Trajectories, terms: Terms, mask: Float32Array): tf.Tensor2D {
    return tf.logSoftmax(tf.add(this.termLogits(traj, terms), tf.tensor2d(mask, [terms.count, this.numItems + 1]))) as tf.Tensor2D;
  }

  /** Flat indices term·(N+1) + action of each term's action. */
  actionIndex(terms: Terms): Int32Array {
    const A = this.numItems + 1;
    return Int32Array.from({ length: terms.count }, (_, i) => {
      const a = terms.action[i];
      invariant(a >= 0 && a <= this.stop, () => `term ${i} has no action`);
      return i * A + a;
    });
  }

  /** ℓ of each term's action, a tensor [count] (inside tf.tidy; differentiable). */
  chosenLogProbs(logp: tf.Tensor2D, terms: Terms): tf.Tensor1D {
    return tf.gather(tf.reshape(logp, [-1]), tf.tensor1d(this.actionIndex(terms), 'int32')) as tf.Tensor1D;
  }

  /** Log-probabilities of the next action of every row, read into JS [B × (N+1)]. */
  nextLogProbs(traj: Trajectories, extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}): Float32Array {
    const terms = nextTerms(traj);
    const mask = this.buildMask(traj, terms, extra, opts);
    const t = tf.tidy(() => this.termLogProbs(traj, terms, mask));
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  }

  /** Sequence log-likelihood per row (items and STOP terms), in JS. */
  pathLogProbs(traj: Trajectories, opts: MaskOptions = {}): Float64Array {
    const terms = trainingTerms(traj, this.stop);
    const mask = this.buildMask(traj, terms, null, opts);
    const t = tf.tidy(() => this.chosenLogProbs(this.termLogProbs(traj, terms, mask), terms));
    const lp = t.dataSync();
    t.dispose();
    const out = new Float64Array(traj.size);
    for (let i = 0; i < terms.count; i++) out[terms.row[i]] += lp[i];
    return out;
  }

  dispose(): void {
    this.params.dispose();
    this.content?.dispose();
  }
}
