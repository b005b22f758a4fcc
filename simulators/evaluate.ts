/**
 * Held-out next-item evaluation of a simulator on its own temporal leave-one-out split of
 * `Dataset.simulatorSequences` (the paper's protocol for the user model): per sequence, the last
 * item is the test item, the one before it the valid item (early stopping), and the rest is
 * training data. The simulator reads the prefix before a held-out item and ranks that item among
 * all N items (none excluded). HR@10 = share of ranks ≤ 10; NDCG@10 = mean of 1/log2(1 + rank) over
 * ranks ≤ 10. Ranks are the project's mid-rank (1 + items scored above the target + ½·items tied
 * with it: simulators/simulator.ts), from the simulator's own `targetStats`, so the numbers describe the
 * exact model the environment uses. The popularity baseline ranks by the counts in the
 * simulator's training part under the same tie rule (no item id decides a tie).
 */
import type { Dataset } from '../data/dataset.ts';
import { itemCounts } from '../data/dataset.ts';
import { midRank, type UserSimulator } from './simulator.ts';
import type { RankingMetrics } from './checkpoint.ts';
import { runToEnd, runYielding } from '../core/interrupt.ts';
import { invariant } from '../core/errors.ts';

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

export interface LeaveOneOut {
  /** Each sequence without its last two items (the whole sequence when it has fewer than 3). */
  train: number[][];
  /** Per sequence of ≥ 3 items: the items before the second-to-last → the second-to-last. */
  valid: HeldOut;
  /** Per sequence of ≥ 3 items: the items before the last → the last. */
  test: HeldOut;
}

/** The temporal leave-one-out split of each sequence (last item test, second-to-last valid). */
export function leaveOneOut(sequences: readonly (readonly number[])[]): LeaveOneOut {
  const train: number[][] = [];
  const valid: HeldOut = { prefixes: [], targets: new Int32Array(0) };
  const test: HeldOut = { prefixes: [], targets: new Int32Array(0) };
  const validTargets: number[] = [];
  const testTargets: number[] = [];
  for (const s of sequences) {
    if (s.length < 3) {
      train.push([...s]);
      continue;
    }
    train.push(s.slice(0, -2));
    valid.prefixes.push(s.slice(0, -2));
    validTargets.push(s[s.length - 2]);
    test.prefixes.push(s.slice(0, -1));
    testTargets.push(s[s.length - 1]);
  }
  valid.targets = Int32Array.from(validTargets);
  test.targets = Int32Array.from(testTargets);
  return { train, valid, test };
}

/** The first `limit` held-out items (all when `limit` is 0). */
export function limitHeldOut(h: HeldOut, limit: number): HeldOut {
  return limit > 0 ? { prefixes: h.prefixes.slice(0, limit), targets: h.targets.slice(0, limit) } : h;
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
  return runToEnd(targetStatsSteps(simulator, heldOut, chunk));
}

/** `simulatorTargetStats`, yielding to the event loop after each chunk (core/interrupt.ts): the same numbers, and Ctrl-C is handled meanwhile. */
export async function simulatorTargetStatsInterruptible(
  simulator: UserSimulator,
  heldOut: HeldOut,
  chunk = 256,
): Promise<{ rank: Float64Array; logProb: Float64Array }> {
  return runYielding(targetStatsSteps(simulator, heldOut, chunk));
}

/** The chunks of `simulatorTargetStats`, one per step. */
function* targetStatsSteps(simulator: UserSimulator, heldOut: HeldOut, chunk: number): Generator<void, { rank: Float64Array; logProb: Float64Array }> {
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
    yield;
  }
  return { rank, logProb };
}

export function simulatorRanks(simulator: UserSimulator, heldOut: HeldOut, chunk = 256): Float64Array {
  return simulatorTargetStats(simulator, heldOut, chunk).rank;
}

/** The mid-rank (simulators/simulator.ts) of each target when items are ranked by their train counts. */
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

/**
 * Paired comparison of the simulator with popularity on the same held-out items: per item the
 * difference in hit@10 and in NDCG@10, their means and the lower end of a normal 95% interval
 * (mean − 1.96·standard error). The simulator is *clearly better* when both lower ends are above 0.
 */
export function compareWithPopularity(
  simulatorRanks: ArrayLike<number>,
  popularityRanks: ArrayLike<number>,
): {
  hr10Diff: number;
  hr10DiffLow: number;
  ndcg10Diff: number;
  ndcg10DiffLow: number;
  clearlyBetter: boolean;
} {
  const n = simulatorRanks.length;
  invariant(n === popularityRanks.length, () => `compareWithPopularity: ${n} simulator ranks, ${popularityRanks.length} popularity ranks`);
  const gain = (r: number) => (r <= 10 ? 1 / Math.log2(1 + r) : 0);
  const hit = (r: number) => (r <= 10 ? 1 : 0);
  const paired = (f: (r: number) => number) => {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const d = f(simulatorRanks[i]) - f(popularityRanks[i]);
      sum += d;
      sq += d * d;
    }
    const mean = n ? sum / n : 0;
    const variance = n > 1 ? (sq - n * mean * mean) / (n - 1) : 0;
    return { mean, low: n > 1 ? mean - 1.96 * Math.sqrt(Math.max(0, variance) / n) : -Infinity };
  };
  const hr = paired(hit);
  const ndcg = paired(gain);
  return { hr10Diff: hr.mean, hr10DiffLow: hr.low, ndcg10Diff: ndcg.mean, ndcg10DiffLow: ndcg.low, clearlyBetter: hr.low > 0 && ndcg.low > 0 };
}

export interface EvaluationReport {
  split: 'valid' | 'test';
  simulator: RankingMetrics;
  popularity: RankingMetrics;
  versusPopularity: ReturnType<typeof compareWithPopularity>;
}

/**
 * HR@10 and NDCG@10 of the simulator on its leave-one-out valid or test items of
 * `dataset.simulatorSequences`, beside popularity (counts of the training part).
 */
export function evaluateSimulator(opts: { simulator: UserSimulator; dataset: Dataset; split?: 'valid' | 'test'; limit?: number }): EvaluationReport {
  const split = opts.split ?? 'valid';
  const loo = leaveOneOut(opts.dataset.simulatorSequences);
  const heldOut = limitHeldOut(loo[split], opts.limit ?? 0);
  const simRanks = simulatorRanks(opts.simulator, heldOut);
  const popRanks = popularityRanks(itemCounts(opts.dataset.items.count, loo.train), heldOut.targets);
  return {
    split,
    simulator: metricsFromRanks(simRanks),
    popularity: metricsFromRanks(popRanks),
    versusPopularity: compareWithPopularity(simRanks, popRanks),
  };
}
