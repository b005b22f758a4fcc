/** Decoding the policy's distributions into actions: sampling, greedy decoding and beam search. */
import { isForbidden } from '../../compute/masks.ts';
import type { Rng } from '../../core/rng.ts';
import { packPaths } from './batch.ts';
import type { PolicyNetwork } from './network.ts';

/**
 * How a row of action values is given: probabilities ('prob', rows summing to 1 up to rounding, 0
 * exactly where forbidden: IncrementalPolicy.nextProbs) or log-probabilities ('log', FORBIDDEN-scale
 * where forbidden: PolicyNetwork.nextLogProbs).
 */
export type ActionSpace = 'prob' | 'log';

/**
 * Draws one action per row from action values [B × A], row b with a uniform from `rng(b)` (inverse
 * CDF over the actions of positive probability, in action order).
 */
export function sampleActions(values: Float32Array, B: number, A: number, space: ActionSpace, rng: (row: number) => Rng): Int32Array {
  const log = space === 'log';
  const actions = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let u = rng(b).float();
    let chosen = -1;
    let last = -1;
    for (let a = 0; a < A; a++) {
      const p = log ? Math.exp(values[o + a]) : values[o + a];
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

/**
 * Greedy decoding of the factored decision, from action values [B × A] (STOP = A − 1): STOP when
 * π(STOP) ≥ 1/2 (stopping is likelier than continuing), otherwise the most probable allowed item.
 * A plain argmax over items ∪ STOP would nearly always STOP: the continue mass is spread over N
 * items while STOP is one action.
 */
export function greedyActions(values: Float32Array, B: number, A: number, space: ActionSpace): Int32Array {
  const log = space === 'log';
  const stop = A - 1;
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const o = b * A;
    let best = stop;
    // Probabilities: only positive ones are allowed; log-probabilities: any not forbidden.
    let bestV = log ? -Infinity : 0;
    if ((log ? Math.exp(values[o + stop]) : values[o + stop]) < 0.5) {
      for (let a = 0; a < stop; a++) {
        const v = values[o + a];
        if (v > bestV && !(log && isForbidden(v))) {
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
