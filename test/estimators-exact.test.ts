/**
 * Exact property tests of the advantage estimators (docs/design.md §4.11).
 *
 * Policies are small enough to enumerate every path: a tabular softmax over 2-4 items plus STOP,
 * L_max <= 3, with logits per position, per state (prefix) or shared by all positions, repeats
 * allowed or not (then already-chosen items are masked out of the softmax). Step rewards are
 * components (ioi, ior, ctr) with means chosen by fast-check, optionally with ± noise (two
 * equally likely outcomes per step, enumerated too), fused with generated weights.
 *
 * For an estimator, the exact expectation is Σ_outcomes P(outcome) · Σ_t A_t ∇ℓ_t with ∇ℓ_t the
 * analytic gradient of the tabular log-softmax, and A_t from agents/estimators.ts (called
 * directly, on a batch of one rollout or on an enumerated group). It is compared with the exact
 * gradient of the objective the estimator claims to follow, computed by a recursion over states
 * (not over paths) and cross-checked by central finite differences.
 *
 * Env: FC_SEED, FC_RUNS (exact number of runs per property), FC_PATH (replay), FC_SCALE
 * (multiplies every property's default number of runs; the long suite sets it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ESTIMATORS,
  grpo,
  numTerms,
  positionAdvantages,
  prorlAdvantages,
  prorlNoPsae,
  reinforce,
  reinforceBaseline,
  stepwiseCentering,
  type Advantages,
  type CenteringSpec,
  type Rollout,
} from '../agents/estimators.ts';
import { Rng } from '../core/rng.ts';

// ---------------------------------------------------------------------------------------------
// fast-check parameters from the environment
// ---------------------------------------------------------------------------------------------

// A fixed seed by default, so that `npm test` is deterministic (a rare statistical failure of a
// Monte Carlo property, then fast-check's shrinking, once stalled CI for minutes). FC_SEED picks
// another; FC_SEED=random draws one (`npm run test:props-long` does: fast-check prints it on failure).
const FC_SEED = process.env.FC_SEED === 'random' ? undefined : process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 20260601;
const FC_RUNS = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : undefined;
const FC_SCALE = Number(process.env.FC_SCALE ?? 1);
const FC_PATH = process.env.FC_PATH;

function params(defaultRuns: number): fc.Parameters<unknown> {
  return {
    numRuns: FC_RUNS ?? Math.max(1, Math.round(defaultRuns * FC_SCALE)),
    ...(FC_SEED !== undefined ? { seed: FC_SEED } : {}),
    ...(FC_PATH !== undefined ? { path: FC_PATH } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The tabular model
// ---------------------------------------------------------------------------------------------

type Param = 'position' | 'state' | 'shared';
type Comp = readonly [number, number, number]; // ioi, ior, ctr

interface Spec {
  nItems: number;
  lMax: number;
  repeats: boolean;
  param: Param;
  logits: number[]; // pool, used cyclically
  rewards: number[]; // pool of component means, used cyclically
  noise: boolean;
  delta: number[]; // noise amplitude per component
  weights: number[]; // fusion weights
}

interface StepOutcome {
  readonly p: number;
  readonly c: Comp;
}

interface Model {
  readonly nItems: number;
  readonly lMax: number;
  readonly repeats: boolean;
  readonly param: Param;
  /** Actions per block: items 0..nItems-1, STOP = nItems. */
  readonly K: number;
  readonly dim: number;
  readonly theta: Float64Array;
  readonly weights: Comp;
  readonly stateIndex: Map<string, number>;
  rewardsOf(prefix: readonly number[], item: number): readonly StepOutcome[];
}

const key = (prefix: readonly number[]) => prefix.join(',');

function allowedItems(m: { nItems: number; repeats: boolean }, prefix: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < m.nItems; i++) if (m.repeats || !prefix.includes(i)) out.push(i);
  return out;
}

interface BuildOptions {
  /** Every step reward has these mean components whatever the state or item. */
  uninformative?: Comp;
  /** Clamp means to >= 0 and noise to at most the mean: every fused step reward >= 0. */
  nonneg?: boolean;
}

function build(s: Spec, o: BuildOptions = {}): Model {
  const lMax = s.repeats ? s.lMax : Math.min(s.lMax, s.nItems);
  // Decision states: every prefix shorter than L_max.
  const stateIndex = new Map<string, number>();
  const visit = (prefix: number[]) => {
    if (prefix.length >= lMax) return;
    stateIndex.set(key(prefix), stateIndex.size);
    for (const i of allowedItems(s, prefix)) visit([...prefix, i]);
  };
  visit([]);
  const K = s.nItems + 1;
  const nBlocks = s.param === 'shared' ? 1 : s.param === 'position' ? lMax : stateIndex.size;
  const dim = nBlocks * K;
  const theta = new Float64Array(dim);
  for (let j = 0; j < dim; j++) theta[j] = s.logits[j % s.logits.length];
  const weights: Comp = [s.weights[0], s.weights[1], s.weights[2]];
  const rewardsOf = (prefix: readonly number[], item: number): StepOutcome[] => {
    let mean: number[];
    if (o.uninformative) mean = [...o.uninformative];
    else {
      const base = ((stateIndex.get(key(prefix)) ?? 0) * s.nItems + item) * 3;
      mean = [0, 1, 2].map((c) => s.rewards[(base + c) % s.rewards.length]);
      if (o.nonneg) mean = mean.map(Math.abs);
    }
    if (!s.noise) return [{ p: 1, c: mean as unknown as Comp }];
    const d = [0, 1, 2].map((c) => (o.nonneg ? Math.min(Math.abs(s.delta[c]), mean[c]) : s.delta[c]));
    return [
      { p: 0.5, c: [mean[0] + d[0], mean[1] + d[1], mean[2] + d[2]] },
      { p: 0.5, c: [mean[0] - d[0], mean[1] - d[1], mean[2] - d[2]] },
    ];
  };
  return { nItems: s.nItems, lMax, repeats: s.repeats, param: s.param, K, dim, theta, weights, stateIndex, rewardsOf };
}

