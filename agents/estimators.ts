/**
 * Advantage estimators for policy-gradient training on proactive paths (docs/design.md §4.1–§4.8).
 *
 * A trainer samples, per case, a group of G paths, computes every action's log-probability
 * ℓ_t = log π(a_t | s_t), and minimises  -(1/N) Σ_paths Σ_t A_t ℓ_t  (+ its KL term). This module
 * computes the A_t. Every estimator is a pure function
 *
 *     (rollouts, options) -> advantages,   advantages[i][t] weights ℓ_t of rollout i,
 *
 * with positions t = 0..L-1 for the L path items and t = L for the STOP action when the path
 * stopped (a path truncated at L_max has no STOP term). So `advantages[i].length` is
 * `L + (stopped ? 1 : 0)`, exactly the number of log-prob terms the trainer has for that path.
 *
 * Which objective each estimator follows (checked exactly, by enumerating every path of small
 * tabular policies, in test/estimators-exact.test.ts):
 * - `reinforce`: unbiased for ∇E[R], R = Σ_t r_t. Shows the length shortcut: with step rewards of
 *   positive mean μ, E[R] grows with E[L] and every "continue" is pushed up.
 * - `reinforceBaseline`, `grpo`: path-level baselines. A baseline computed from a batch or group
 *   that includes the path itself shrinks the expectation by (N-1)/N; leave-one-out does not.
 *   GRPO's division by the group std is not the gradient of E[R] at all (a rank-like objective).
 * - `stepwiseCentering` (SRC) then REINFORCE: unbiased for ∇(E[R] - μ·E[L]) with μ the centring
 *   constant (plain mode), a per-step price on length; in z-score mode, for ∇(E[R'] - κ·E[L])
 *   with R' the re-weighted reward Σ_c w_c x_c / s_c and κ = Σ_c w_c m_c / s_c.
 * - `positionAdvantages` (PSAE): reward-to-go minus a per-position baseline. With the
 *   leave-one-out baseline it is exactly unbiased; with the group mean that includes the rollout
 *   itself, each term at position t is shrunk by (n_t - 1)/n_t, n_t = rollouts active at t.
 */
import { ContractError } from '../core/errors.ts';

/** Per-step raw reward components, each of length L (docs/design.md §2.3). */
export interface StepComponents {
  readonly ioi: Float64Array;
  readonly ior: Float64Array;
  readonly ctr: Float64Array;
}

/** One sampled path, as a trainer has it after its rollouts. */
export interface Rollout {
  /** The group (case/prompt) the path was sampled for; baselines are computed within a group. */
  readonly group: number;
  /** Fused step rewards r_t of the L path items, t = 0..L-1. */
  readonly rewards: Float64Array;
  /** Raw components per step; required by z-score centring. */
  readonly components?: StepComponents;
  /** True if the path ended with STOP at position L (then there is a STOP log-prob term). */
  readonly stopped: boolean;
}

/** Per rollout, one advantage per log-prob term: items at 0..L-1, STOP at L if stopped. */
export type Advantages = Float64Array[];

/** A value per reward component. */
export interface ComponentValues {
  readonly ioi: number;
  readonly ior: number;
  readonly ctr: number;
}

const COMPONENTS = ['ioi', 'ior', 'ctr'] as const;

// ---------------------------------------------------------------------------------------------
// Small shared pieces
// ---------------------------------------------------------------------------------------------

/** Number of log-prob terms of a rollout: L items, plus STOP when it stopped. */
export function numTerms(r: Rollout): number {
  return r.rewards.length + (r.stopped ? 1 : 0);
}

/** Path return R = Σ_t r_t. */
export function pathReturn(r: Rollout): number {
  let s = 0;
  for (let t = 0; t < r.rewards.length; t++) s += r.rewards[t];
  return s;
}

function check(rollouts: readonly Rollout[]): void {
  for (let i = 0; i < rollouts.length; i++) {
    const r = rollouts[i];
    for (let t = 0; t < r.rewards.length; t++) {
      if (!Number.isFinite(r.rewards[t])) throw new ContractError(`rollout ${i}: reward ${t} is ${r.rewards[t]}`);
    }
    if (r.components) {
      for (const c of COMPONENTS) {
        if (r.components[c].length !== r.rewards.length) {
          throw new ContractError(`rollout ${i}: components.${c} has length ${r.components[c].length}, rewards ${r.rewards.length}`);
        }
      }
    }
  }
}

