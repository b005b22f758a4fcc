/**
 * The mechanism of ProRL's collapse to one-item paths with the paper's pooled centring, pinned
 * exactly on a small MDP (every path enumerated).
 *
 * The MDP: at each position t < L_max the policy recommends a good item, a poor item or STOPs.
 * Step rewards fall with position (diminishing returns: the first item moves the user most), and at
 * every position the good item beats the poor one. Maximising E[R] means never stopping.
 *
 * Stepwise reward centring with one price μ for every step (the paper's SRC) maximises
 * E[R] − μ·E[L], μ the mean step reward under the policy that collected the statistics. Because
 * the first step's reward is large, μ exceeds every later step's reward, so every step after the
 * first looks like a loss: the best policy under that objective stops after one item, and the
 * expected estimator gradient at the starting policy already pushes STOP up at position 1. With a
 * price per position (μ_t, `centeringMean: 'per-position'`) each position is judged against its
 * own average: at the policy that collected the statistics every position is neutral (the gradient
 * on STOP is zero), and once the policy prefers the good item (statistics frozen after the first
 * epoch, as the trainer does), continuing is a gain at every position and the expected gradient
 * pushes STOP down.
 *
 * The expectations use the estimators the trainer runs (stepwiseCentering, positionAdvantages from
 * agents/estimators.ts) on every enumerated path, weighted by its exact probability.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { positionAdvantages, stepwiseCentering, type CenteringSpec, type Rollout } from '../agents/estimators.ts';

const L_MAX = 4;
/** Rewards of the good and the poor item at positions 0..3: falling with position. */
const GOOD = [4, 1.2, 1.0, 0.9];
const POOR = [2, 0.3, 0.2, 0.1];
const GOOD_I = 0;
const POOR_I = 1;
const STOP = 2;

/** A policy: per position, probabilities of [good, poor, STOP]. */
type Policy = number[][];

interface Path {
  items: number[];
  stopped: boolean;
  p: number;
}

function enumerate(pi: Policy): Path[] {
  const out: Path[] = [];
  const go = (items: number[], p: number) => {
    const t = items.length;
    if (t === L_MAX) {
      out.push({ items, stopped: false, p });
      return;
    }
    if (pi[t][STOP] > 0) out.push({ items, stopped: true, p: p * pi[t][STOP] });
    for (const a of [GOOD_I, POOR_I]) if (pi[t][a] > 0) go([...items, a], p * pi[t][a]);
  };
  go([], 1);
  return out;
}

const reward = (a: number, t: number) => (a === GOOD_I ? GOOD[t] : POOR[t]);

function rollout(path: Path): Rollout {
  return { group: 0, rewards: Float64Array.from(path.items, (a, t) => reward(a, t)), stopped: path.stopped };
}

/** The first-epoch statistics in expectation: pooled μ (mean over all steps) and μ_t per position. */
function centringStats(pi: Policy): { pooled: number; perPosition: number[] } {
  let sum = 0;
  let steps = 0;
  const sumT = new Array(L_MAX).fill(0);
  const nT = new Array(L_MAX).fill(0);
  for (const path of enumerate(pi)) {
    path.items.forEach((a, t) => {
      sum += path.p * reward(a, t);
      steps += path.p;
      sumT[t] += path.p * reward(a, t);
      nT[t] += path.p;
    });
  }
  return { pooled: sum / steps, perPosition: sumT.map((s, t) => s / nT[t]) };
}

/** Expected gradient Σ_paths P(path) Σ_t A_t ∇ℓ_t w.r.t. the per-position logits, [position][action]. */
function expectedGradient(pi: Policy, spec: CenteringSpec): number[][] {
  const g = pi.map(() => [0, 0, 0]);
  for (const path of enumerate(pi)) {
    const [A] = positionAdvantages(stepwiseCentering([rollout(path)], spec), { baseline: 'none' });
    const actions = path.stopped ? [...path.items, STOP] : path.items;
    actions.forEach((a, t) => {
      // ∇_θt log softmax(θt)_a = e_a − π_t
      for (let k = 0; k < 3; k++) g[t][k] += path.p * A[t] * ((k === a ? 1 : 0) - pi[t][k]);
    });
  }
  return g;
}

/** The centred objective E[Σ_t (r_t − μ_t)] of a deterministic policy: the good item L times, then STOP. */
function centredValue(L: number, price: (t: number) => number): number {
  let v = 0;
  for (let t = 0; t < L; t++) v += GOOD[t] - price(t);
  return v;
}

