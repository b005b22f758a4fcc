/**
 * The user simulator: a model of how a user's interest follows the items they consume.
 * For a sequence s it gives a state u(s) and scores over all N items; p(i | s) = softmax(scores)_i;
 * CTR of item a = sigmoid(u(s) · e_a) = sigmoid(score_a) (docs/design.md §2.2).
 *
 * The interface is batched and stateful: `open` starts a batch of sequences, `advance` appends one
 * item to each (active) row. A simulator that can update its state incrementally (a GRU's hidden
 * state, SASRec's cached keys and values, the synthetic world's moving average) does so in
 * `advance`; a simple one may recompute. Either way the environment makes one `advance` call per
 * step for its whole batch.
 */
import { RunFailure } from '../core/errors.ts';

/**
 * The one tie rule for every rank the project computes (IoR, success, HR@10 / NDCG@10, the
 * popularity baseline, the specificity percentile): the **mid-rank**,
 *
 *     rank(T) = 1 + #{i : s_i > s_T} + ½·#{i ≠ T : s_i = s_T},
 *
 * T's expected position when ties are broken uniformly at random. A simulator that scores every
 * item alike ranks each target (N + 1)/2, so ties can never count as hits (1 + #above would rank
 * every target 1), and no item id decides a tie. Ranks are therefore multiples of ½.
 */
export interface TargetStats {
  /** log p(T | s) per row. */
  readonly logProb: Float64Array;
  /** rank(T | s), the mid-rank above (1 = alone at the top), per row. */
  readonly rank: Float64Array;
}

export interface AdvanceResult extends TargetStats {
  /** CTR of the appended item under the state *before* it was appended. */
  readonly ctr: Float64Array;
}

export interface SimulatorBatch {
  readonly size: number;
  /** u(s) per row, row-major [size × stateDim]. */
  states(): Float32Array;
  /** Scores over all items per row, row-major [size × numItems]. */
  scores(): Float32Array;
  /** log p(T|s) and rank(T|s) for each row's target. */
  targetStats(targets: Int32Array): TargetStats;
  /** sigmoid(u(s) · e_item) per row, under the current state. */
  ctr(items: Int32Array): Float64Array;
  /**
   * For each row r with `rows` undefined or rows[r] = 1: CTR of items[r] under the current state,
   * then append items[r]; then the target stats of every row (rows not appended keep theirs).
   * Rows with rows[r] = 0 report ctr 0 and are left unchanged.
   */
  advance(items: Int32Array, targets: Int32Array, rows?: Uint8Array): AdvanceResult;
  /** An independent copy (for lookahead planners). */
  clone(): SimulatorBatch;
  /** Releases tensors or buffers; the batch is unusable afterwards. */
  dispose(): void;
}

export interface UserSimulator {
  /** A short description, recorded in result files (e.g. 'synthetic-exact', 'sasrec@ml-1m#seed1'). */
  readonly id: string;
  readonly numItems: number;
  readonly stateDim: number;
  /** Starts a batch from full sequences (each non-empty, items in [0, numItems)). */
  open(sequences: readonly (readonly number[])[]): SimulatorBatch;
}

/**
 * log p(target) of one row of scores, and the target's mid-rank in it (see TargetStats). Shared by simulators.
 * `knownMax`: the row's maximum score when the caller has it (saves a pass).
 */
export function rowTargetStats(scores: ArrayLike<number>, offset: number, n: number, target: number, knownMax?: number): { logProb: number; rank: number } {
  let max = knownMax ?? -Infinity;
  if (knownMax === undefined)
    for (let i = 0; i < n; i++) {
      const v = scores[offset + i];
      if (v > max) max = v;
    }
  const t = scores[offset + target];
  let sum = 0;
  let above = 0;
  let tied = -1; // the target ties with itself
  for (let i = 0; i < n; i++) {
    const v = scores[offset + i];
    sum += Math.exp(v - max);
    if (v > t) above++;
    else if (v === t) tied++;
  }
  return targetStatsFromSums(t, max, sum, above, tied);
}

/**
 * log p(T) and the mid-rank of T from the target's score t, the maximum score, Σ exp(s − max) and
 * the counts of scores above and tied with t (itself excluded). Throws on non-finite scores.
 */
export function targetStatsFromSums(t: number, max: number, sum: number, above: number, tied: number): { logProb: number; rank: number } {
  if (!Number.isFinite(max) || !Number.isFinite(sum)) throw new RunFailure('simulator produced non-finite scores');
  return { logProb: t - max - Math.log(sum), rank: midRank(above, tied) };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The mid-rank from the counts of items scored above the target and tied with it (itself excluded). */
export function midRank(above: number, tied: number): number {
  return 1 + above + tied / 2;
}