function blockOf(m: Model, prefix: readonly number[]): number {
  if (m.param === 'shared') return 0;
  if (m.param === 'position') return prefix.length;
  return m.stateIndex.get(key(prefix))!;
}

interface Policy {
  readonly block: number;
  readonly actions: number[]; // allowed action indices (items, then STOP = K-1)
  readonly probs: Float64Array; // length K, 0 for masked actions
}

/** Masked softmax over the allowed actions of the block of `prefix`. */
function policy(m: Model, theta: Float64Array, prefix: readonly number[]): Policy {
  const block = blockOf(m, prefix);
  const actions = [...allowedItems(m, prefix), m.K - 1];
  const off = block * m.K;
  let mx = -Infinity;
  for (const a of actions) mx = Math.max(mx, theta[off + a]);
  const probs = new Float64Array(m.K);
  let z = 0;
  for (const a of actions) z += probs[a] = Math.exp(theta[off + a] - mx);
  for (const a of actions) probs[a] /= z;
  return { block, actions, probs };
}

/** ∇_θ log π(a | s): e_a - π over the allowed actions of the block, 0 elsewhere. */
function score(m: Model, pol: Policy, a: number): Float64Array {
  const g = new Float64Array(m.dim);
  const off = pol.block * m.K;
  for (const b of pol.actions) g[off + b] = (b === a ? 1 : 0) - pol.probs[b];
  return g;
}

const fuse = (c: Comp, w: Comp) => w[0] * c[0] + w[1] * c[1] + w[2] * c[2];

/** One possible rollout (path and reward outcomes) with its probability and score terms. */
interface Outcome {
  readonly p: number;
  readonly items: number[];
  readonly stopped: boolean;
  readonly comps: Comp[];
  /** ∇ℓ_t per log-prob term: items 0..L-1, then STOP at L if stopped. */
  readonly score: Float64Array[];
}

function enumerate(m: Model): Outcome[] {
  const out: Outcome[] = [];
  const dfs = (prefix: number[], p: number, comps: Comp[], sc: Float64Array[]) => {
    if (prefix.length === m.lMax) {
      out.push({ p, items: prefix, stopped: false, comps, score: sc });
      return;
    }
    const pol = policy(m, m.theta, prefix);
    const STOP = m.K - 1;
    out.push({ p: p * pol.probs[STOP], items: prefix, stopped: true, comps, score: [...sc, score(m, pol, STOP)] });
    for (const a of pol.actions) {
      if (a === STOP) continue;
      const s = score(m, pol, a);
      for (const o of m.rewardsOf(prefix, a)) dfs([...prefix, a], p * pol.probs[a] * o.p, [...comps, o.c], [...sc, s]);
    }
  };
  dfs([], 1, [], []);
  return out;
}

function toRollout(m: Model, o: Outcome, group = 0): Rollout {
  const col = (c: number) => Float64Array.from(o.comps, (x) => x[c]);
  return {
    group,
    rewards: Float64Array.from(o.comps, (c) => fuse(c, m.weights)),
    components: { ioi: col(0), ior: col(1), ctr: col(2) },
    stopped: o.stopped,
  };
}

/** g += scale · Σ_t A_t ∇ℓ_t, checking that the estimator gave one advantage per log-prob term. */
function accumulate(g: Float64Array, o: Outcome, A: Float64Array, scale: number): void {
  if (A.length !== o.score.length) throw new Error(`advantages have ${A.length} terms, the path has ${o.score.length}`);
  for (let t = 0; t < A.length; t++) {
    const s = o.score[t];
    const a = A[t] * scale;
    if (a !== 0) for (let j = 0; j < g.length; j++) g[j] += a * s[j];
  }
}

type Est = (rs: Rollout[]) => Advantages;

interface Moments {
  mean: Float64Array;
  /** Trace of the covariance: E‖g‖² - ‖E g‖². */
  variance: number;
}

/** Exact mean and trace-variance of a per-rollout estimate (each rollout in a batch of one). */
function exactSingle(m: Model, outs: Outcome[], est: Est): Moments {
  const mean = new Float64Array(m.dim);
  let sq = 0;
  const g = new Float64Array(m.dim);
  for (const o of outs) {
    g.fill(0);
    accumulate(g, o, est([toRollout(m, o)])[0], 1);
    for (let j = 0; j < m.dim; j++) mean[j] += o.p * g[j];
    sq += o.p * dot(g, g);
  }
  return { mean, variance: sq - dot(mean, mean) };
}

/**
 * Exact mean and trace-variance of the batch gradient (1/G) Σ_i Σ_t A_t^i ∇ℓ_t^i of one group of
 * G i.i.d. rollouts, by enumerating every G-tuple of outcomes.
 */
function exactGroup(m: Model, outs: Outcome[], G: number, est: Est): Moments {
  const mean = new Float64Array(m.dim);
  let sq = 0;
  const g = new Float64Array(m.dim);
  const idx = new Array<number>(G).fill(0);
  for (;;) {
    let p = 1;
    for (const i of idx) p *= outs[i].p;
    const rs = idx.map((i) => toRollout(m, outs[i]));
    const A = est(rs);
    g.fill(0);
    idx.forEach((i, k) => accumulate(g, outs[i], A[k], 1 / G));
    for (let j = 0; j < m.dim; j++) mean[j] += p * g[j];
    sq += p * dot(g, g);
    let k = 0;
    while (k < G && ++idx[k] === outs.length) idx[k++] = 0;
    if (k === G) break;
  }
  return { mean, variance: sq - dot(mean, mean) };
}

/**
 * The objective J(θ) = E[Σ_t v(c_t)] - price·E[L] and its exact gradient, by recursion over
 * decision states: V(s) = Σ_a π(a|s) Q(s,a), Q(s,STOP) = 0, Q(s,i) = E[v(c)] - price + V(s·i),
 * ∇V(s) = Σ_a π(a|s) (∇log π(a|s) Q(s,a) + ∇Q(s,a)).
 */
