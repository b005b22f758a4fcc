/**
 * Is an advantage estimator unbiased? An exact check by enumeration, for users' estimators
 * (`prorec-gym/estimators/check`; the scaffold of `prorec-gym new-agent --estimator NAME` calls it).
 *
 * A problem is a tabular softmax policy small enough to enumerate every path: K items plus STOP,
 * paths of at most L_max items (repeats allowed), logits θ[s] per state s (the prefix of items so
 * far), and deterministic step rewards r = w·(IoI, IoR, CTR) per (prefix, item), all drawn from a
 * seeded stream. For a group size G, every G-tuple of paths is enumerated with its probability, the
 * estimator (composed as the trainer runs it: `estimateAdvantages`) gives A_i,t for each tuple, and
 *
 *     E[ (1/G) Σ_i Σ_t A_i,t ∇_θ log π(a_i,t | s_i,t) ]                      (the trainer's gradient)
 *
 * is compared with the exact gradient of the objective the estimator claims,
 *
 *     ∇J,  J(θ) = E[R] − μ·E[L]      (R = Σ_t r_t, L the path's items; μ = 0 without SRC),
 *
 * computed over single paths as Σ_path P(path)·(R − μL)·∇log P(path). With `needs.centering`, the
 * estimator gets plain SRC with the constant μ (`{ mode: 'plain', mu }`), under which ProRL's
 * objective is E[R] − μ·E[L] (docs/design.md §4.4); without it, μ is not used and J = E[R].
 *
 * Limits: rewards are deterministic given the path (no noise outcome), the centring is the plain
 * mode with a frozen μ (z-score centring re-weights the components: its objective is another J),
 * and every item is allowed at every step (no masks). The project's own property tests
 * (test/estimators-exact.test.ts) also cover noise, masks, per-position and z-score centring.
 */
import { Rng } from '../core/rng.ts';
import { ContractError } from '../core/errors.ts';
import { builtInEstimator, estimateAdvantages, type EstimatorDefinition, type EstimatorName, type EstimatorOptions, type Rollout } from './estimators.ts';

/** One enumerable problem: the tabular policy, its rewards and the group size. */
export interface TabularProblem {
  /** K: items (actions 0..K−1; STOP is K). */
  readonly numItems: number;
  /** L_max: at most this many items per path (a path of L_max items has no STOP term). */
  readonly maxLength: number;
  /** G: paths per group (the estimator sees one group of G rollouts). */
  readonly groupSize: number;
  /** Seed of the logits and rewards. */
  readonly seed: number;
}

export interface UnbiasednessCheckOptions {
  /** Number of random problems (default 12). */
  readonly problems?: number;
  /** Seed of the problems (default 1). */
  readonly seed?: number;
  /** Group sizes to cycle through (default [1, 2, 3]). */
  readonly groupSizes?: readonly number[];
  /** μ: the constant centring price per step for estimators with `needs.centering` (default 0.3). */
  readonly mu?: number;
  /** Further estimator options (e.g. `{ baseline: 'group-mean' }`); `centering` is set by the check. */
  readonly options?: Omit<EstimatorOptions, 'centering'>;
  /** Largest relative error |E[ĝ] − ∇J|_∞ / |∇J|_∞ still called unbiased (default 1e-9: exact up to round-off). */
  readonly tolerance?: number;
}

export interface ProblemResult extends TabularProblem {
  /** |E[ĝ] − ∇J|_∞ / max(|∇J|_∞, 1e-12). */
  readonly relativeError: number;
  /** |∇J|_∞: the scale of the gradient compared. */
  readonly gradientScale: number;
  /** G-tuples of paths enumerated. */
  readonly tuples: number;
}

export interface UnbiasednessReport {
  readonly estimator: string;
  readonly unbiased: boolean;
  readonly maxRelativeError: number;
  readonly tolerance: number;
  readonly objective: string;
  readonly problems: readonly ProblemResult[];
  /** One line for a test's message: the verdict, the worst problem and its error. */
  readonly summary: string;
}

/** A path of the tabular model: its items, whether it stopped, its step rewards and components. */
interface TabPath {
  readonly items: readonly number[];
  readonly stopped: boolean;
  readonly logP: number;
  readonly rollout: Rollout;
  /** ∇log π of each term (items, then STOP when stopped), as (state, action) pairs. */
  readonly terms: readonly { readonly state: number; readonly action: number }[];
}

/** The tabular model of one problem: states (prefixes), logits, softmax and every path. */
class TabularModel {
  readonly K: number;
  readonly lMax: number;
  readonly states = new Map<string, number>();
  readonly probs: Float64Array[] = [];
  readonly paths: TabPath[] = [];

