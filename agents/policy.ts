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
import { FORBIDDEN, isForbidden } from '../compute/masks.ts';
import * as tf from '@tensorflow/tfjs';
import { passOverTensorData } from '../compute/tensor-data.ts';
import { Type, type Static } from '@sinclair/typebox';
import { HISTORY_LENGTH, type ItemTable } from '../data/dataset.ts';
import { Rng } from '../core/rng.ts';
import { StringEnum, validate } from '../core/validate.ts';
import { cachedCooccurrenceFactors } from './item-prior.ts';
import { normalArray, ParamSet } from './nn.ts';
import { ConfigError, ContractError, invariant } from '../core/errors.ts';

export const PolicyConfigSchema = Type.Object(
  {
    dim: Type.Integer({ minimum: 2, maximum: 1024, default: 64, description: 'embedding and hidden size' }),
    encoder: StringEnum(['attention', 'gru'] as const, {
      default: 'attention',
      description: 'sequence encoder: one causal self-attention block (target as a key) or a GRU',
    }),
    maxLength: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 10,
      description: 'longest path the step embeddings distinguish (L_max); longer paths share the last one',
    }),
    maskHistory: Type.Boolean({ default: true, description: "also forbid the history's items as actions" }),
    /**
     * Item representations (shared by history tokens, the target and the output layer):
     * E = E_free + F·P with F a fixed per-item content matrix and P a learned projection
     * [features × dim]. 'attributes': F = the item's attributes (multi-hot, unit norm);
     * 'semantic': one-hot of each of the three codebook digits of its semantic id (the release's
     * codes of text embeddings; derived by residual k-means elsewhere: data/semantic-ids.ts);
     * 'attributes+semantic': both; 'cooccurrence': collaborative factors of the train split's
     * sequences (PPMI of items consumed close together, factorised by SVD: agents/item-prior.ts);
     * 'attributes+cooccurrence': both; 'none': a free embedding only. With a prior, items that share
     * content (or users) share representation, so the target's representation can inform the path.
     */
    itemPrior: StringEnum(['none', 'attributes', 'semantic', 'attributes+semantic', 'cooccurrence', 'attributes+cooccurrence'] as const, {
      default: 'attributes+cooccurrence',
      description: 'fixed item content added to the free embeddings: attributes, semantic ids, co-occurrence factors, or none',
    }),
    cooccurrence: Type.Object(
      {
        rank: Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'factors per item (the rank of the truncated SVD)' }),
        window: Type.Integer({ minimum: 1, maximum: 50, default: 5, description: 'items at most this many positions apart in a sequence co-occur' }),
      },
      { additionalProperties: false, default: {}, description: "the co-occurrence factors (used by the 'cooccurrence' priors only)" },
    ),
  },
  { additionalProperties: false, default: {}, description: 'the policy network' },
);
export type PolicyConfig = Static<typeof PolicyConfigSchema>;

export function resolvePolicyConfig(partial: Partial<PolicyConfig> = {}, source = 'policy config'): PolicyConfig {
  return validate(PolicyConfigSchema, partial, source);
}

/** Value added to the logit of a forbidden action. */

/**
 * A batch of B paths. Columns 0..P-1 of `items` hold each row's L ≤ P recommended items (padding
 * after L is ignored). `accepted[b·P + t]` = 1 when the user accepted item t (it joined the
 * sequence); in the paper's setting every item is accepted.
 */
export interface Trajectories {
  readonly size: number;
  /** B × HISTORY_LENGTH, oldest first. */
  readonly history: Int32Array;
  readonly target: Int32Array;
  /** Columns of `items` (≥ every row's L). */
  readonly width: number;
  readonly items: Int32Array;
  readonly accepted: Uint8Array;
  /** L per row. */
  readonly lengths: Int32Array;
  /** 1 when the row's path ended with STOP (there is a STOP term at t = L). */
  readonly stopped: Uint8Array;
}

/** One path in progress or finished, as agents and trainers hold it. */
export interface PathRecord {
  readonly history: ArrayLike<number>;
  readonly target: number;
  readonly items: ArrayLike<number>;
  /** Per item: accepted by the user (default: all accepted). */
  readonly accepted?: ArrayLike<number | boolean> | null;
  readonly stopped?: boolean;
}