/** E[Σ_t (v(c_t) - price_t)] and its gradient; `price` is one constant or one per position t. */
function objective(m: Model, theta: Float64Array, v: (c: Comp) => number, price: number | ((t: number) => number)): { value: number; grad: Float64Array } {
  const priceAt = typeof price === 'number' ? () => price : price;
  const rec = (prefix: number[]): { value: number; grad: Float64Array } => {
    const grad = new Float64Array(m.dim);
    if (prefix.length === m.lMax) return { value: 0, grad };
    const pol = policy(m, theta, prefix);
    let value = 0;
    for (const a of pol.actions) {
      if (a === m.K - 1) continue; // STOP: Q = 0 and ∇Q = 0
      let q = -priceAt(prefix.length);
      for (const o of m.rewardsOf(prefix, a)) q += o.p * v(o.c);
      const child = rec([...prefix, a]);
      q += child.value;
      const pa = pol.probs[a];
      value += pa * q;
      const s = score(m, pol, a);
      for (let j = 0; j < m.dim; j++) grad[j] += pa * (s[j] * q + child.grad[j]);
    }
    return { value, grad };
  };
  return rec([]);
}

function finiteDifference(m: Model, v: (c: Comp) => number, price: number, h = 1e-5): Float64Array {
  const g = new Float64Array(m.dim);
  const th = Float64Array.from(m.theta);
  for (let j = 0; j < m.dim; j++) {
    th[j] = m.theta[j] + h;
    const up = objective(m, th, v, price).value;
    th[j] = m.theta[j] - h;
    const dn = objective(m, th, v, price).value;
    th[j] = m.theta[j];
    g[j] = (up - dn) / (2 * h);
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// Small numeric helpers
// ---------------------------------------------------------------------------------------------

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]));
  return m;
}
const axpy = (a: number, x: ArrayLike<number>, y: ArrayLike<number>) => Float64Array.from(y, (yj, j) => a * x[j] + yj);
const scaled = (a: number, x: ArrayLike<number>) => Float64Array.from(x, (xj) => a * xj);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const scale = 1 + maxAbs(expected);
  let worst = 0;
  let at = -1;
  for (let j = 0; j < expected.length; j++) {
    const d = Math.abs(actual[j] - expected[j]);
    if (d > worst) [worst, at] = [d, j];
  }
  assert.ok(
    worst <= tol * scale,
    `${what}: max |diff| = ${worst.toExponential(3)} at coordinate ${at} (actual ${actual[at]}, expected ${expected[at]}), tolerance ${(tol * scale).toExponential(2)}`,
  );
}

function quantiles(xs: number[]): string {
  if (xs.length === 0) return 'n=0';
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const f = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : String(x));
  return `n=${s.length} min=${f(s[0])} p10=${f(q(0.1))} median=${f(q(0.5))} p90=${f(q(0.9))} max=${f(s[s.length - 1])} frac<1=${(s.filter((x) => x < 1 - 1e-9).length / s.length).toFixed(2)}`;
}

const binom = (n: number, k: number) => {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
};

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/**
 * A number in [min, max]: mostly spread uniformly (fc.double favours subnormals and the bounds,
 * which makes most variances vanish), sometimes on a grid of 1/8 (ties, exact zeros, the bounds).
 */
const dbl = (min: number, max: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((u) => min + ((max - min) * u) / 2 ** 30) },
    { weight: 1, arbitrary: fc.integer({ min: Math.ceil(min * 8), max: Math.floor(max * 8) }).map((i) => i / 8) },
  );

function specArb(o: { maxItems?: number; maxL?: number; noise?: boolean; params?: Param[]; logit?: number } = {}): fc.Arbitrary<Spec> {
  const lg = o.logit ?? 3;
  return fc.record({
    nItems: fc.integer({ min: 2, max: o.maxItems ?? 4 }),
    lMax: fc.integer({ min: 1, max: o.maxL ?? 3 }),
    repeats: fc.boolean(),
    param: fc.constantFrom<Param>(...(o.params ?? ['position', 'state', 'shared'])),
    logits: fc.array(dbl(-lg, lg), { minLength: 23, maxLength: 23 }),
    rewards: fc.array(dbl(-2, 2), { minLength: 29, maxLength: 29 }),
    noise: o.noise === undefined ? fc.boolean() : fc.constant(o.noise),
    delta: fc.array(dbl(0, 1.5), { minLength: 3, maxLength: 3 }),
    weights: fc.array(dbl(0, 2), { minLength: 3, maxLength: 3 }),
  });
}

const fused = (m: Model) => (c: Comp) => fuse(c, m.weights);
const EXACT = 1e-9;

// ---------------------------------------------------------------------------------------------
// 1. Path-level REINFORCE equals ∇E[R]
// ---------------------------------------------------------------------------------------------

test('1. path-level REINFORCE: exact expectation = ∇E[R] (analytic recursion, cross-checked by finite differences)', () => {
  fc.assert(
    fc.property(specArb(), (spec) => {
      const m = build(spec);
      const outs = enumerate(m);
      const total = outs.reduce((s, o) => s + o.p, 0);
      assert.ok(Math.abs(total - 1) < 1e-12, `path probabilities sum to ${total}`);
      const truth = objective(m, m.theta, fused(m), 0);
      assertClose(finiteDifference(m, fused(m), 0), truth.grad, 1e-6, 'finite differences vs analytic ∇E[R]');
      assertClose(exactSingle(m, outs, reinforce).mean, truth.grad, EXACT, 'E[REINFORCE] vs ∇E[R]');
      // The registry entry is the same function.
      assertClose(exactSingle(m, outs, (rs) => ESTIMATORS.reinforce(rs)).mean, truth.grad, EXACT, 'ESTIMATORS.reinforce');
    }),
    params(100),
  );
});

// ---------------------------------------------------------------------------------------------
// 2. Length shortcut
// ---------------------------------------------------------------------------------------------