test('pooled SRC prices every step at the mean step reward: after a large first step, continuing looks like a loss and STOP after one item is optimal', () => {
  const start: Policy = Array.from({ length: L_MAX }, () => [0.4, 0.4, 0.2]);
  const { pooled, perPosition } = centringStats(start);
  // The pooled price exceeds every later step's reward, even the good item's.
  assert.ok(pooled > GOOD[1], `μ = ${pooled.toFixed(3)} > r(good, 1) = ${GOOD[1]}`);
  // Best deterministic policy under each objective (L = 0..L_max items of the good item).
  const pooledBest = [0, 1, 2, 3, 4].reduce((b, L) => (centredValue(L, () => pooled) > centredValue(b, () => pooled) ? L : b), 0);
  const perPositionBest = [0, 1, 2, 3, 4].reduce((b, L) => (centredValue(L, (t) => perPosition[t]) > centredValue(b, (t) => perPosition[t]) ? L : b), 0);
  assert.equal(pooledBest, 1, 'the pooled price makes one item the best path');
  assert.equal(perPositionBest, L_MAX, 'per-position prices keep every good step worth taking');
  // The estimator the trainer runs already points there at the starting policy...
  const gPooled = expectedGradient(start, { mode: 'plain', mu: pooled });
  const gPer = expectedGradient(start, { mode: 'plain', mu: perPosition });
  assert.ok(gPooled[1][STOP] > 0, `pooled: the expected gradient raises STOP after one item (${gPooled[1][STOP].toFixed(4)})`);
  assert.ok(gPooled[0][STOP] < 0, 'pooled: but not before the first item (the first step is worth its price)');
  for (let t = 0; t < L_MAX; t++) assert.ok(Math.abs(gPer[t][STOP]) < 1e-12, `per-position: neutral on STOP at position ${t} (${gPer[t][STOP]})`);
  // Both push the good item up against the poor one at every position: the collapse is about length, not item choice.
  for (let t = 0; t < L_MAX; t++) assert.ok(gPooled[t][GOOD_I] > gPooled[t][POOR_I] && gPer[t][GOOD_I] > gPer[t][POOR_I]);
  // ...and after the policy has learned to prefer the good item (statistics frozen), pooled still
  // pushes STOP up after the first item while per-position pushes it down everywhere.
  const later: Policy = Array.from({ length: L_MAX }, () => [0.7, 0.1, 0.2]);
  const lPooled = expectedGradient(later, { mode: 'plain', mu: pooled });
  const lPer = expectedGradient(later, { mode: 'plain', mu: perPosition });
  for (let t = 1; t < L_MAX; t++) assert.ok(lPooled[t][STOP] > 0, `pooled, later: STOP pushed up at position ${t} (${lPooled[t][STOP].toFixed(4)})`);
  for (let t = 0; t < L_MAX; t++) assert.ok(lPer[t][STOP] < 0, `per-position, later: STOP pushed down at position ${t} (${lPer[t][STOP].toFixed(4)})`);
});

test('with flat step rewards the two prices agree: the collapse needs rewards that fall with position', () => {
  const flat = (a: number) => (a === GOOD_I ? 1.5 : 0.5);
  const start: Policy = Array.from({ length: L_MAX }, () => [0.4, 0.4, 0.2]);
  let sum = 0;
  let steps = 0;
  for (const path of enumerate(start)) {
    for (const a of path.items) {
      sum += path.p * flat(a);
      steps += path.p;
    }
  }
  const mu = sum / steps;
  // Per-position means equal the pooled one when rewards do not depend on the position.
  const g = (prices: number | number[]) => {
    const out = start.map(() => [0, 0, 0]);
    for (const path of enumerate(start)) {
      const r: Rollout = { group: 0, rewards: Float64Array.from(path.items, flat), stopped: path.stopped };
      const [A] = positionAdvantages(stepwiseCentering([r], { mode: 'plain', mu: prices }), { baseline: 'none' });
      (path.stopped ? [...path.items, STOP] : path.items).forEach((a, t) => {
        for (let k = 0; k < 3; k++) out[t][k] += path.p * A[t] * ((k === a ? 1 : 0) - start[t][k]);
      });
    }
    return out;
  };
  const pooled = g(mu);
  const per = g([mu, mu, mu, mu]);
  for (let t = 0; t < L_MAX; t++) for (let k = 0; k < 3; k++) assert.ok(Math.abs(pooled[t][k] - per[t][k]) < 1e-12);
});