/** Packs paths into a Trajectories batch (width = longest path, at least `minWidth`). */
export function packPaths(paths: readonly PathRecord[], minWidth = 0): Trajectories {
  const B = paths.length;
  let width = minWidth;
  for (const p of paths) width = Math.max(width, p.items.length);
  const history = new Int32Array(B * HISTORY_LENGTH);
  const target = new Int32Array(B);
  const items = new Int32Array(B * width);
  const accepted = new Uint8Array(B * width);
  const lengths = new Int32Array(B);
  const stopped = new Uint8Array(B);
  paths.forEach((p, b) => {
    if (p.history.length !== HISTORY_LENGTH) throw new ContractError(`path ${b}: history has ${p.history.length} items, the policy reads ${HISTORY_LENGTH}`);
    for (let j = 0; j < HISTORY_LENGTH; j++) history[b * HISTORY_LENGTH + j] = p.history[j];
    target[b] = p.target;
    lengths[b] = p.items.length;
    stopped[b] = p.stopped ? 1 : 0;
    for (let t = 0; t < p.items.length; t++) {
      items[b * width + t] = p.items[t];
      accepted[b * width + t] = p.accepted ? (p.accepted[t] ? 1 : 0) : 1;
    }
  });
  return { size: B, history, target, width, items, accepted, lengths, stopped };
}

/** Mask variations (defaults: the policy's maskHistory, target forbidden, STOP allowed). */
export interface MaskOptions {
  readonly maskHistory?: boolean;
  /** The target is an allowed output (IRN ends a path by predicting it). */
  readonly allowTarget?: boolean;
  readonly forbidStop?: boolean;
}

/** The decisions to score: term (row, t) with its action (an item, or STOP = N). */
export interface Terms {
  readonly count: number;
  readonly row: Int32Array;
  readonly t: Int32Array;
  /** The action taken at the term (for training); -1 when unknown (acting). */
  readonly action: Int32Array;
}

/** Every term of every row: t = 0..L-1 (items) and t = L when the row stopped. */
export function trainingTerms(traj: Trajectories, stop: number): Terms {
  const rows: number[] = [];
  const ts: number[] = [];
  const actions: number[] = [];
  for (let b = 0; b < traj.size; b++) {
    const L = traj.lengths[b];
    for (let t = 0; t < L; t++) {
      rows.push(b);
      ts.push(t);
      actions.push(traj.items[b * traj.width + t]);
    }
    if (traj.stopped[b]) {
      rows.push(b);
      ts.push(L);
      actions.push(stop);
    }
  }
  return { count: rows.length, row: Int32Array.from(rows), t: Int32Array.from(ts), action: Int32Array.from(actions) };
}

/** The next decision of every row: t = L. */
export function nextTerms(traj: Trajectories): Terms {
  const B = traj.size;
  return { count: B, row: Int32Array.from({ length: B }, (_, b) => b), t: Int32Array.from(traj.lengths), action: new Int32Array(B).fill(-1) };
}

function glorot(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  return normalArray(rng, fanIn * fanOut, Math.sqrt(2 / (fanIn + fanOut)));
}

/**
 * The fixed content matrix F [N × features] of an item prior (PolicyConfig.itemPrior), row-major;
 * rows have unit norm per part (attributes; semantic-id digits; co-occurrence factors), zero where
 * an item has no content. `trainSequences` (the train split's item sequences) are needed by the
 * 'cooccurrence' priors only.
 * @throws Error when the prior needs semantic ids or train sequences the caller does not have.
 */