  /** `shift`: h added to the flat logit θ[index] (state·(K+1) + action), for finite differences. */
  constructor(p: TabularProblem, shift?: { readonly index: number; readonly h: number }) {
    if (!Number.isInteger(p.numItems) || p.numItems < 1 || p.numItems > 4) throw new ContractError(`numItems must be 1..4, got ${p.numItems}`);
    if (!Number.isInteger(p.maxLength) || p.maxLength < 1 || p.maxLength > 4) throw new ContractError(`maxLength must be 1..4, got ${p.maxLength}`);
    this.K = p.numItems;
    this.lMax = p.maxLength;
    const rng = Rng.stream(p.seed, 'estimator-check');
    const weights = { ioi: rng.float() * 2, ior: rng.float(), ctr: rng.float() };
    const reward = new Map<string, { ioi: number; ior: number; ctr: number }>();
    const visit = (prefix: number[]) => {
      if (prefix.length >= this.lMax) return;
      const s = this.states.size;
      this.states.set(prefix.join(','), s);
      const logits = Array.from({ length: this.K + 1 }, () => rng.normal());
      if (shift && Math.floor(shift.index / (this.K + 1)) === s) logits[shift.index % (this.K + 1)] += shift.h;
      const m = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      this.probs.push(Float64Array.from(e, (x) => x / z));
      for (let i = 0; i < this.K; i++) {
        // Rewards with a positive mean, as IoI and CTR are: a length shortcut exists to be priced.
        reward.set([...prefix, i].join(','), { ioi: rng.normal() + 0.5, ior: rng.normal(), ctr: rng.float() });
        visit([...prefix, i]);
      }
    };
    visit([]);
    const walk = (prefix: number[], logP: number) => {
      const s = prefix.length < this.lMax ? this.states.get(prefix.join(','))! : -1;
      if (prefix.length < this.lMax) this.addPath(prefix, true, logP + Math.log(this.probs[s][this.K]), reward, weights);
      else this.addPath(prefix, false, logP, reward, weights);
      if (prefix.length < this.lMax) for (let i = 0; i < this.K; i++) walk([...prefix, i], logP + Math.log(this.probs[s][i]));
    };
    walk([], 0);
  }

  private addPath(
    items: number[],
    stopped: boolean,
    logP: number,
    reward: Map<string, { ioi: number; ior: number; ctr: number }>,
    w: { ioi: number; ior: number; ctr: number },
  ): void {
    const L = items.length;
    const c = { ioi: new Float64Array(L), ior: new Float64Array(L), ctr: new Float64Array(L) };
    const rewards = new Float64Array(L);
    const terms: { state: number; action: number }[] = [];
    for (let t = 0; t < L; t++) {
      const r = reward.get(items.slice(0, t + 1).join(','))!;
      c.ioi[t] = r.ioi;
      c.ior[t] = r.ior;
      c.ctr[t] = r.ctr;
      rewards[t] = w.ioi * r.ioi + w.ior * r.ior + w.ctr * r.ctr;
      terms.push({ state: this.states.get(items.slice(0, t).join(','))!, action: items[t] });
    }
    if (stopped) terms.push({ state: this.states.get(items.join(','))!, action: this.K });
    this.paths.push({ items, stopped, logP, terms, rollout: { group: 0, rewards, components: c, stopped } });
  }

  get dim(): number {
    return this.states.size * (this.K + 1);
  }

  /** g += scale · ∇log π(action | state) = scale · (e_action − π(·|state)) in block `state`. */
  addScore(g: Float64Array, state: number, action: number, scale: number): void {
    const p = this.probs[state];
    const o = state * (this.K + 1);
    for (let a = 0; a <= this.K; a++) g[o + a] -= scale * p[a];
    g[o + action] += scale;
  }
}

/** ∇J for J = E[R] − μ·E[L], exactly: Σ_path P(path)·(R − μL)·Σ_t ∇log π(a_t|s_t). */
function objectiveGradient(m: TabularModel, mu: number): Float64Array {
  const g = new Float64Array(m.dim);
  for (const p of m.paths) {
    let R = 0;
    for (const r of p.rollout.rewards) R += r;
    const f = Math.exp(p.logP) * (R - mu * p.items.length);
    for (const term of p.terms) m.addScore(g, term.state, term.action, f);
  }
  return g;
}

