/**
 * Held-out next-item evaluation: for each sequence, the simulator reads all items but the last and
 * ranks the last among all N items (no item excluded). HR@10 = share of ranks ≤ 10;
 * NDCG@10 = mean of 1/log2(1 + rank) over ranks ≤ 10. rank = 1 + items scored strictly above the
 * target (DESIGN §2), computed by the simulator's own `targetStats`, so the numbers describe the
 * exact model the environment uses. The popularity baseline ranks by train counts, ties broken by
 * item id, so that it is a real ranking and not an optimistic one.
 */
import type { Dataset, Split } from '../dataset.ts';
import type { UserSimulator } from '../simulator.ts';
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
export function simulatorTargetStats(simulator: UserSimulator, heldOut: HeldOut, chunk = 256): { rank: Int32Array; logProb: Float64Array } {
  const rank = new Int32Array(heldOut.targets.length);
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

export function simulatorRanks(simulator: UserSimulator, heldOut: HeldOut, chunk = 256): Int32Array {
  return simulatorTargetStats(simulator, heldOut, chunk).rank;
}

export function popularityRanks(popularity: ArrayLike<number>, targets: Int32Array): Int32Array {
  const n = popularity.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => popularity[b] - popularity[a] || a - b);
  const position = new Int32Array(n);
  order.forEach((item, k) => (position[item] = k + 1));
  return Int32Array.from(targets, (t) => position[t]);
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