export function itemContentMatrix(
  items: ItemTable,
  prior: PolicyConfig['itemPrior'],
  trainSequences: readonly (readonly number[])[] | null = null,
  cooccurrence: PolicyConfig['cooccurrence'] = resolvePolicyConfig().cooccurrence,
): { features: number; values: Float32Array } {
  const N = items.count;
  const parts: { width: number; fill: (row: Float32Array, offset: number, i: number) => void }[] = [];
  if (prior === 'attributes' || prior === 'attributes+semantic' || prior === 'attributes+cooccurrence') {
    const A = items.attributeNames.length;
    parts.push({
      width: A,
      fill: (row, o, i) => {
        const attrs = items.attributes[i];
        for (const a of attrs) row[o + a] = 1 / Math.sqrt(attrs.length);
      },
    });
  }
  if (prior === 'semantic' || prior === 'attributes+semantic') {
    const ids = items.semanticIds;
    if (!ids || !ids.some((s) => s.length >= 3)) throw new ConfigError(`itemPrior '${prior}': the dataset has no semantic ids`);
    // The three codebook digits (the fourth, a collision digit, carries no content).
    const vocab = [0, 1, 2].map((l) => 1 + Math.max(0, ...ids.map((s) => (s.length > l ? s[l] : 0))));
    const offsets = [0, vocab[0], vocab[0] + vocab[1]];
    parts.push({
      width: vocab[0] + vocab[1] + vocab[2],
      fill: (row, o, i) => {
        const s = ids[i];
        if (s.length < 3) return;
        for (let l = 0; l < 3; l++) row[o + offsets[l] + s[l]] = 1 / Math.sqrt(3);
      },
    });
  }
  if (prior === 'cooccurrence' || prior === 'attributes+cooccurrence') {
    if (!trainSequences) throw new ConfigError(`itemPrior '${prior}' needs the train split's sequences (create the agent with trainSequences)`);
    const R = cooccurrence.rank;
    const factors = cachedCooccurrenceFactors(N, trainSequences, cooccurrence);
    parts.push({
      width: R,
      fill: (row, o, i) => {
        let norm = 0;
        for (let r = 0; r < R; r++) norm += factors[i * R + r] ** 2;
        if (norm === 0) return;
        const inv = 1 / Math.sqrt(norm);
        for (let r = 0; r < R; r++) row[o + r] = factors[i * R + r] * inv;
      },
    });
  }
  const features = parts.reduce((n, x) => n + x.width, 0);
  const values = new Float32Array(N * features);
  for (let i = 0; i < N; i++) {
    const row = values.subarray(i * features, (i + 1) * features);
    let o = 0;
    for (const part of parts) {
      part.fill(row, o, i);
      o += part.width;
    }
  }
  return { features, values };
}

export class PolicyNetwork {
  readonly params: ParamSet;
  readonly config: PolicyConfig;
  /** STOP's action id. */
  readonly stop: number;
  /** F of the item prior [N × features] (a constant), or null without one. */
  private readonly content: tf.Tensor2D | null;