/** E[(1/G) Σ_i Σ_t A_i,t ∇ℓ_i,t] over every G-tuple of paths. */
function estimatorExpectation(m: TabularModel, def: EstimatorDefinition, G: number, opts: EstimatorOptions): { mean: Float64Array; tuples: number } {
  const g = new Float64Array(m.dim);
  const n = m.paths.length;
  const tuples = n ** G;
  const idx = new Array<number>(G).fill(0);
  for (let k = 0; k < tuples; k++) {
    let rest = k;
    let logP = 0;
    for (let i = 0; i < G; i++) {
      idx[i] = rest % n;
      rest = Math.floor(rest / n);
      logP += m.paths[idx[i]].logP;
    }
    const P = Math.exp(logP);
    const A = estimateAdvantages(
      def,
      idx.map((j) => m.paths[j].rollout),
      opts,
    );
    for (let i = 0; i < G; i++) {
      const terms = m.paths[idx[i]].terms;
      for (let t = 0; t < terms.length; t++) m.addScore(g, terms[t].state, terms[t].action, (P * A[i][t]) / G);
    }
  }
  return { mean: g, tuples };
}

/** The problems `checkUnbiased` runs: sizes drawn from the seed, at most 50,000 tuples each. */
export function tabularProblems(count: number, seed: number, groupSizes: readonly number[]): TabularProblem[] {
  const rng = Rng.stream(seed, 'estimator-check/problems');
  const out: TabularProblem[] = [];
  for (let k = 0; k < count; k++) {
    const groupSize = groupSizes[k % groupSizes.length];
    let numItems = 2 + rng.int(2);
    let maxLength = 1 + rng.int(3);
    const paths = (K: number, L: number) => (K ** (L + 1) - 1) / (K - 1);
    while (paths(numItems, maxLength) ** groupSize > 50_000 && maxLength > 1) maxLength--;
    while (paths(numItems, maxLength) ** groupSize > 50_000 && numItems > 2) numItems--;
    out.push({ numItems, maxLength, groupSize, seed: rng.seed32() });
  }
  return out;
}

/**
 * Checks exactly whether `estimator`, composed as the RL trainer runs it, is unbiased for
 * ∇(E[R] − μ·E[L]) (μ = 0 when it does not need centring) on `problems` enumerable tabular problems.
 * Returns a report (`unbiased`, the largest relative error, one result per problem, a summary line);
 * throws ContractError when the estimator returns malformed advantages (estimateAdvantages checks).
 * Cost: at most 50,000 estimator calls per problem (G-tuples of paths).
 */
export function checkUnbiased(estimator: EstimatorDefinition | EstimatorName, opts: UnbiasednessCheckOptions = {}): UnbiasednessReport {
  const def = typeof estimator === 'string' ? builtInEstimator(estimator) : estimator;
  const name = def.name;
  const needsCentering = def.needs.centering;
  const mu = needsCentering ? (opts.mu ?? 0.3) : 0;
  const tolerance = opts.tolerance ?? 1e-9;
  const problems = tabularProblems(opts.problems ?? 12, opts.seed ?? 1, opts.groupSizes ?? [1, 2, 3]);
  const estimatorOptions: EstimatorOptions = { ...opts.options, ...(needsCentering ? { centering: { mode: 'plain', mu } } : {}) };
  const results = problems.map((p): ProblemResult => {
    const m = new TabularModel(p);
    const truth = objectiveGradient(m, mu);
    const { mean, tuples } = estimatorExpectation(m, def, p.groupSize, estimatorOptions);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < truth.length; i++) {
      err = Math.max(err, Math.abs(mean[i] - truth[i]));
      scale = Math.max(scale, Math.abs(truth[i]));
    }
    return { ...p, relativeError: err / Math.max(scale, 1e-12), gradientScale: scale, tuples };
  });
  const worst = results.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
  const maxRelativeError = worst.relativeError;
  const unbiased = maxRelativeError <= tolerance;
  const objective = needsCentering ? `∇(E[R] − ${mu}·E[L])` : '∇E[R]';
  const summary =
    `${name}: ${unbiased ? 'unbiased' : 'BIASED'} for ${objective} on ${results.length} tabular problems; largest relative error ` +
    `${maxRelativeError.toExponential(2)} (tolerance ${tolerance.toExponential(0)}) with K = ${worst.numItems} items, L_max = ${worst.maxLength}, G = ${worst.groupSize}`;
  return { estimator: name, unbiased, maxRelativeError, tolerance, objective, problems: results, summary };
}

/**
 * J(θ) = E[R] − μ·E[L] of problem `p` by enumeration, with h added to the flat logit `index`
 * (state·(K+1) + action) when `shift` is given, and the exact ∇J the check compares with: for
 * finite-difference checks of the check itself.
 */
export function objectiveByEnumeration(
  p: TabularProblem,
  mu: number,
  shift?: { readonly index: number; readonly h: number },
): { value: number; gradient: Float64Array } {
  const m = new TabularModel(p, shift);
  let value = 0;
  for (const path of m.paths) {
    let R = 0;
    for (const r of path.rollout.rewards) R += r;
    value += Math.exp(path.logP) * (R - mu * path.items.length);
  }
  return { value, gradient: objectiveGradient(m, mu) };
}