test('2. length shortcut: uninformative items, μ > 0: E[REINFORCE] = μ∇E[L] pushes every STOP logit down; SRC with the true μ: zero', () => {
  const arb = fc.record({
    spec: specArb(),
    mean: fc.array(dbl(0.05, 2), { minLength: 3, maxLength: 3 }),
  });
  fc.assert(
    fc.property(arb, ({ spec, mean }) => {
      const s = { ...spec, weights: spec.weights.map((w) => w + 0.1) }; // μ = w·mean > 0
      const uninformative: Comp = [mean[0], mean[1], mean[2]];
      const m = build(s, { uninformative });
      const mu = fuse(uninformative, m.weights);
      const outs = enumerate(m);
      const EL = objective(m, m.theta, () => 0, -1); // J = E[L]
      const rf = exactSingle(m, outs, reinforce).mean;
      assertClose(rf, scaled(mu, EL.grad), EXACT, 'E[REINFORCE] vs μ∇E[L]');
      // "Continue" is pushed up everywhere: every STOP logit has a strictly negative gradient
      // (one per position, per state, or the single shared one). At a state s,
      // ∂E[R]/∂θ_STOP(s) = -P(s)·π(STOP|s)·V(s) with V(s) > 0.
      for (let b = 0; b < m.dim / m.K; b++) {
        const gStop = rf[b * m.K + m.K - 1];
        assert.ok(gStop < 0, `STOP logit of block ${b} has gradient ${gStop}, expected < 0`);
      }
      assert.ok(dot(rf, EL.grad) > 0, 'E[REINFORCE] raises E[L]');
      // SRC with the true μ (plain) or the true component means (z-score): zero in expectation,
      // for REINFORCE on centred rewards, reward-to-go, and the registry's ProRL.
      const plain: CenteringSpec = { mode: 'plain', mu };
      const zscore: CenteringSpec = {
        mode: 'zscore',
        mean: { ioi: mean[0], ior: mean[1], ctr: mean[2] },
        std: { ioi: 0.5 + spec.delta[0], ior: 0.05, ctr: 2 },
        weights: { ioi: m.weights[0], ior: m.weights[1], ctr: m.weights[2] },
        lMax: m.lMax,
      };
      const scale = maxAbs(rf) + 1;
      for (const c of [plain, zscore]) {
        const zero = new Float64Array(m.dim);
        assertClose(exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, c))).mean, zero, EXACT * scale, `E[SRC(${c.mode}) REINFORCE]`);
        assertClose(exactSingle(m, outs, (rs) => prorlAdvantages(rs, c, { baseline: 'none' })).mean, zero, EXACT * scale, `E[SRC(${c.mode}) reward-to-go]`);
      }
    }),
    params(100),
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Centering is unbiased for ∇(E[R] - μE[L])
// ---------------------------------------------------------------------------------------------

test("3. SRC with a constant μ: exact expectation = ∇(E[R] - μ·E[L]); z-score mode = ∇(E[R'] - κ·E[L])", () => {
  const arb = fc.record({
    spec: specArb(),
    mu: dbl(-3, 3),
    std: fc.array(dbl(0, 3), { minLength: 3, maxLength: 3 }),
    zmean: fc.array(dbl(-2, 2), { minLength: 3, maxLength: 3 }),
    lMaxNorm: fc.integer({ min: 1, max: 10 }),
  });
  fc.assert(
    fc.property(arb, ({ spec, mu, std, zmean, lMaxNorm }) => {
      const m = build(spec);
      const outs = enumerate(m);
      const ER = objective(m, m.theta, fused(m), 0);
      const EL = objective(m, m.theta, () => 0, -1);
      // The "true" μ of the current policy, E[R]/E[L], and an arbitrary constant.
      for (const c of [ER.value / EL.value, mu]) {
        const truth = objective(m, m.theta, fused(m), c);
        assertClose(truth.grad, axpy(-c, EL.grad, ER.grad), 1e-12, 'recursion is linear in the price');
        const spec: CenteringSpec = { mode: 'plain', mu: c };
        assertClose(exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, spec))).mean, truth.grad, EXACT, `E[SRC REINFORCE], μ=${c}`);
        assertClose(exactSingle(m, outs, (rs) => prorlAdvantages(rs, spec, { baseline: 'none' })).mean, truth.grad, EXACT, `E[SRC reward-to-go], μ=${c}`);
      }
      // Official z-scoring: r̃ = Σ_c k_c (x_c - m_c), k_c = w_c / max(s_c, 0.1) (/ L_max for CTR).
      // So it follows ∇(E[Σ_t Σ_c k_c x_c,t] - κ E[L]), κ = Σ_c k_c m_c: a re-weighted reward
      // with a length price, not ∇E[R].
      const z: CenteringSpec = {
        mode: 'zscore',
        mean: { ioi: zmean[0], ior: zmean[1], ctr: zmean[2] },
        std: { ioi: std[0], ior: std[1], ctr: std[2] },
        weights: { ioi: m.weights[0], ior: m.weights[1], ctr: m.weights[2] },
        lMax: lMaxNorm,
      };
      const k: Comp = [m.weights[0] / Math.max(std[0], 0.1), m.weights[1] / Math.max(std[1], 0.1), m.weights[2] / (Math.max(std[2], 0.1) * lMaxNorm)];
      const kappa = fuse([zmean[0], zmean[1], zmean[2]], k);
      const truth = objective(m, m.theta, (c) => fuse(c, k), kappa);
      assertClose(exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, z))).mean, truth.grad, EXACT, 'E[SRC z-score REINFORCE]');
      assertClose(
        exactSingle(m, outs, (rs) => ESTIMATORS.prorl(rs, { centering: z, baseline: 'none' })).mean,
        truth.grad,
        EXACT,
        'E[ESTIMATORS.prorl, no baseline]',
      );
    }),
    params(100),
  );
});