  /**
   * @param seed fixes every initial weight (drawn in JS from an Rng stream, not by tfjs).
   * @param trainable false for a frozen reference copy.
   * @param items the environment's item table: needed when `config.itemPrior` is not 'none'.
   * @param trainSequences the train split's item sequences: needed by the 'cooccurrence' priors.
   */
  constructor(
    readonly numItems: number,
    config: Partial<PolicyConfig>,
    seed: number,
    trainable = true,
    label = 'policy',
    readonly items: ItemTable | null = null,
    readonly trainSequences: readonly (readonly number[])[] | null = null,
  ) {
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
      p.add('gru_wx', [d, 3 * d], glorot(rng, d, 3 * d), { decay: true });
      p.add('gru_wh', [d, 3 * d], normalArray(rng, d * 3 * d, 1 / Math.sqrt(d)), { decay: true });
      p.add('gru_b', [3 * d], new Float32Array(3 * d));
    } else {
      // Positions 0..HISTORY_LENGTH + maxLength − 1 for tokens (later ones share the last), and
      // one more row for the target token, whose position must not depend on the batch's padding.
      const P = HISTORY_LENGTH + this.config.maxLength + 1;
      p.add('att_pos', [P, d], normalArray(rng, P * d, 0.1), { decay: true });
      for (const k of ['att_wq', 'att_wk', 'att_wv', 'att_wo']) p.add(k, [d, d], glorot(rng, d, d), { decay: true });
      p.add('att_ln1_g', [d], new Float32Array(d).fill(1));
      p.add('att_ln1_b', [d], new Float32Array(d));
      p.add('att_ff1', [d, 2 * d], glorot(rng, d, 2 * d), { decay: true });
      p.add('att_ff1_b', [2 * d], new Float32Array(2 * d));
      p.add('att_ff2', [2 * d, d], glorot(rng, 2 * d, d), { decay: true });
      p.add('att_ff2_b', [d], new Float32Array(d));
      p.add('att_ln2_g', [d], new Float32Array(d).fill(1));
      p.add('att_ln2_b', [d], new Float32Array(d));
    }
    const S = this.config.maxLength + 1;
    p.add('step_emb', [S, d], normalArray(rng, S * d, 0.1), { decay: true });
    p.add('head_w1', [4 * d, 2 * d], glorot(rng, 4 * d, 2 * d), { decay: true });
    p.add('head_b1', [2 * d], new Float32Array(2 * d));
    p.add('head_w2', [2 * d, d], glorot(rng, 2 * d, d), { decay: true });
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
    const [xz, xr, xn] = tf.split(x, 3, 1);
    const [hz, hr, hn] = tf.split(hh, 3, 1);
    const z = tf.sigmoid(tf.add(xz, hz));
    const r = tf.sigmoid(tf.add(xr, hr));
    const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
    return tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)) as tf.Tensor2D;
  }

  /** Pre-norm layer norm over the last axis with gain `g` and bias `b` (parameter keys). */
  layerNorm(x: tf.Tensor, g: string, b: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), this.params.get(g)), this.params.get(b));
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
    const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)), tf.tensor3d(mask, [B, Q, T + 1]));
    const att = tf.reshape(tf.matMul(tf.softmax(scores), v), [B * Q, d]);
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
   * A cached, step-by-step view of this policy on B episodes (histories B × HISTORY_LENGTH, oldest
   * first; one target per row): see IncrementalPolicy. The weights must not change while it lives.
   */
  incremental(history: Int32Array, target: Int32Array): IncrementalPolicy {
    return new IncrementalPolicy(this, history, target);
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

// ---------------------------------------------------------------------------------------------
// Acting step by step with a cache
// ---------------------------------------------------------------------------------------------

/**
 * The policy acting on a batch of B episodes one decision at a time (rollouts, validation), with
 * the encoder's work cached so that each decision encodes only the newest token:
 * - attention: the keys and values of the history, the target and the path items so far are kept
 *   ([rows × S × d], S slots); a new path item is one query over them and itself, and its key and
 *   value join the cache (hidden from later queries when the user rejected the item, as in
 *   `encode`'s mask). Per step O(S·d) attention work instead of re-encoding O(S²) for every row.
 * - GRU: the hidden state is kept; a new item is one cell step.
 * Log-probabilities equal `nextLogProbs` on the same paths up to float round-off (tested), with
 * the same masks. The item table E = itemTable() is computed once, at construction: the policy's
 * weights must not change while the session lives.
 *
 * Per step: `nextLogProbs(rows)` for the batch rows still deciding (a subset of the previous
 * call's rows: finished rows leave the cache), then `append(rows, items, accepted)` for the rows
 * whose item was proposed (a subset of those; the others keep their state). `dispose()` at the end.
 */
export class IncrementalPolicy {
  readonly size: number;
  private readonly E: tf.Tensor2D;
  private readonly ownsE: boolean;
  private readonly items: number[][];
  private readonly accepted: number[][];
  /** Per batch row, the additive mask of each cached key slot (0 visible, FORBIDDEN hidden). */
  private readonly slotMask: number[][];
  /** Batch rows whose states the tensors hold, in tensor order. */
  private rows: number[];
  /** State after each held row's path so far [rows × d] (the input of the head). */
  private h: tf.Tensor2D;
  /** Attention only: cached keys and values [rows × S × d]. */
  private K: tf.Tensor3D | null = null;
  private V: tf.Tensor3D | null = null;
  private disposed = false;

  constructor(
    readonly net: PolicyNetwork,
    readonly history: Int32Array,
    readonly target: Int32Array,
  ) {
    const B = target.length;
    if (history.length !== B * HISTORY_LENGTH) throw new ContractError(`IncrementalPolicy: ${history.length} history items for ${B} rows of ${HISTORY_LENGTH}`);
    this.size = B;
    this.items = Array.from({ length: B }, () => []);
    this.accepted = Array.from({ length: B }, () => []);
    this.rows = Array.from({ length: B }, (_, b) => b);
    const E = tf.tidy(() => net.itemTable());
    this.ownsE = !(E instanceof tf.Variable);
    this.E = E;
    const d = net.config.dim;
    if (net.config.encoder === 'gru') {
      this.slotMask = [];
      this.h = tf.tidy(() => {
        let h = tf.zeros([B, d]) as tf.Tensor2D;
        for (let j = 0; j < HISTORY_LENGTH; j++) {
          const col = Int32Array.from({ length: B }, (_, b) => history[b * HISTORY_LENGTH + j]);
          h = net.gruCell(h, this.gruInput(col));
        }
        return h;
      });
      return;
    }
    // Attention: the history tokens and the target, keys and values of all; the query of the
    // newest history token gives the state after 0 items (it sees the whole history and the target).
    this.slotMask = Array.from({ length: B }, () => new Array<number>(HISTORY_LENGTH + 1).fill(0));
    const posTable = net.params.get('att_pos');
    const targetPos = posTable.shape[0] - 1;
    const [h, K, V] = tf.tidy(() => {
      const T1 = HISTORY_LENGTH + 1;
      const tokens = tf.reshape(tf.gather(this.E, tf.tensor1d(history, 'int32')), [B, HISTORY_LENGTH, d]);
      const tgt = tf.reshape(tf.gather(this.E, tf.tensor1d(target, 'int32')), [B, 1, d]);
      const pos = Int32Array.from({ length: T1 }, (_, j) => (j === HISTORY_LENGTH ? targetPos : j));
      const x = tf.add(tf.concat([tokens, tgt], 1), tf.expandDims(tf.gather(posTable, tf.tensor1d(pos, 'int32')), 0));
      const xn = net.layerNorm(x, 'att_ln1_g', 'att_ln1_b');
      const flat = (t: tf.Tensor) => tf.reshape(t, [B * T1, d]) as tf.Tensor2D;
      const K = tf.reshape(tf.matMul(flat(xn), net.params.get('att_wk')), [B, T1, d]) as tf.Tensor3D;
      const V = tf.reshape(tf.matMul(flat(xn), net.params.get('att_wv')), [B, T1, d]) as tf.Tensor3D;
      const last = (t: tf.Tensor) => tf.reshape(tf.slice(t, [0, HISTORY_LENGTH - 1, 0], [B, 1, d]), [B, d]) as tf.Tensor2D;
      const q = tf.matMul(last(xn), net.params.get('att_wq')) as tf.Tensor2D;
      const h = this.attend(last(x), q, K, V, new Float32Array(B * T1));
      return [h, K, V];
    });
    this.h = h;
    this.K = K;
    this.V = V;
  }

  /** e·W_x + b of each item [M × 3d] (GRU). */
  private gruInput(items: Int32Array): tf.Tensor2D {
    return tf.add(tf.matMul(tf.gather(this.E, tf.tensor1d(items, 'int32')), this.net.params.get('gru_wx')), this.net.params.get('gru_b')) as tf.Tensor2D;
  }

  /**
   * One query per row over that row's keys/values [M × S × d] with the additive key mask [M × S]:
   * the block output of the query token x [M × d] (the same operations as `encode`, per token).
   */
  private attend(x: tf.Tensor2D, q: tf.Tensor2D, K: tf.Tensor3D, V: tf.Tensor3D, mask: Float32Array): tf.Tensor2D {
    const [M, S, d] = K.shape;
    const scores = tf.add(tf.div(tf.sum(tf.mul(K, tf.expandDims(q, 1)), 2), Math.sqrt(d)), tf.tensor2d(mask, [M, S]));
    const att = tf.sum(tf.mul(tf.expandDims(tf.softmax(scores), 2), V), 1) as tf.Tensor2D;
    return this.net.blockOutput(x, att);
  }

  private live(): void {
    if (this.disposed) throw new ContractError('IncrementalPolicy used after dispose()');
  }

  /** Positions in the held tensors of `rows` (each must be held). */
  private positions(rows: ArrayLike<number>): Int32Array {
    const at = new Map<number, number>();
    this.rows.forEach((b, i) => at.set(b, i));
    return Int32Array.from({ length: rows.length }, (_, i) => {
      const p = at.get(rows[i]);
      if (p === undefined) throw new ContractError(`IncrementalPolicy: row ${rows[i]} is not in the session any more (rows only leave)`);
      return p;
    });
  }

  /** Keeps only `rows` (in this order) in the held tensors. */
  private narrow(rows: readonly number[]): void {
    if (rows.length === this.rows.length && rows.every((b, i) => b === this.rows[i])) return;
    const idx = this.positions(rows);
    const keep = <T extends tf.Tensor>(t: T): T => {
      const out = tf.tidy(() => tf.gather(t, tf.tensor1d(idx, 'int32'))) as T;
      t.dispose();
      return out;
    };
    this.h = keep(this.h);
    if (this.K) this.K = keep(this.K);
    if (this.V) this.V = keep(this.V);
    this.rows = [...rows];
  }

  /** The paths so far of `rows`, packed (for the masks). */
  trajectories(rows: readonly number[]): Trajectories {
    return packPaths(
      rows.map((b) => ({
        history: this.history.subarray(b * HISTORY_LENGTH, (b + 1) * HISTORY_LENGTH),
        target: this.target[b],
        items: this.items[b],
        accepted: this.accepted[b],
      })),
    );
  }

  /**
   * Log-probabilities of the next action of each of `rows` (batch rows, a subset of the previous
   * call's), read into JS [rows.length × (N+1)]; masks as `nextLogProbs` (`extra`: one mask per
   * row of `rows`).
   */
  nextLogProbs(rows: readonly number[], extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}): Float32Array {
    return this.next(rows, extra, opts, tf.logSoftmax);
  }

  /**
   * Probabilities of the next action of each of `rows` [rows.length × (N+1)] (0 exactly where
   * forbidden), as `nextLogProbs` but through the backend's softmax: on wasm a vectorised kernel,
   * where log-softmax runs a scalar exp (a copy: rollouts read them in place with `withNextProbs`).
   */
  nextProbs(rows: readonly number[], extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}): Float32Array {
    return this.withNextProbs(rows, (p) => p.slice(), extra, opts);
  }

  /**
   * `read(p)` over the probabilities `nextProbs` would return, without copying them out of the
   * backend (on wasm, a view of the heap: `read` must not call tfjs, nor keep `p`). Rollouts sample
   * this way (sampleFromProbs).
   */
  withNextProbs<T>(rows: readonly number[], read: (probs: Float32Array) => T, extra?: readonly (Uint8Array | null)[] | null, opts: MaskOptions = {}): T {
    const t = this.nextTensor(rows, extra, opts, tf.softmax);
    let out: T | undefined;
    try {
      passOverTensorData([t], [], ([p]) => void (out = read(p)));
    } finally {
      t.dispose();
    }
    return out as T;
  }

  private next(
    rows: readonly number[],
    extra: readonly (Uint8Array | null)[] | null | undefined,
    opts: MaskOptions,
    normalise: (x: tf.Tensor2D) => tf.Tensor2D,
  ): Float32Array {
    const t = this.nextTensor(rows, extra, opts, normalise);
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  }

  private nextTensor(
    rows: readonly number[],
    extra: readonly (Uint8Array | null)[] | null | undefined,
    opts: MaskOptions,
    normalise: (x: tf.Tensor2D) => tf.Tensor2D,
  ): tf.Tensor2D {
    this.live();
    this.narrow(rows);
    const traj = this.trajectories(rows);
    const terms = nextTerms(traj);
    const mask = this.net.maskTensor(traj, terms, extra, opts);
    try {
      return tf.tidy(() => normalise(tf.add(this.net.stateLogits(this.h, traj.target, terms.t, this.E), mask)));
    } finally {
      mask.dispose();
    }
  }

  /**
   * Appends items[i] to the path of rows[i] (rows: held batch rows), accepted[i] saying whether
   * the user accepted it (it then joins the user's sequence). Held rows not in `rows` keep their
   * state (their cache gets a hidden slot, so that slots stay aligned).
   */
  append(rows: readonly number[], items: ArrayLike<number>, accepted: ArrayLike<number | boolean>): void {
    this.live();
    if (items.length !== rows.length || accepted.length !== rows.length)
      throw new ContractError('IncrementalPolicy.append: rows, items and accepted differ in length');
    if (rows.length === 0) return;
    const net = this.net;
    const N = net.numItems;
    const M = rows.length;
    const held = this.rows.length;
    const at = this.positions(rows);
    const itemIds = Int32Array.from(items);
    for (let i = 0; i < M; i++)
      if (!(itemIds[i] >= 0 && itemIds[i] < N)) throw new ContractError(`IncrementalPolicy.append: item ${itemIds[i]} is not in [0, ${N})`);
    const acc = Float32Array.from({ length: M }, (_, i) => (accepted[i] ? 1 : 0));
    // Index of each held row in [new rows ‖ old rows]: its new state if appended, else its old one.
    const fromNew = new Int32Array(held);
    for (let p = 0; p < held; p++) fromNew[p] = M + p;
    at.forEach((p, i) => (fromNew[p] = i));
    const d = net.config.dim;
    if (net.config.encoder === 'gru') {
      const next = tf.tidy(() => {
        const h = tf.gather(this.h, tf.tensor1d(at, 'int32')) as tf.Tensor2D;
        const cand = net.gruCell(h, this.gruInput(itemIds));
        // A rejected item leaves the user's sequence, hence the state, unchanged.
        const a = tf.tensor2d(acc, [M, 1]);
        const hNew = tf.add(tf.mul(a, cand), tf.mul(tf.sub(1, a), h));
        return tf.gather(tf.concat([hNew, this.h]), tf.tensor1d(fromNew, 'int32')) as tf.Tensor2D;
      });
      this.h.dispose();
      this.h = next;
    } else {
      const posTable = net.params.get('att_pos');
      const maxPos = posTable.shape[0] - 2;
      const pos = Int32Array.from(rows, (b) => Math.min(HISTORY_LENGTH + this.items[b].length, maxPos));
      const S = this.K!.shape[1];
      const mask = new Float32Array(M * (S + 1));
      rows.forEach((b, i) => {
        const m = this.slotMask[b];
        for (let s = 0; s < S; s++) mask[i * (S + 1) + s] = m[s];
      });
      const [h, K, V] = tf.tidy(() => {
        const x = tf.add(tf.gather(this.E, tf.tensor1d(itemIds, 'int32')), tf.gather(posTable, tf.tensor1d(pos, 'int32'))) as tf.Tensor2D;
        const xn = net.layerNorm(x, 'att_ln1_g', 'att_ln1_b') as tf.Tensor2D;
        const q = tf.matMul(xn, net.params.get('att_wq')) as tf.Tensor2D;
        const k = tf.expandDims(tf.matMul(xn, net.params.get('att_wk')), 1);
        const v = tf.expandDims(tf.matMul(xn, net.params.get('att_wv')), 1);
        const sel = tf.tensor1d(at, 'int32');
        // The new token sees the visible cached keys and itself (a query always sees itself).
        const hNew = this.attend(
          x,
          q,
          tf.concat([tf.gather(this.K!, sel), k], 1) as tf.Tensor3D,
          tf.concat([tf.gather(this.V!, sel), v], 1) as tf.Tensor3D,
          mask,
        );
        const order = tf.tensor1d(fromNew, 'int32');
        // Held rows not appended get a zero slot (hidden below) and keep their state.
        const pad = tf.zeros([held, 1, d]);
        const K = tf.concat([this.K!, tf.gather(tf.concat([k, pad]), order)], 1) as tf.Tensor3D;
        const V = tf.concat([this.V!, tf.gather(tf.concat([v, pad]), order)], 1) as tf.Tensor3D;
        return [tf.gather(tf.concat([hNew, this.h]), order) as tf.Tensor2D, K, V];
      });
      this.h.dispose();
      this.K!.dispose();
      this.V!.dispose();
      this.h = h;
      this.K = K;
      this.V = V;
      const appended = new Map<number, number>();
      rows.forEach((b, i) => appended.set(b, i));
      for (const b of this.rows) {
        const i = appended.get(b);
        // A rejected item is not part of the user's sequence: later queries do not see it.
        this.slotMask[b].push(i !== undefined && acc[i] === 1 ? 0 : FORBIDDEN);
      }
    }
    rows.forEach((b, i) => {
      this.items[b].push(itemIds[i]);
      this.accepted[b].push(acc[i]);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.h.dispose();
    this.K?.dispose();
    this.V?.dispose();
    if (this.ownsE) this.E.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** Draws one action per row from log-probabilities [B × A], row b with a uniform from `rng(b)` (inverse CDF). */
export function sampleFromLogProbs(logp: Float32Array, B: number, A: number, rng: (row: number) => Rng): { actions: Int32Array; logProbs: Float64Array } {
  const actions = new Int32Array(B);
  const logProbs = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let u = rng(b).float();
    let chosen = -1;
    let last = -1;
    for (let a = 0; a < A; a++) {
      const p = Math.exp(logp[o + a]);
      if (p <= 0) continue;
      last = a;
      u -= p;
      if (u < 0) {
        chosen = a;
        break;
      }
    }
    // Rounding left u ≥ 0 after the last positive-probability action: take that action.
    if (chosen < 0) chosen = last;
    actions[b] = chosen;
    logProbs[b] = logp[o + chosen];
  }
  return { actions, logProbs };
}

/**
 * Draws one action per row from probabilities [B × A] (rows summing to 1 up to rounding), row b
 * with a uniform from `rng(b)` (inverse CDF, as sampleFromLogProbs).
 */
export function sampleFromProbs(probs: Float32Array, B: number, A: number, rng: (row: number) => Rng): Int32Array {
  const actions = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let u = rng(b).float();
    let chosen = -1;
    let last = -1;
    for (let a = 0; a < A; a++) {
      const p = probs[o + a];
      if (p <= 0) continue;
      last = a;
      u -= p;
      if (u < 0) {
        chosen = a;
        break;
      }
    }
    // Rounding left u ≥ 0 after the last positive-probability action: take that action.
    actions[b] = chosen < 0 ? last : chosen;
  }
  return actions;
}

/** greedyFromLogProbs on probabilities: STOP when π(STOP) ≥ 1/2, else the most probable allowed item. */
export function greedyFromProbs(probs: Float32Array, B: number, A: number): Int32Array {
  const stop = A - 1;
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let best = stop;
    let bestV = 0;
    if (probs[o + stop] < 0.5) {
      for (let a = 0; a < stop; a++) {
        const v = probs[o + a];
        if (v > bestV) {
          bestV = v;
          best = a;
        }
      }
    }
    out[b] = best;
  }
  return out;
}

