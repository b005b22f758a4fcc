/**
 * Held-out next-item evaluation: for each sequence, the simulator reads all items but the last and
 * ranks the last among all N items (no item excluded). HR@10 = share of ranks ≤ 10;
 * NDCG@10 = mean of 1/log2(1 + rank) over ranks ≤ 10. rank is the project's mid-rank (1 + items
 * scored above the target + ½·items tied with it: envs/simulator.ts), computed by the simulator's
 * own `targetStats`, so the numbers describe the exact model the environment uses. The popularity
 * baseline ranks by train counts under the same tie rule (no item id decides a tie).
 */
import type { Dataset, Split } from '../dataset.ts';
import { midRank, type UserSimulator } from '../simulator.ts';
import type { RankingMetrics } from './checkpoint.ts';

export interface HeldOut {
  prefixes: number[][];
  targets: Int32Array;
}

/** Sequences of at least 2 items, split into prefix and last item; `limit` > 0 keeps the first `limit`. */
export function heldOutNextItems(sequences: readonly (readonly number[])[], limit = 0): HeldOut {
  const usable = sequences.filter((s) => s.length >= 2);
  const kept = limit > 0 ? usable.slice(0, limit) : usable;
  return { prefixes: kept.map((s) => s.slice(0, -1)), targets: Int32Array.from(kept.map((s) => s[s.length - 1])) };
}

export function metricsFromRanks(ranks: ArrayLike<number>): RankingMetrics {
  let hits = 0;
  let ndcg = 0;
  for (let i = 0; i < ranks.length; i++) {
    if (ranks[i] <= 10) {
      hits++;
      ndcg += 1 / Math.log2(1 + ranks[i]);
    }
  }
  const n = ranks.length;
  return { hr10: n ? hits / n : 0, ndcg10: n ? ndcg / n : 0, count: n };
}

/** rank(T|prefix) and log p(T|prefix) of each held-out item under the simulator. */
export function simulatorTargetStats(simulator: UserSimulator, heldOut: HeldOut, chunk = 256): { rank: Float64Array; logProb: Float64Array } {
  const rank = new Float64Array(heldOut.targets.length);
  const logProb = new Float64Array(heldOut.targets.length);
  for (let start = 0; start < rank.length; start += chunk) {
    const end = Math.min(rank.length, start + chunk);
    const batch = simulator.open(heldOut.prefixes.slice(start, end));
    try {
      const stats = batch.targetStats(heldOut.targets.subarray(start, end));
      rank.set(stats.rank, start);
      logProb.set(stats.logProb, start);
    } finally {
      batch.dispose();
    }
  }
  return { rank, logProb };
}

export function simulatorRanks(simulator: UserSimulator, heldOut: HeldOut, chunk = 256): Float64Array {
  return simulatorTargetStats(simulator, heldOut, chunk).rank;
}

/** The mid-rank (envs/simulator.ts) of each target when items are ranked by their train counts. */
export function popularityRanks(popularity: ArrayLike<number>, targets: Int32Array): Float64Array {
  const n = popularity.length;
  // Count items above and tied per distinct count value once: O(N log N + targets).
  const sorted = Float64Array.from(popularity).sort();
  const countAtLeast = (v: number) => n - lowerBound(sorted, v);
  const countAbove = (v: number) => n - upperBound(sorted, v);
  return Float64Array.from(targets, (t) => {
    const v = popularity[t];
    const above = countAbove(v);
    return midRank(above, countAtLeast(v) - above - 1);
  });
}

function lowerBound(xs: Float64Array, v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(xs: Float64Array, v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface EvaluationReport {
  split: Split;
  simulator: RankingMetrics;
  popularity: RankingMetrics;
}

/** HR@10 and NDCG@10 of the simulator on a split's held-out next items, beside popularity. */
export function evaluateSimulator(opts: { simulator: UserSimulator; dataset: Dataset; split?: Split; limit?: number }): EvaluationReport {
  const split = opts.split ?? 'valid';
  const heldOut = heldOutNextItems(opts.dataset.sequences[split], opts.limit ?? 0);
  return {
    split,
    simulator: metricsFromRanks(simulatorRanks(opts.simulator, heldOut)),
    popularity: metricsFromRanks(popularityRanks(opts.dataset.popularity, heldOut.targets)),
  };
}