test('3b. per-position SRC (μ_t constants): exact expectation = ∇(E[R] - Σ_t μ_t·P(L > t)), plain and z-score, with and without PSAE', () => {
  const arb = fc.record({
    spec: specArb(),
    mus: fc.array(dbl(-3, 3), { minLength: 1, maxLength: 4 }),
    means: fc.array(fc.array(dbl(-2, 2), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
    std: fc.array(dbl(0, 3), { minLength: 3, maxLength: 3 }),
  });
  fc.assert(
    fc.property(arb, ({ spec, mus, means, std }) => {
      const m = build(spec);
      const outs = enumerate(m);
      // Positions past the array's end use its last entry.
      const at = <T>(xs: readonly T[], t: number): T => xs[Math.min(t, xs.length - 1)];
      const plain: CenteringSpec = { mode: 'plain', mu: mus };
      const truth = objective(m, m.theta, fused(m), (t) => at(mus, t));
      assertClose(exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, plain))).mean, truth.grad, EXACT, 'E[per-position SRC REINFORCE]');
      assertClose(exactSingle(m, outs, (rs) => prorlAdvantages(rs, plain, { baseline: 'none' })).mean, truth.grad, EXACT, 'E[per-position SRC reward-to-go]');
      assertClose(exactGroup(m, outs, 2, (rs) => prorlAdvantages(rs, plain)).mean, truth.grad, EXACT, 'E[per-position SRC + PSAE leave-one-out], G = 2');
      // z-score with per-position means: re-weighted reward k·c, price κ_t = Σ_c k_c m_c,t.
      const k: Comp = [m.weights[0] / Math.max(std[0], 0.1), m.weights[1] / Math.max(std[1], 0.1), m.weights[2] / (Math.max(std[2], 0.1) * 10)];
      const z: CenteringSpec = {
        mode: 'zscore',
        mean: means.map(([ioi, ior, ctr]) => ({ ioi, ior, ctr })),
        std: { ioi: std[0], ior: std[1], ctr: std[2] },
        weights: { ioi: m.weights[0], ior: m.weights[1], ctr: m.weights[2] },
        lMax: 10,
      };
      const zTruth = objective(
        m,
        m.theta,
        (c) => fuse(c, k),
        (t) => {
          const [a, b, c] = at(means, t);
          return fuse([a, b, c], k);
        },
      );
      assertClose(exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, z))).mean, zTruth.grad, EXACT, 'E[per-position z-score SRC REINFORCE]');
    }),
    params(60),
  );
  // The per-position price differs from the pooled one whenever μ_t varies: the check can fail.
  const m = build({
    nItems: 2,
    lMax: 2,
    repeats: false,
    param: 'position',
    logits: new Array(23).fill(0.3),
    rewards: new Array(29).fill(0.5),
    noise: false,
    delta: [0, 0, 0],
    weights: [1, 1, 1],
  });
  const outs = enumerate(m);
  const pooled = exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, { mode: 'plain', mu: 1 }))).mean;
  const perPos = exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, { mode: 'plain', mu: [1, -1] }))).mean;
  assert.ok(
    pooled.some((x, j) => Math.abs(x - perPos[j]) > 1e-6),
    'a different μ_1 changes the expectation',
  );
});

// ---------------------------------------------------------------------------------------------
// 4. Baselines: leave-one-out keeps the expectation, the group mean with itself shrinks it
// ---------------------------------------------------------------------------------------------

/** Small models whose G-tuples are enumerable. */
function smallGroupArb(): fc.Arbitrary<{ spec: Spec; G: number }> {
  return fc.record({ spec: specArb({ maxItems: 3, maxL: 2 }), G: fc.integer({ min: 2, max: 3 }) }).filter(({ spec, G }) => {
    const n = enumerate(build(spec)).length;
    return n ** G <= 2500;
  });
}

test('4. PSAE baselines over enumerated groups (G = 2, 3): leave-one-out = reward-to-go = ∇E[R]; group mean = Σ_t c_t g_t with c_t = E[m_t/(m_t+1)]', () => {
  const shrink: number[][] = []; // c_t relative to (G-1)/G, per position
  fc.assert(
    fc.property(smallGroupArb(), ({ spec, G }) => {
      const m = build(spec);
      const outs = enumerate(m);
      const truth = objective(m, m.theta, fused(m), 0).grad;
      // Reward-to-go without a baseline.
      const rtg = exactSingle(m, outs, (rs) => positionAdvantages(rs, { baseline: 'none' })).mean;
      assertClose(rtg, truth, EXACT, 'E[reward-to-go]');
      // Leave-one-out position baseline over the other rollouts active at t: unchanged.
      const loo = exactGroup(m, outs, G, (rs) => positionAdvantages(rs, { baseline: 'leave-one-out' })).mean;
      assertClose(loo, truth, EXACT, `E[PSAE leave-one-out], G=${G}`);
      assertClose(exactGroup(m, outs, G, (rs) => ESTIMATORS['prorl-no-src'](rs)).mean, truth, EXACT, 'E[ESTIMATORS prorl-no-src] (default leave-one-out)');
      // Group mean including itself. Per position t, the advantage is (m_t/(m_t+1))·(leave-one-out
      // advantage), m_t = number of *other* rollouts active at t ~ Binomial(G-1, p_t), independent
      // of the rollout: E = Σ_t c_t g_t, g_t = E[1{active at t} G_t ∇ℓ_t] (Σ_t g_t = ∇E[R]).
      const T = m.lMax + 1;
      const gt = Array.from({ length: T }, () => new Float64Array(m.dim));
      const pt = new Float64Array(T);
      for (const o of outs) {
        const A = positionAdvantages([toRollout(m, o)], { baseline: 'none' })[0];
        for (let t = 0; t < A.length; t++) {
          pt[t] += o.p;
          for (let j = 0; j < m.dim; j++) gt[t][j] += o.p * A[t] * o.score[t][j];
        }
      }
      const c = Array.from(pt, (p) => {
        let e = 0;
        for (let k = 0; k < G; k++) e += binom(G - 1, k) * p ** k * (1 - p) ** (G - 1 - k) * (k / (k + 1));
        return e;
      });
      const predicted = new Float64Array(m.dim);
      for (let t = 0; t < T; t++) for (let j = 0; j < m.dim; j++) predicted[j] += c[t] * gt[t][j];
      const gm = exactGroup(m, outs, G, (rs) => positionAdvantages(rs, { baseline: 'group-mean' })).mean;
      assertClose(gm, predicted, EXACT, `E[PSAE group-mean] vs Σ_t c_t g_t, c=${c.map((x) => x.toFixed(3))}`);
      // Every position is active for all rollouts at t = 0 (each takes an item or STOP): c_0 = (G-1)/G.
      assert.ok(Math.abs(c[0] - (G - 1) / G) < 1e-12);
      c.forEach((x, t) => pt[t] > 0 && (shrink[t] ??= []).push((x * G) / (G - 1)));
      // With logits per position or per state the g_t live in disjoint coordinates, so the
      // group-mean expectation differs from ∇E[R] by at least 1/G of its largest component.
      if (m.param !== 'shared') {
        const gap = maxAbs(axpy(-1, truth, gm));
        assert.ok(gap >= (maxAbs(truth) / G) * (1 - 1e-9) - 1e-12, `group-mean gap ${gap} < ‖∇E[R]‖∞/G = ${maxAbs(truth) / G}`);
      }
      // Whole-path advantages: R - group mean (with itself) shrinks by exactly (G-1)/G;
      // leave-one-out does not.
      const wholeSelf = exactGroup(m, outs, G, (rs) => reinforceBaseline(rs, { scope: 'group' })).mean;
      assertClose(wholeSelf, scaled((G - 1) / G, truth), EXACT, 'E[R - group mean] = (G-1)/G ∇E[R]');
      const wholeLoo = exactGroup(m, outs, G, (rs) => reinforceBaseline(rs, { scope: 'group', leaveOneOut: true })).mean;
      assertClose(wholeLoo, truth, EXACT, 'E[R - leave-one-out mean] = ∇E[R]');
      // SRC + PSAE (ProRL, leave-one-out) is unbiased for ∇(E[R] - μE[L]); the no-PSAE ablation too.
      const mu = 0.3;
      const priced = objective(m, m.theta, fused(m), mu).grad;
      const plain: CenteringSpec = { mode: 'plain', mu };
      assertClose(exactGroup(m, outs, G, (rs) => prorlAdvantages(rs, plain)).mean, priced, EXACT, 'E[ProRL leave-one-out]');
      assertClose(exactGroup(m, outs, G, (rs) => prorlNoPsae(rs, plain)).mean, priced, EXACT, 'E[prorl-no-psae leave-one-out]');
    }),
    params(40),
  );
  shrink.forEach((xs, t) => console.log(`group-mean PSAE shrink c_t / ((G-1)/G) at position ${t}: ${quantiles(xs)}`));
});