/**
 * Greedy decoding of the factored decision: STOP when π(STOP) ≥ 1/2 (stopping is likelier than
 * continuing), otherwise the most probable item. A plain argmax over items ∪ STOP would nearly
 * always STOP: the continue mass is spread over N items while STOP is one action.
 */
export function greedyFromLogProbs(logp: Float32Array, B: number, A: number): Int32Array {
  const stop = A - 1;
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let best = stop;
    let bestV = -Infinity;
    if (Math.exp(logp[o + stop]) < 0.5) {
      for (let a = 0; a < stop; a++) {
        const v = logp[o + a];
        if (v > bestV && !isForbidden(v)) {
          bestV = v;
          best = a;
        }
      }
    }
    out[b] = best;
  }
  return out;
}

export interface BeamPath {
  /** Recommended items (STOP implicit after the last, unless `stopped` is false: truncated at L_max). */
  items: number[];
  /** Σ log π over the items and the STOP term. */
  logProb: number;
  stopped: boolean;
}

/**
 * Beam search for K candidate paths per case. Two stopping rules:
 * - 'gate' (default): a beam finishes with STOP when π(STOP) ≥ 1/2 (as greedy decoding), else it
 *   is extended by its top-K items. Paths compete on Σ log π, STOP term included.
 * - 'joint': every beam is extended by its top-K items and by STOP. Ranking finished paths of all
 *   lengths by Σ log π favours the shortest ones (each item costs ~log(1/N)): the empty path
 *   usually wins, which is why 'gate' is the default.
 * The K best live extensions per case survive each step. A path reaching `maxLength` items finishes
 * without a STOP term (the environment truncates it). A case's search ends when K finished paths
 * score at least as high as its best live beam (log-probabilities only decrease). Returns up to K
 * distinct paths per case, best first.
 */