/** Rollout indices per group, in first-seen order. */
function groups(rollouts: readonly Rollout[]): number[][] {
  const m = new Map<number, number[]>();
  rollouts.forEach((r, i) => {
    const g = m.get(r.group);
    if (g) g.push(i);
    else m.set(r.group, [i]);
  });
  return [...m.values()];
}

/** The same advantage `a` for every log-prob term of `r` (path-level estimators). */
function constant(r: Rollout, a: number): Float64Array {
  return new Float64Array(numTerms(r)).fill(a);
}

/**
 * Mean of `values` over `idx` as a baseline for member `self`: including it ('mean') or
 * leave-one-out ('loo': the mean over the others, 0 when there are none).
 */
function baselineOf(values: ArrayLike<number>, idx: readonly number[], self: number, loo: boolean): number {
  let sum = 0;
  for (const j of idx) sum += values[j];
  if (!loo) return sum / idx.length;
  return idx.length > 1 ? (sum - values[self]) / (idx.length - 1) : 0;
}

// ---------------------------------------------------------------------------------------------
// Path-level estimators
// ---------------------------------------------------------------------------------------------

/**
 * REINFORCE: every term, STOP included, weighted by the path return R. Unbiased for ∇E[R]
 * because Σ_t ∇ℓ_t (STOP included) is the score ∇log P(path).
 */
export function reinforce(rollouts: readonly Rollout[]): Advantages {
  check(rollouts);
  return rollouts.map((r) => constant(r, pathReturn(r)));
}

export interface PathBaselineOptions {
  /** Over which rollouts the mean of R is taken (default 'batch'). */
  readonly scope?: 'batch' | 'group';
  /**
   * Exclude the rollout itself from the mean (default false). Including it makes the baseline
   * depend on the sampled path: the expectation becomes (n-1)/n · ∇E[R] for a mean over n.
   */
  readonly leaveOneOut?: boolean;
}

/** REINFORCE with a path-level baseline: A = R - mean R (batch mean by default, itself included). */
export function reinforceBaseline(rollouts: readonly Rollout[], opts: PathBaselineOptions = {}): Advantages {
  check(rollouts);
  const R = rollouts.map(pathReturn);
  const sets = opts.scope === 'group' ? groups(rollouts) : [rollouts.map((_, i) => i)];
  const out: Advantages = new Array(rollouts.length);
  for (const idx of sets) {
    for (const i of idx) out[i] = constant(rollouts[i], R[i] - baselineOf(R, idx, i, !!opts.leaveOneOut));
  }
  return out;
}

export interface GrpoOptions {
  /** Added to the std (default 1e-4, as in common GRPO implementations). */
  readonly eps?: number;
  /** 'sample' (n-1, torch's default `std()`) or 'population' (n). Default 'sample'. */
  readonly std?: 'sample' | 'population';
}

/**
 * GRPO-style group normalisation: A = (R - mean_g R) / (std_g R + eps), the same for every term.
 * A group of one has std 0 and mean R: A = 0.
 */