test("4b. the STOP term must share the items' baseline at its position: other choices are biased", () => {
  // Whatever the model, replacing A_STOP = -b_L by -(mean G_L of the other continuers) or by 0
  // (items at L keep b_L) changes the expectation; the library's choice does not.
  const spec: Spec = {
    nItems: 2,
    lMax: 2,
    repeats: true,
    param: 'position',
    logits: [0.3, -0.2, 0.1, 0.5, -0.4, 0.2],
    rewards: [1, 0.5, 0.2, -0.3, 0.8, 0.1, 0.4, 1.2, -0.5],
    noise: false,
    delta: [0, 0, 0],
    weights: [1, 1, 1],
  };
  const m = build(spec);
  const outs = enumerate(m);
  const truth = objective(m, m.theta, fused(m), 0).grad;
  const G = 3;
  const lib = (rs: Rollout[]) => positionAdvantages(rs, { baseline: 'leave-one-out' });
  assertClose(exactGroup(m, outs, G, lib).mean, truth, EXACT, 'library STOP baseline');
  const variant = (kind: 'continuers' | 'zero') => (rs: Rollout[]) => {
    const A = lib(rs);
    const G0 = positionAdvantages(rs, { baseline: 'none' });
    return A.map((a, i) => {
      if (!rs[i].stopped) return a;
      const L = rs[i].rewards.length;
      const others = rs.map((_, j) => j).filter((j) => j !== i && rs[j].rewards.length > L);
      const b = kind === 'zero' || others.length === 0 ? 0 : others.reduce((s, j) => s + G0[j][L], 0) / others.length;
      const out = Float64Array.from(a);
      out[L] = -b;
      return out;
    });
  };
  for (const kind of ['continuers', 'zero'] as const) {
    const gap = maxAbs(axpy(-1, truth, exactGroup(m, outs, G, variant(kind)).mean));
    console.log(`STOP baseline '${kind}' (G=${G}): max |E - ∇E[R]| = ${gap.toExponential(3)}, ‖∇E[R]‖∞ = ${maxAbs(truth).toExponential(3)}`);
    assert.ok(gap > 1e-3, `STOP baseline '${kind}' should be biased, gap ${gap}`);
  }
});

// ---------------------------------------------------------------------------------------------
// 5. Variance
// ---------------------------------------------------------------------------------------------

