/** The policy acting step by step with its encoder's work cached (rollouts, validation). */
import { FORBIDDEN } from '../../compute/masks.ts';
import * as tf from '@tensorflow/tfjs';
import { attentionWeights, queryKeyDots } from '../../compute/nn/index.ts';
import { passOverTensorData } from '../../compute/tensor-data.ts';
import { HISTORY_LENGTH } from '../../data/dataset.ts';
import { ContractError } from '../../core/errors.ts';
import { nextTerms, packPaths, type MaskOptions, type Trajectories } from './batch.ts';
import type { PolicyNetwork } from './network.ts';

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
    const weights = attentionWeights(queryKeyDots(tf.expandDims(q, 1), K), d, tf.tensor2d(mask, [M, S]), { scale: 'divide' });
    // The read-out as a weighted sum over the slots (not a batched product: other bits).
    const att = tf.sum(tf.mul(tf.expandDims(weights, 2), V), 1) as tf.Tensor2D;
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