export function grpo(rollouts: readonly Rollout[], opts: GrpoOptions = {}): Advantages {
  check(rollouts);
  const eps = opts.eps ?? 1e-4;
  const R = rollouts.map(pathReturn);
  const out: Advantages = new Array(rollouts.length);
  for (const idx of groups(rollouts)) {
    const n = idx.length;
    let mean = 0;
    for (const i of idx) mean += R[i];
    mean /= n;
    let ss = 0;
    for (const i of idx) ss += (R[i] - mean) ** 2;
    const dof = opts.std === 'population' ? n : n - 1;
    const std = dof > 0 ? Math.sqrt(ss / dof) : 0;
    for (const i of idx) out[i] = constant(rollouts[i], (R[i] - mean) / (std + eps));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Stepwise Reward Centering (SRC)
// ---------------------------------------------------------------------------------------------

/**
 * How to centre step rewards.
 * - 'plain': r̃_t = r_t - μ. Maximising E[Σ r̃_t] = E[R] - μ·E[L]: μ is a price per step.
 * - 'zscore' (the official code): each component is z-scored with frozen statistics, std
 *   floored at `minStd` (default 0.1), the CTR term also divided by L_max, then fused:
 *   r̃_t = w_ioi·(ioi_t - m_ioi)/s_ioi + w_ior·(ior_t - m_ior)/s_ior + w_ctr·(ctr_t - m_ctr)/(s_ctr·L_max).
 *   The fused `rewards` of the rollout are ignored (recomputed from `components`). Note this is
 *   not only a centring: it re-weights the components by 1/s_c.
 * Per-position centring (beyond the paper): `mu` / `mean` may be an array indexed by the step's
 * position t (positions past its end use its last entry). With constants μ_t the objective becomes
 * E[R] - Σ_t μ_t·P(L > t): a price per position instead of one per step, so that when the first
 * item's reward is larger than later ones' (diminishing returns), later steps are not charged the
 * first step's price. The std (and so the re-weighting of z-scores) stays pooled.
 */
export type CenteringSpec =
  | { readonly mode: 'plain'; readonly mu: number | readonly number[] }
  | {
      readonly mode: 'zscore';
      readonly mean: ComponentValues | readonly ComponentValues[];
      readonly std: ComponentValues;
      readonly weights: ComponentValues;
      readonly lMax: number;
      readonly minStd?: number;
    };

/** Entry t of a per-position value (the last entry past the end), or the pooled value itself. */
function atPosition<T>(x: T | readonly T[], t: number): T {
  if (!Array.isArray(x)) return x as T;
  const xs = x as readonly T[];
  if (xs.length === 0) throw new ContractError('stepwiseCentering: an empty per-position array');
  return xs[Math.min(t, xs.length - 1)];
}

/** SRC: the rollouts with centred step rewards r̃_t (group, stopped, components unchanged). */
export function stepwiseCentering(rollouts: readonly Rollout[], spec: CenteringSpec): Rollout[] {
  check(rollouts);
  if (spec.mode === 'plain') {
    return rollouts.map((r) => ({ ...r, rewards: r.rewards.map((x, t) => x - atPosition(spec.mu, t)) }));
  }
  const floor = spec.minStd ?? 0.1;
  // Per component c the centred value is scale_c·(x - m_c), scale_c = w_c / max(s_c, floor) (/ L_max for CTR).
  const scale = {
    ioi: spec.weights.ioi / Math.max(spec.std.ioi, floor),
    ior: spec.weights.ior / Math.max(spec.std.ior, floor),
    ctr: spec.weights.ctr / (Math.max(spec.std.ctr, floor) * spec.lMax),
  };
  return rollouts.map((r, i) => {
    const c = r.components;
    if (!c) throw new ContractError(`stepwiseCentering (zscore): rollout ${i} has no components`);
    const rewards = new Float64Array(r.rewards.length);
    for (let t = 0; t < rewards.length; t++) {
      const m = atPosition(spec.mean, t);
      rewards[t] = scale.ioi * (c.ioi[t] - m.ioi) + scale.ior * (c.ior[t] - m.ior) + scale.ctr * (c.ctr[t] - m.ctr);
    }
    return { ...r, rewards };
  });
}

/** The state of running moments: count, mean and M2 (sum of squared deviations). */
export interface MomentsState {
  readonly n: number;
  readonly mean: number;
  readonly m2: number;
}

/** Running moments (Chan et al.'s parallel merge of batch mean and M2, as the official code). */
class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  state(): MomentsState {
    return { n: this.n, mean: this.mean, m2: this.m2 };
  }
  static from(s: MomentsState): Moments {
    const m = new Moments();
    m.n = s.n;
    m.mean = s.mean;
    m.m2 = s.m2;
    return m;
  }
  add(xs: ArrayLike<number>): void {
    const k = xs.length;
    if (k === 0) return;
    let bm = 0;
    for (let i = 0; i < k; i++) bm += xs[i];
    bm /= k;
    let bm2 = 0;
    for (let i = 0; i < k; i++) bm2 += (xs[i] - bm) ** 2;
    const n = this.n + k;
    const d = bm - this.mean;
    this.mean += (d * k) / n;
    this.m2 += bm2 + (d * d * this.n * k) / n;
    this.n = n;
  }
  /** Sample std (n-1), floored; the floor alone when fewer than 2 values. */
  std(floor: number): number {
    return this.n > 1 ? Math.max(Math.sqrt(this.m2 / (this.n - 1)), floor) : floor;
  }
}

/**
 * Everything CenteringStats holds, as plain numbers (JSON round-trips them exactly): restoring it
 * gives statistics that continue bit for bit as the saved ones would.
 */
export interface CenteringStatsState {
  readonly components: { readonly ioi: MomentsState; readonly ior: MomentsState; readonly ctr: MomentsState };
  readonly fused: MomentsState;
  /** Per position t: the same moments over the steps at t. */
  readonly byPosition: readonly { readonly ioi: MomentsState; readonly ior: MomentsState; readonly ctr: MomentsState; readonly fused: MomentsState }[];
  readonly frozen: boolean;
}

export interface CenteringStatsOptions {
  /**
   * 'freeze-after-first-epoch' (default, the official code): statistics accumulate over every
   * step observed until the first `endEpoch()`, then stay fixed. 'running': never freeze.
   */
  readonly schedule?: 'freeze-after-first-epoch' | 'running';
  /** Floor on each std (default 0.1). */
  readonly minStd?: number;
}

/**
 * Statistics for SRC: per-component mean and std, and the mean fused step reward μ, over all
 * valid steps observed. Typical use, per batch:
 *
 *     stats.observe(batch);                                   // no-op once frozen
 *     const A = prorlAdvantages(batch, stats.zscoreSpec(weights, lMax));
 *     ...; at the end of each epoch: stats.endEpoch();
 *
 * Caveat (measured in the exact tests): while the statistics still include the current batch,
 * the centring constant depends on the sampled paths, so that batch's estimate is slightly
 * biased. Once frozen, the centring is a constant and SRC is exactly unbiased for its objective.
 */
export class CenteringStats {
  private readonly comp = { ioi: new Moments(), ior: new Moments(), ctr: new Moments() };
  private fused = new Moments();
  /** The same per position t (for per-position centring). */
  private readonly byPosition: { ioi: Moments; ior: Moments; ctr: Moments; fused: Moments }[] = [];
  private isFrozen = false;
  private readonly schedule: 'freeze-after-first-epoch' | 'running';
  private readonly minStd: number;

  constructor(opts: CenteringStatsOptions = {}) {
    this.schedule = opts.schedule ?? 'freeze-after-first-epoch';
    this.minStd = opts.minStd ?? 0.1;
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Number of steps accumulated. */
  get count(): number {
    return this.fused.n;
  }

  /** Accumulate every step of `rollouts` (components only if present). No-op once frozen. */
  observe(rollouts: readonly Rollout[]): void {
    if (this.isFrozen) return;
    check(rollouts);
    for (const r of rollouts) {
      this.fused.add(r.rewards);
      if (r.components) for (const c of COMPONENTS) this.comp[c].add(r.components[c]);
      for (let t = 0; t < r.rewards.length; t++) {
        while (this.byPosition.length <= t) this.byPosition.push({ ioi: new Moments(), ior: new Moments(), ctr: new Moments(), fused: new Moments() });
        const p = this.byPosition[t];
        p.fused.add([r.rewards[t]]);
        if (r.components) for (const c of COMPONENTS) p[c].add([r.components[c][t]]);
      }
    }
  }

  /** The statistics' moments and frozen flag (for checkpoints; `CenteringStats.fromState` restores them). */
  state(): CenteringStatsState {
    const parts = (p: { ioi: Moments; ior: Moments; ctr: Moments }) => ({ ioi: p.ioi.state(), ior: p.ior.state(), ctr: p.ctr.state() });
    return {
      components: parts(this.comp),
      fused: this.fused.state(),
      byPosition: this.byPosition.map((p) => ({ ...parts(p), fused: p.fused.state() })),
      frozen: this.isFrozen,
    };
  }

  /** Statistics that continue exactly as the ones `state` was taken from (same options required). */
  static fromState(s: CenteringStatsState, opts: CenteringStatsOptions = {}): CenteringStats {
    const stats = new CenteringStats(opts);
    for (const c of COMPONENTS) stats.comp[c] = Moments.from(s.components[c]);
    stats.fused = Moments.from(s.fused);
    for (const p of s.byPosition)
      stats.byPosition.push({ ioi: Moments.from(p.ioi), ior: Moments.from(p.ior), ctr: Moments.from(p.ctr), fused: Moments.from(p.fused) });
    stats.isFrozen = s.frozen;
    return stats;
  }

  /** Call at the end of every epoch; freezes after the first under the default schedule. */
  endEpoch(): void {
    if (this.schedule === 'freeze-after-first-epoch') this.isFrozen = true;
  }

  /** Freezes the statistics now (a window counted in updates rather than epochs). */
  freeze(): void {
    this.isFrozen = true;
  }

  mean(): ComponentValues {
    return { ioi: this.comp.ioi.mean, ior: this.comp.ior.mean, ctr: this.comp.ctr.mean };
  }

  /** Sample std per component, floored at minStd. */
  std(): ComponentValues {
    const f = this.minStd;
    return { ioi: this.comp.ioi.std(f), ior: this.comp.ior.std(f), ctr: this.comp.ctr.std(f) };
  }

  /** μ: mean fused step reward. */
  meanReward(): number {
    return this.fused.mean;
  }

  /** Per-component means at positions 0..(last observed), e.g. [{ioi, ior, ctr} at t = 0, ...]. */
  meanByPosition(): ComponentValues[] {
    return this.byPosition.map((p) => ({ ioi: p.ioi.mean, ior: p.ior.mean, ctr: p.ctr.mean }));
  }

  /** μ_t: mean fused step reward at each position observed. */
  meanRewardByPosition(): number[] {
    return this.byPosition.map((p) => p.fused.mean);
  }

  /**
   * The official centring: z-scored components, CTR / L_max, fused with `weights`. With
   * `perPosition`, the means are per position (stds stay pooled); positions never observed
   * (every path had stopped) use the last observed position's means.
   */
  zscoreSpec(weights: ComponentValues, lMax: number, perPosition = false): CenteringSpec {
    const mean = perPosition && this.byPosition.length > 0 ? this.meanByPosition() : this.mean();
    return { mode: 'zscore', mean, std: this.std(), weights, lMax, minStd: this.minStd };
  }

  /** Plain centring r̃ = r - μ (per position: r̃_t = r_t - μ_t, as in zscoreSpec). */
  plainSpec(perPosition = false): CenteringSpec {
    return { mode: 'plain', mu: perPosition && this.byPosition.length > 0 ? this.meanRewardByPosition() : this.meanReward() };
  }
}

// ---------------------------------------------------------------------------------------------
// Position-Specific Advantage Estimation (PSAE)
// ---------------------------------------------------------------------------------------------

/**
 * Baseline b_t of PSAE, over the rollouts of the same group *active* at position t, i.e. that
 * took an action there (an item when t < L, STOP when t = L and the path stopped):
 * - 'leave-one-out': mean of G_t over the other active rollouts; 0 when no other is active.
 *   It does not depend on the rollout's own action: exactly unbiased.
 * - 'group-mean': mean including the rollout itself (the paper and official code). Equals
 *   (n_t-1)/n_t × the leave-one-out advantage, n_t = active rollouts at t: a shrink that grows
 *   where fewer rollouts are active (late positions), so the expectation is not ∝ the gradient.
 * - 'none': plain reward-to-go.
 */
export type PositionBaseline = 'group-mean' | 'leave-one-out' | 'none';

export interface PositionOptions {
  /** Default 'leave-one-out'. */
  readonly baseline?: PositionBaseline;
}

/**
 * PSAE: A_t = G_t - b_t with reward-to-go G_t = Σ_{k≥t} r_k (r already centred if wanted).
 *
 * STOP at position L: no reward follows it, so G_L = 0 and A = -b_L, where b_L is the *same*
 * baseline the item actions at position L get: the mean of G_L over the (other) rollouts active
 * at L, those that continued (with their G_L) and those that stopped there (with 0). Why the same:
 * a baseline leaves the expectation unchanged only if it is identical for every action available
 * at that state, Σ_a π(a|s)∇log π(a|s)·b = b·∇Σ_a π(a|s) = 0; giving STOP a different baseline
 * (the mean G_L of the continuers only, or 0) while items at L get b_L biases the STOP logit
 * (counterexample in test/estimators.test.ts). With this choice b_L estimates V(s_L), so A_STOP =
 * -b_L is "the value of continuing given up", priced at π(continue)·Q(continue). This is also
 * what the official code computes.
 */
export function positionAdvantages(rollouts: readonly Rollout[], opts: PositionOptions = {}): Advantages {
  check(rollouts);
  const mode = opts.baseline ?? 'leave-one-out';
  // Reward-to-go per term; the STOP term (index L) keeps G_L = 0.
  const G = rollouts.map((r) => {
    const g = new Float64Array(numTerms(r));
    let acc = 0;
    for (let t = r.rewards.length - 1; t >= 0; t--) g[t] = acc += r.rewards[t];
    return g;
  });
  if (mode === 'none') return G;
  const out: Advantages = G.map((g) => new Float64Array(g.length));
  for (const idx of groups(rollouts)) {
    const T = Math.max(...idx.map((i) => G[i].length));
    for (let t = 0; t < T; t++) {
      // Active at t: the rollouts that have a log-prob term at t.
      const active = idx.filter((i) => t < G[i].length);
      let sum = 0;
      for (const i of active) sum += G[i][t];
      const n = active.length;
      for (const i of active) {
        const b = mode === 'group-mean' ? sum / n : n > 1 ? (sum - G[i][t]) / (n - 1) : 0;
        out[i][t] = G[i][t] - b;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ProRL and its ablations
// ---------------------------------------------------------------------------------------------

/** ProRL: SRC, then PSAE on the centred rewards (the registry's `prorl` with these options). */
export function prorlAdvantages(rollouts: readonly Rollout[], centering: CenteringSpec, opts: PositionOptions = {}): Advantages {
  return estimateAdvantages('prorl', rollouts, { centering, baseline: opts.baseline });
}

/** Ablation 'prorl-no-src': PSAE on the raw rewards (keeps the length shortcut). */
export function prorlNoSrc(rollouts: readonly Rollout[], opts: PositionOptions = {}): Advantages {
  return estimateAdvantages('prorl-no-src', rollouts, { baseline: opts.baseline });
}

/**
 * Ablation 'prorl-no-psae': centred rewards, path-level group baseline:
 * A = R̃ - b with R̃ = Σ_t r̃_t and b the group mean of R̃ (leave-one-out by default,
 * 'group-mean' to include itself, 'none' for REINFORCE on centred rewards), the same for every term.
 */
export function prorlNoPsae(rollouts: readonly Rollout[], centering: CenteringSpec, opts: PositionOptions = {}): Advantages {
  return estimateAdvantages('prorl-no-psae', rollouts, { centering, baseline: opts.baseline });
}

// ---------------------------------------------------------------------------------------------
// The estimator registry: what the trainer, the agent factories and the exact tests read
// ---------------------------------------------------------------------------------------------

export interface EstimatorOptions {
  /**
   * SRC (stepwiseCentering): required by estimators that declare `needs.centering`; the trainer
   * passes the spec of its centring statistics (CenteringStats.zscoreSpec / plainSpec).
   */
  readonly centering?: CenteringSpec;
  /**
   * The baseline within each group: of PSAE ('prorl', 'prorl-no-src'), and of the path-level
   * estimators 'reinforce-baseline' and 'prorl-no-psae'. Default 'leave-one-out' (exactly unbiased).
   */
  readonly baseline?: PositionBaseline;
  /**
   * The KL to the reference as a reward penalty (`kl: 'penalty'`): β·(ℓ_t − ℓ_ref,t) subtracted
   * from each path item's step reward, after centring (logRatio[i][t] per rollout and item).
   */
  readonly klPenalty?: { readonly beta: number; readonly logRatio: readonly ArrayLike<number>[] };
  /** 'grpo' options. */
  readonly grpo?: GrpoOptions;
}

/**
 * An advantage estimator as the RL trainer runs it (agents/rl.ts), the extension point of the
 * benchmark: a user module defines one with `defineEstimator` and trains it with
 * `rlAgentFactory(definition)` (prorec-gym/agents) on the same policy, pre-training and budget as
 * the built-ins.
 *
 * The trainer composes, for every batch (`estimateAdvantages`):
 *
 *   rewards ──(SRC, when needs.centering)──(− β·log-ratio, when kl: 'penalty')──▶ advantages(rollouts, options)
 *
 * so `advantages` receives step rewards already centred (and penalised) and returns, per rollout,
 * one advantage per log-prob term: items at 0..L−1, STOP at L when the path stopped
 * (`numTerms(rollout)`); see the module's docstring. It must be a pure function of its arguments:
 * no state kept between calls, no randomness, rollouts not mutated.
 */
export interface EstimatorDefinition {
  /** Its agent name, in tables and result files: lower-case letters, digits and dashes. */
  readonly name: string;
  /** One line: what A_t is (the agent's description, printed first by `bench --agent NAME --config-help`). */
  readonly description: string;
  /**
   * What the trainer must do before calling `advantages`. `centering: true`: apply SRC with the
   * run's centring statistics (the config's `centering`, `centeringMean`, `centeringWindow`), and
   * pass their spec as `options.centering`.
   */
  readonly needs: { readonly centering: boolean };
  /** A_t per rollout and term (shapes as above), from the (centred) rollouts. */
  advantages(rollouts: readonly Rollout[], options: EstimatorOptions): Advantages;
}

const ESTIMATOR_NAME_RE = /^[a-z][a-z0-9-]*$/;

/**
 * Checks and freezes an estimator definition. Throws ContractError naming the field: a name that is
 * not lower-case letters, digits and dashes, an empty description, `needs.centering` not a
 * boolean, or `advantages` not a function.
 */
export function defineEstimator(def: EstimatorDefinition): EstimatorDefinition {
  const d = def as Partial<EstimatorDefinition> | null;
  if (!d || typeof d !== 'object') throw new ContractError('defineEstimator: the definition must be an object');
  const shown = JSON.stringify(d.name);
  if (typeof d.name !== 'string' || !ESTIMATOR_NAME_RE.test(d.name))
    throw new ContractError(`defineEstimator: name ${shown} must be lower-case letters, digits and dashes, starting with a letter`);
  if (typeof d.description !== 'string' || d.description.trim() === '') throw new ContractError(`estimator ${shown}: description must be a non-empty string`);
  if (!d.needs || typeof d.needs.centering !== 'boolean') throw new ContractError(`estimator ${shown}: needs.centering must be true or false`);
  if (typeof d.advantages !== 'function') throw new ContractError(`estimator ${shown}: advantages must be a function (rollouts, options) => advantages`);
  return Object.freeze({ ...def, needs: Object.freeze({ ...def.needs }) });
}

/** The path-level group baseline of 'reinforce-baseline' and 'prorl-no-psae' ('none': plain REINFORCE). */
function pathBaseline(rs: readonly Rollout[], baseline: PositionBaseline): Advantages {
  return baseline === 'none' ? reinforce(rs) : reinforceBaseline(rs, { scope: 'group', leaveOneOut: baseline === 'leave-one-out' });
}

/**
 * The built-in estimators (docs/design.md §4.9), in the order of tables:
 *
 *   reinforce            A_t = R
 *   reinforce-baseline   A_t = R − b, b the group's mean R (leave-one-out by default)
 *   grpo                 A_t = (R − mean_g R) / (std_g R + ε)
 *   prorl                SRC (stepwiseCentering), then PSAE (positionAdvantages)
 *   prorl-no-src         PSAE on raw rewards
 *   prorl-no-psae        SRC, then the path-level group baseline
 */
export const BUILT_IN_ESTIMATORS: readonly EstimatorDefinition[] = [
  defineEstimator({
    name: 'reinforce',
    description: 'Supervised policy fine-tuned by path-level REINFORCE (A = R on every term) + exact KL to the supervised policy',
    needs: { centering: false },
    advantages: (rs) => reinforce(rs),
  }),
  defineEstimator({
    name: 'reinforce-baseline',
    description: 'REINFORCE with a leave-one-out group-mean baseline on R',
    needs: { centering: false },
    advantages: (rs, o) => pathBaseline(rs, o.baseline ?? 'leave-one-out'),
  }),
  defineEstimator({
    name: 'grpo',
    description: 'GRPO-style group-normalised advantage (R − mean_g R)/std_g R on every term',
    needs: { centering: false },
    advantages: (rs, o) => grpo(rs, o.grpo),
  }),
  defineEstimator({
    name: 'prorl',
    description: 'ProRL: stepwise reward centering (first-epoch z-scores, frozen) + position-specific advantages + exact KL to the supervised policy',
    needs: { centering: true },
    advantages: (rs, o) => positionAdvantages(rs, { baseline: o.baseline ?? 'leave-one-out' }),
  }),
  defineEstimator({
    name: 'prorl-no-src',
    description: 'ProRL ablation: position-specific advantages on raw rewards (no stepwise centering)',
    needs: { centering: false },
    advantages: (rs, o) => positionAdvantages(rs, { baseline: o.baseline ?? 'leave-one-out' }),
  }),
  defineEstimator({
    name: 'prorl-no-psae',
    description: 'ProRL ablation: stepwise centering with a path-level group baseline (no position-specific advantages)',
    needs: { centering: true },
    advantages: (rs, o) => pathBaseline(rs, o.baseline ?? 'leave-one-out'),
  }),
];

export type EstimatorName = 'reinforce' | 'reinforce-baseline' | 'grpo' | 'prorl' | 'prorl-no-src' | 'prorl-no-psae';
export const ESTIMATOR_NAMES = BUILT_IN_ESTIMATORS.map((d) => d.name) as readonly EstimatorName[];

/** The built-in estimator `name`; ContractError listing the known names otherwise. */
export function builtInEstimator(name: string): EstimatorDefinition {
  const d = BUILT_IN_ESTIMATORS.find((e) => e.name === name);
  if (!d) throw new ContractError(`unknown estimator '${name}'; built-in estimators: ${ESTIMATOR_NAMES.join(', ')}`);
  return d;
}

/**
 * The advantages of `estimator` (a built-in's name or a definition) on `rollouts`, composed the one
 * way the RL trainer (agents/rl.ts) runs them and the exact tests check them: SRC first when the
 * estimator needs it (ContractError when `options.centering` is missing), then the optional
 * reward-side KL penalty, then the estimator's `advantages`. The result is checked: one array per
 * rollout, `numTerms(rollout)` finite values each (ContractError naming the rollout otherwise).
 */
export function estimateAdvantages(estimator: EstimatorName | EstimatorDefinition, rollouts: readonly Rollout[], opts: EstimatorOptions = {}): Advantages {
  const def = typeof estimator === 'string' ? builtInEstimator(estimator) : estimator;
  check(rollouts);
  let rs: readonly Rollout[] = rollouts;
  if (def.needs.centering) {
    if (!opts.centering) throw new ContractError(`estimator '${def.name}' needs opts.centering (e.g. CenteringStats.zscoreSpec())`);
    rs = stepwiseCentering(rollouts, opts.centering);
  }
  const kl = opts.klPenalty;
  if (kl) rs = rs.map((r, i) => ({ ...r, rewards: r.rewards.map((x, t) => x - kl.beta * kl.logRatio[i][t]) }));
  const out = def.advantages(rs, opts);
  if (!Array.isArray(out) || out.length !== rollouts.length)
    throw new ContractError(
      `estimator '${def.name}': returned ${Array.isArray(out) ? out.length : typeof out} advantage arrays for ${rollouts.length} rollouts`,
    );
  out.forEach((a, i) => {
    const n = numTerms(rollouts[i]);
    if (!a || a.length !== n) throw new ContractError(`estimator '${def.name}': rollout ${i} has ${n} log-prob terms, got ${a?.length ?? 'no'} advantages`);
    for (let t = 0; t < n; t++) if (!Number.isFinite(a[t])) throw new ContractError(`estimator '${def.name}': rollout ${i}, term ${t}: advantage ${a[t]}`);
  });
  return out;
}

export type Estimator = (rollouts: readonly Rollout[], opts?: EstimatorOptions) => Advantages;

/** The built-in estimators by name: `estimateAdvantages` with the definition bound. */
export const ESTIMATORS = Object.fromEntries(
  BUILT_IN_ESTIMATORS.map((d) => [d.name, (rs: readonly Rollout[], o?: EstimatorOptions) => estimateAdvantages(d, rs, o)]),
) as Record<EstimatorName, Estimator>;