test('5. variance: reward-to-go / PSAE vs path-level REINFORCE (exact trace of covariance)', () => {
  const ratios: Record<string, number[]> = { guaranteed: [], 'rtg/rf any-sign': [], 'rtg/rf shared': [], 'srcRtg/srcRf': [] };
  fc.assert(
    fc.property(specArb(), fc.boolean(), (spec, nonneg) => {
      const m = build(spec, { nonneg });
      const outs = enumerate(m);
      const rf = exactSingle(m, outs, reinforce);
      const rtg = exactSingle(m, outs, (rs) => positionAdvantages(rs, { baseline: 'none' }));
      const ratio = rtg.variance / rf.variance;
      // Theory: with logits per position or per state, the ∇ℓ_t of one path are orthogonal, so
      // ‖g‖² = Σ_t A_t²‖∇ℓ_t‖²; with R = P_t + G_t (P_t the rewards before t), R² - G_t² =
      // P_t(P_t + 2G_t) >= 0 when all rewards have one sign: reward-to-go never has more variance.
      if (nonneg && m.param !== 'shared') {
        assert.ok(rtg.variance <= rf.variance * (1 + 1e-9) + 1e-12, `Var(RTG) ${rtg.variance} > Var(REINFORCE) ${rf.variance}`);
        if (rf.variance > 1e-12) ratios.guaranteed.push(ratio);
      } else if (rf.variance > 1e-12) {
        ratios[m.param === 'shared' ? 'rtg/rf shared' : 'rtg/rf any-sign'].push(ratio);
      }
      // With centred rewards (μ = E[R]/E[L]) rewards have mixed signs: no guarantee.
      const ER = objective(m, m.theta, fused(m), 0).value;
      const EL = objective(m, m.theta, () => 0, -1).value;
      const c: CenteringSpec = { mode: 'plain', mu: ER / EL };
      const a = exactSingle(m, outs, (rs) => reinforce(stepwiseCentering(rs, c)));
      const b = exactSingle(m, outs, (rs) => prorlAdvantages(rs, c, { baseline: 'none' }));
      if (a.variance > 1e-12) ratios['srcRtg/srcRf'].push(b.variance / a.variance);
    }),
    params(300),
  );
  // Groups of 2: PSAE (leave-one-out) against REINFORCE and against whole-path leave-one-out.
  const group: Record<string, number[]> = { 'psae/rf G=2': [], 'psae/rfLoo G=2': [], 'prorl/rf G=2': [] };
  fc.assert(
    fc.property(
      specArb({ maxItems: 3, maxL: 2 }).filter((s) => enumerate(build(s)).length <= 45),
      (spec) => {
        const m = build(spec);
        const outs = enumerate(m);
        const rf = exactGroup(m, outs, 2, reinforce).variance;
        if (rf <= 1e-12) return;
        const psae = exactGroup(m, outs, 2, (rs) => positionAdvantages(rs)).variance;
        const rfLoo = exactGroup(m, outs, 2, (rs) => reinforceBaseline(rs, { scope: 'group', leaveOneOut: true })).variance;
        const prorl = exactGroup(m, outs, 2, (rs) => prorlAdvantages(rs, { mode: 'plain', mu: 0.5 })).variance;
        group['psae/rf G=2'].push(psae / rf);
        if (rfLoo > 1e-12) group['psae/rfLoo G=2'].push(psae / rfLoo);
        group['prorl/rf G=2'].push(prorl / rf);
      },
    ),
    params(40),
  );
  for (const [k, v] of Object.entries({ ...ratios, ...group })) console.log(`variance ratio ${k}: ${quantiles(v)}`);
});

// ---------------------------------------------------------------------------------------------
// 6. Groups of size G
// ---------------------------------------------------------------------------------------------

test('6a. GRPO, G = 2: exact expectation = gradient of the pairwise objective E[A(R1, R2)] (cosine to ∇E[R] reported)', () => {
  // With G = 2 the advantage of rollout 1 is a function h(R1, R2); by the score-function identity
  // the expected batch gradient is ∇_θ' E_{τ1~θ', τ2~θ}[h] at θ' = θ (a rank-like objective).
  const cosines: number[] = [];
  fc.assert(
    fc.property(
      specArb({ maxItems: 3, maxL: 2 }).filter((s) => enumerate(build(s)).length <= 45),
      (spec) => {
        const m = build(spec);
        const outs = enumerate(m);
        const exp = exactGroup(m, outs, 2, (rs) => grpo(rs)).mean;
        // h(o1, o2) for every pair; the pairwise objective's gradient by finite differences over θ'.
        const h = outs.map((o1) => outs.map((o2) => grpo([toRollout(m, o1), toRollout(m, o2)])[0][0]));
        const pairwise = (theta: Float64Array) => {
          const mm: Model = { ...m, theta };
          const o1s = enumerate(mm);
          let s = 0;
          o1s.forEach((o1, i) => outs.forEach((o2, j) => (s += o1.p * o2.p * h[i][j])));
          return s;
        };
        const fd = new Float64Array(m.dim);
        const th = Float64Array.from(m.theta);
        const eps = 1e-5;
        for (let j = 0; j < m.dim; j++) {
          th[j] += eps;
          const up = pairwise(th);
          th[j] -= 2 * eps;
          const dn = pairwise(th);
          th[j] = m.theta[j];
          fd[j] = (up - dn) / (2 * eps);
        }
        assertClose(exp, fd, 1e-6, 'E[GRPO] vs ∇ pairwise objective');
        const truth = objective(m, m.theta, fused(m), 0).grad;
        const n = Math.sqrt(dot(exp, exp) * dot(truth, truth));
        if (n > 1e-9) cosines.push(dot(exp, truth) / n);
      },
    ),
    params(25),
  );
  console.log(`GRPO G=2 cosine(E[grpo], ∇E[R]): ${quantiles(cosines)}`);
});