export function beamSearch(
  net: PolicyNetwork,
  cases: readonly { history: ArrayLike<number>; target: number; prefix?: readonly number[] }[],
  K: number,
  maxLength: number,
  opts: { stopRule?: 'gate' | 'joint' } = {},
): BeamPath[][] {
  const A = net.numItems + 1;
  const stop = net.stop;
  const gate = (opts.stopRule ?? 'gate') === 'gate';
  type Beam = { c: number; items: number[]; logProb: number };
  let live: Beam[] = cases.map((c, i) => ({ c: i, items: [...(c.prefix ?? [])], logProb: 0 }));
  const finished: BeamPath[][] = cases.map(() => []);
  const kth = (xs: BeamPath[]) => (xs.length >= K ? xs[K - 1].logProb : -Infinity);
  while (live.length > 0) {
    // Beams already at the length limit finish as truncated paths.
    const next: Beam[] = [];
    for (const b of live) {
      if (b.items.length >= maxLength) finished[b.c].push({ items: b.items, logProb: b.logProb, stopped: false });
      else next.push(b);
    }
    live = next;
    if (live.length === 0) break;
    const traj = packPaths(live.map((b) => ({ history: cases[b.c].history, target: cases[b.c].target, items: b.items })));
    const logp = net.nextLogProbs(traj);
    const expansions = new Map<number, Beam[]>();
    live.forEach((b, r) => {
      const o = r * A;
      // Top-K items of this beam (K small: a partial selection).
      const top: { a: number; v: number }[] = [];
      for (let a = 0; a < stop; a++) {
        const v = logp[o + a];
        if (isForbidden(v)) continue;
        if (top.length < K) {
          top.push({ a, v });
          top.sort((x, y) => y.v - x.v);
        } else if (v > top[K - 1].v) {
          top[K - 1] = { a, v };
          top.sort((x, y) => y.v - x.v);
        }
      }
      const stops = !gate || top.length === 0 || Math.exp(logp[o + stop]) >= 0.5;
      if (stops) finished[b.c].push({ items: b.items, logProb: b.logProb + logp[o + stop], stopped: true });
      if (gate && stops) return;
      const list = expansions.get(b.c) ?? [];
      for (const { a, v } of top) list.push({ c: b.c, items: [...b.items, a], logProb: b.logProb + v });
      expansions.set(b.c, list);
    });
    live = [];
    for (const [c, list] of expansions) {
      finished[c].sort((x, y) => y.logProb - x.logProb);
      list.sort((x, y) => y.logProb - x.logProb);
      const bar = kth(finished[c]);
      for (const b of list.slice(0, K)) if (b.logProb > bar) live.push(b);
    }
  }
  return finished.map((f) => f.sort((x, y) => y.logProb - x.logProb).slice(0, K));
}