test('6b. groups of G = 4..16 by seeded Monte Carlo: PSAE leave-one-out = ∇E[R], group mean = Σ_t c_t g_t, whole-path (G-1)/G, ProRL = ∇(E[R] - μE[L]) (tolerance 5 standard errors); variance ratios reported', () => {
  const ratios: Record<string, number[]> = {};
  const arb = fc.record({
    spec: specArb({ logit: 1 }), // logits in [-1, 1]: every state visited often enough for a reliable standard error
    G: fc.constantFrom(4, 8, 16),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  fc.assert(
    fc.property(arb, ({ spec, G, seed }) => {
      const m = build(spec);
      const outs = enumerate(m);
      const probs = outs.map((o) => o.p);
      const rng = Rng.stream(seed, 'sampling');
      const N = Math.round(24000 / G);
      const truth = objective(m, m.theta, fused(m), 0).grad;
      // Predicted group-mean expectation (see property 4).
      const T = m.lMax + 1;
      const gt = Array.from({ length: T }, () => new Float64Array(m.dim));
      const pt = new Float64Array(T);
      for (const o of outs) {
        const A = positionAdvantages([toRollout(m, o)], { baseline: 'none' })[0];
        for (let t = 0; t < A.length; t++) {
          pt[t] += o.p;
          for (let j = 0; j < m.dim; j++) gt[t][j] += o.p * A[t] * o.score[t][j];
        }
      }
      const predictedGm = new Float64Array(m.dim);
      for (let t = 0; t < T; t++) {
        let c = 0;
        for (let k = 0; k < G; k++) c += binom(G - 1, k) * pt[t] ** k * (1 - pt[t]) ** (G - 1 - k) * (k / (k + 1));
        for (let j = 0; j < m.dim; j++) predictedGm[j] += c * gt[t][j];
      }
      const ER = objective(m, m.theta, fused(m), 0).value;
      const EL = objective(m, m.theta, () => 0, -1).value;
      const mu = ER / EL;
      const checks: [string, Est, Float64Array][] = [
        ['REINFORCE', reinforce, truth],
        ['R - leave-one-out mean', (rs) => reinforceBaseline(rs, { scope: 'group', leaveOneOut: true }), truth],
        ['ProRL (leave-one-out, μ = E[R]/E[L])', (rs) => prorlAdvantages(rs, { mode: 'plain', mu }), objective(m, m.theta, fused(m), mu).grad],
        ['PSAE leave-one-out', (rs) => positionAdvantages(rs, { baseline: 'leave-one-out' }), truth],
        ['PSAE group-mean', (rs) => positionAdvantages(rs, { baseline: 'group-mean' }), predictedGm],
        ['R - group mean', (rs) => reinforceBaseline(rs, { scope: 'group' }), scaled((G - 1) / G, truth)],
      ];
      const sum = checks.map(() => new Float64Array(m.dim));
      const sq = checks.map(() => new Float64Array(m.dim));
      const g = new Float64Array(m.dim);
      for (let n = 0; n < N; n++) {
        const drawn = Array.from({ length: G }, () => outs[rng.categorical(probs)]);
        const rs = drawn.map((o) => toRollout(m, o));
        checks.forEach(([, est], k) => {
          g.fill(0);
          const A = est(rs);
          drawn.forEach((o, i) => accumulate(g, o, A[i], 1 / G));
          for (let j = 0; j < m.dim; j++) {
            sum[k][j] += g[j];
            sq[k][j] += g[j] * g[j];
          }
        });
      }
      const variance = checks.map((_, k) => {
        let v = 0;
        for (let j = 0; j < m.dim; j++) v += (sq[k][j] / N - (sum[k][j] / N) ** 2) * (N / (N - 1));
        return v;
      });
      const rec = (name: string, a: number, b: number) => {
        if (variance[b] > 1e-12) (ratios[`${name} G=${G}`] ??= []).push(variance[a] / variance[b]);
      };
      rec('psae/rf', 4, 0);
      rec('psae/rfLoo', 4, 1);
      rec('prorl/rf', 2, 0);
      checks.forEach(([name, , expected], k) => {
        for (let j = 0; j < m.dim; j++) {
          const mean = sum[k][j] / N;
          const se = Math.sqrt(Math.max(sq[k][j] / N - mean * mean, 0) / (N - 1));
          assert.ok(
            Math.abs(mean - expected[j]) <= 5 * se + 1e-12,
            `${name}, G=${G}: coordinate ${j}: MC mean ${mean} vs exact ${expected[j]} (SE ${se}, N=${N} groups)`,
          );
        }
      });
    }),
    params(6),
  );
  for (const [k, v] of Object.entries(ratios).sort()) console.log(`variance ratio (Monte Carlo) ${k}: ${quantiles(v)}`);
});

test("6c. CenteringStats while still accumulating the current batch: μ depends on the sample, so that batch's estimate is biased", () => {
  // Exact over G=2 groups: centring with the batch's own mean step reward, against the frozen μ.
  const spec: Spec = {
    nItems: 2,
    lMax: 2,
    repeats: true,
    param: 'position',
    logits: [0.3, -0.2, 0.1, 0.5, -0.4, 0.2],
    rewards: [1, 0.5, 0.2, -0.3, 0.8, 0.1, 0.4, 1.2, -0.5],
    noise: false,
    delta: [0, 0, 0],
    weights: [1, 1, 1],
  };
  const m = build(spec);
  const outs = enumerate(m);
  const G = 2;
  const ER = objective(m, m.theta, fused(m), 0).value;
  const EL = objective(m, m.theta, () => 0, -1).value;
  const mu = ER / EL;
  const frozen = exactGroup(m, outs, G, (rs) => prorlAdvantages(rs, { mode: 'plain', mu })).mean;
  assertClose(frozen, objective(m, m.theta, fused(m), mu).grad, EXACT, 'frozen μ');
  const batchMu = exactGroup(m, outs, G, (rs) => {
    let s = 0;
    let n = 0;
    for (const r of rs) for (const x of r.rewards) [s, n] = [s + x, n + 1];
    return prorlAdvantages(rs, { mode: 'plain', mu: n > 0 ? s / n : 0 });
  }).mean;
  const gap = maxAbs(axpy(-1, frozen, batchMu));
  console.log(`batch-estimated μ (G=2): max |E - frozen-μ expectation| = ${gap.toExponential(3)} (‖grad‖∞ ${maxAbs(frozen).toExponential(3)})`);
  assert.ok(gap > 1e-4, 'batch-estimated μ should be biased');
});

// Keep numTerms in the public surface under test (alignment of the STOP term).
test('alignment: one advantage per log-prob term for every registry estimator', () => {
  fc.assert(
    fc.property(specArb({ maxItems: 3 }), fc.integer({ min: 1, max: 4 }), (spec, G) => {
      const m = build(spec);
      const outs = enumerate(m);
      const rs = Array.from({ length: G }, (_, i) => toRollout(m, outs[(i * 7) % outs.length], i % 2));
      const centering: CenteringSpec = { mode: 'plain', mu: 0.2 };
      for (const [name, est] of Object.entries(ESTIMATORS)) {
        const A = est(rs, { centering });
        assert.equal(A.length, rs.length, name);
        A.forEach((a, i) => {
          assert.equal(a.length, numTerms(rs[i]), `${name}: rollout ${i}`);
          for (const x of a) assert.ok(Number.isFinite(x), `${name}: non-finite advantage`);
        });
      }
    }),
    params(100),
  );
});
