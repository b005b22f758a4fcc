/**
 * Gradient variance of the policy-gradient estimators at one policy and one batch size: claim (2)
 * of the ProRL paper (weighting every step by the whole path return adds variance; position-specific
 * advantages reduce it), measured instead of asserted.
 *
 * For an estimator, a batch of P prompts × G sampled paths gives the gradient estimate
 *   g = (1/N) Σ_paths Σ_t A_t ∇ℓ_t        (N = P·G paths; the policy-gradient part of the loss)
 * and over batches we report ‖E g‖, tr Cov(g) = E‖g‖² − ‖E g‖², and the signal-to-noise ratio
 * SNR = ‖E g‖² / tr Cov(g) (the larger, the fewer batches an update needs). Estimators are compared
 * on the same sampled batches (paired), at the same policy, with the same centring statistics. Each
 * estimator follows its own objective (SRC's is E[R] − μ·E[L]; GRPO's is not a gradient at all),
 * so the cosine of each mean gradient with REINFORCE's says how far its direction moved.
 *
 * Two measurements:
 * - exact, on a small tabular MDP whose step rewards fall with position and carry noise (every
 *   group of G paths and reward outcomes enumerated, so the figures have no sampling error);
 * - Monte Carlo, on an environment (default synthetic-v0) at a fixed policy checkpoint.
 *
 *   npm run bench -- variance [--init CKPT | --init supervised] [--env synthetic-v0] [--batches 24] [--seed 1] [--out FILE]
 *
 * `--init supervised` measures at the supervised policy of `--seed` (the starting point of every RL
 * row of a suite at that seed); `--init CKPT` at a policy checkpoint file.
 *
 * With --out DIR/estimator-variance.json (VARIANCE_FILE) the report of DIR shows the table.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  CenteringStats,
  estimateAdvantages,
  type Advantages,
  type CenteringSpec,
  type EstimatorName,
  type PositionBaseline,
  type Rollout,
} from '../agents/estimators.ts';
import { ensureBackend } from '../agents/nn.ts';
import { readPolicyCheckpoint, loadPolicyWeights } from '../agents/policy-agent.ts';
import { packPaths, PolicyNetwork, trainingTerms } from '../agents/policy.ts';
import { withRandomTargets } from '../agents/rl.ts';
import { runEpisodes } from '../agents/rollout.ts';
import { SupervisedAgent, supervisedAgent } from '../agents/supervised.ts';
import { writeJsonAtomic } from '../core/io.ts';
import { VARIANCE_FILE, type VarianceRow, type VarianceStudy } from '../results/variance.ts';
import { makeVec } from '../envs/registry.ts';
import { deriveSeed, Rng } from '../core/rng.ts';
import { renderTable } from '../results/table.ts';
import { ContractError, invariant } from '../core/errors.ts';

/** The estimators compared: the six agents' estimators, and the two halves of ProRL on their own. */
export interface Variant {
  readonly label: string;
  readonly estimator: EstimatorName;
  readonly baseline: PositionBaseline;
  /** 'pooled' (one μ, the paper), 'per-position' (μ_t) or none. */
  readonly centring: 'pooled' | 'per-position' | null;
}

export const VARIANTS: readonly Variant[] = [
  { label: 'reinforce', estimator: 'reinforce', baseline: 'none', centring: null },
  { label: 'reinforce-baseline', estimator: 'reinforce-baseline', baseline: 'leave-one-out', centring: null },
  { label: 'grpo', estimator: 'grpo', baseline: 'none', centring: null },
  { label: 'src-only', estimator: 'prorl-no-psae', baseline: 'none', centring: 'pooled' },
  { label: 'reward-to-go', estimator: 'prorl-no-src', baseline: 'none', centring: null },
  { label: 'psae-only', estimator: 'prorl-no-src', baseline: 'leave-one-out', centring: null },
  { label: 'prorl-no-psae', estimator: 'prorl-no-psae', baseline: 'leave-one-out', centring: 'pooled' },
  { label: 'prorl', estimator: 'prorl', baseline: 'leave-one-out', centring: 'pooled' },
  { label: 'prorl-per-position', estimator: 'prorl', baseline: 'leave-one-out', centring: 'per-position' },
];

function centringFor(v: Variant, stats: { pooled: CenteringSpec; perPosition: CenteringSpec }): CenteringSpec | undefined {
  return v.centring === 'pooled' ? stats.pooled : v.centring === 'per-position' ? stats.perPosition : undefined;
}

export function advantagesOf(v: Variant, rollouts: readonly Rollout[], stats: { pooled: CenteringSpec; perPosition: CenteringSpec }): Advantages {
  return estimateAdvantages(v.estimator, rollouts, { centering: centringFor(v, stats), baseline: v.baseline });
}

/** Running moments of gradient vectors: E g and E‖g‖² (weighted, so exact enumeration can use them). */
class GradMoments {
  sum: Float64Array | null = null;
  sumSq = 0;
  weight = 0;
  add(g: Float64Array, w = 1): void {
    if (!this.sum) this.sum = new Float64Array(g.length);
    let sq = 0;
    for (let i = 0; i < g.length; i++) {
      this.sum[i] += w * g[i];
      sq += g[i] * g[i];
    }
    this.sumSq += w * sq;
    this.weight += w;
  }
  mean(): Float64Array {
    return this.sum!.map((x) => x / this.weight);
  }
  /** tr Cov; `unbiased` applies the n/(n−1) correction of a Monte Carlo estimate. */
  traceCov(unbiased: boolean): number {
    const m = this.mean();
    let mm = 0;
    for (const x of m) mm += x * x;
    const raw = this.sumSq / this.weight - mm;
    return unbiased ? (raw * this.weight) / (this.weight - 1) : raw;
  }
}

function rowsOf(moments: Map<string, GradMoments>, unbiased: boolean): VarianceRow[] {
  const ref = moments.get('reinforce')!.mean();
  const norm = (x: Float64Array) => Math.sqrt(x.reduce((a, b) => a + b * b, 0));
  return [...moments].map(([label, m]) => {
    const mean = m.mean();
    const tr = m.traceCov(unbiased);
    const dot = mean.reduce((a, x, i) => a + x * ref[i], 0);
    const mn = norm(mean);
    return {
      label,
      meanNorm: mn,
      traceCov: tr,
      snr: tr > 0 ? (mn * mn) / tr : null, // null: no variance (an infinite SNR; JSON has no Infinity)
      cosineToReinforce: mn > 0 && norm(ref) > 0 ? dot / (mn * norm(ref)) : 0,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Exact: a small tabular MDP, every group enumerated
// ---------------------------------------------------------------------------------------------

/** The tabular MDP: at each of L_MAX positions a good item, a poor item or STOP; noisy rewards falling with position. */
const L_MAX = 3;
const MEAN = [
  [3, 1.5],
  [1.2, 0.4],
  [0.9, 0.2],
]; // [position][good, poor]
const NOISE = 0.8; // each step reward is mean ± NOISE with probability ½ each
const POLICY = [0.45, 0.35, 0.2]; // good, poor, STOP at every position

interface Outcome {
  p: number;
  items: number[];
  rewards: number[];
  stopped: boolean;
}

function outcomes(): Outcome[] {
  const out: Outcome[] = [];
  const go = (items: number[], rewards: number[], p: number) => {
    const t = items.length;
    if (t === L_MAX) return void out.push({ p, items, rewards, stopped: false });
    out.push({ p: p * POLICY[2], items, rewards, stopped: true });
    for (const a of [0, 1]) for (const s of [-1, 1]) go([...items, a], [...rewards, MEAN[t][a] + s * NOISE], (p * POLICY[a]) / 2);
  };
  go([], [], 1);
  return out;
}

/** Exact statistics of every variant with groups of G paths (all G-tuples of outcomes enumerated). */
export function exactVariance(G = 3): VarianceStudy['exact'] {
  if (!(Number.isInteger(G) && G >= 1 && G <= 3)) throw new ContractError(`exactVariance: groups of 1 to 3 paths (enumerated exactly), got ${G}`);
  const outs = outcomes();
  // Centring statistics of the policy itself (their expectation: the frozen first-epoch values).
  let sum = 0;
  let steps = 0;
  const sumT = new Array(L_MAX).fill(0);
  const nT = new Array(L_MAX).fill(0);
  for (const o of outs)
    o.rewards.forEach((r, t) => {
      sum += o.p * r;
      steps += o.p;
      sumT[t] += o.p * r;
      nT[t] += o.p;
    });
  const stats = {
    pooled: { mode: 'plain', mu: sum / steps } as CenteringSpec,
    perPosition: { mode: 'plain', mu: sumT.map((s, t) => s / nT[t]) } as CenteringSpec,
  };
  const moments = new Map(VARIANTS.map((v) => [v.label, new GradMoments()]));
  const idx = new Array(G).fill(0);
  const dim = L_MAX * 3;
  for (;;) {
    const group = idx.map((i) => outs[i]);
    const p = group.reduce((a, o) => a * o.p, 1);
    const rollouts: Rollout[] = group.map((o) => ({ group: 0, rewards: Float64Array.from(o.rewards), stopped: o.stopped }));
    for (const v of VARIANTS) {
      const A = advantagesOf(v, rollouts, stats);
      const g = new Float64Array(dim);
      group.forEach((o, i) => {
        const actions = o.stopped ? [...o.items, 2] : o.items;
        actions.forEach((a, t) => {
          for (let k = 0; k < 3; k++) g[t * 3 + k] += (A[i][t] * ((k === a ? 1 : 0) - POLICY[k])) / G;
        });
      });
      moments.get(v.label)!.add(g, p);
    }
    let j = 0;
    while (j < G && ++idx[j] === outs.length) idx[j++] = 0;
    if (j === G) break;
  }
  return {
    description: `tabular MDP: ${L_MAX} positions, a good and a poor item or STOP (policy ${POLICY.join('/')}), step rewards falling with position (good ${MEAN.map((m) => m[0]).join(', ')}; poor ${MEAN.map((m) => m[1]).join(', ')}) ± ${NOISE}; groups of ${G}, every group of outcomes enumerated`,
    groupSize: G,
    rows: rowsOf(moments, false),
  };
}

// ---------------------------------------------------------------------------------------------
// Monte Carlo: an environment at a fixed checkpoint
// ---------------------------------------------------------------------------------------------

/** The policy-gradient part of the gradient, −(1/N) Σ A_t ∇ℓ_t, flattened over every parameter. */
function gradientVector(net: PolicyNetwork, traj: ReturnType<typeof packPaths>, advantages: Advantages): Float64Array {
  const terms = trainingTerms(traj, net.stop);
  const A = new Float32Array(terms.count);
  const next = new Int32Array(traj.size);
  for (let i = 0; i < terms.count; i++) A[i] = advantages[terms.row[i]][next[terms.row[i]]++];
  const mask = net.buildMask(traj, terms);
  const adv = tf.tensor1d(A);
  const { value, grads } = tf.variableGrads(
    () => tf.div(tf.neg(tf.sum(tf.mul(adv, net.chosenLogProbs(net.termLogProbs(traj, terms, mask), terms)))), traj.size) as tf.Scalar,
    net.params.list(),
  );
  const parts = net.params.keys.map((k) => grads[net.params.get(k).name]?.dataSync() ?? new Float32Array(net.params.get(k).size));
  tf.dispose([value, adv, ...Object.values(grads)]);
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The policy the variance is measured at: a policy checkpoint file, or `supervised`: the
 * `supervised` agent with its default config trained at `seed` exactly as the harness trains it
 * (the checkpoint the supervised row of a suite evaluates at that seed, and every RL row starts
 * from; cached by the pre-training cache).
 */
async function startingPolicy(
  checkpoint: string,
  envId: string,
  world: Record<string, unknown>,
  env: { numItems: number; world: { dataset: { items: PolicyNetwork['items']; sequences: { train: readonly (readonly number[])[] } } } },
  seed: number,
  log: (line: string) => void,
): Promise<PolicyNetwork> {
  if (checkpoint === 'supervised') {
    const agent = await supervisedAgent.create(
      {},
      { numItems: env.numItems, seed, items: env.world.dataset.items ?? undefined, trainSequences: env.world.dataset.sequences.train },
    );
    invariant(agent instanceof SupervisedAgent, 'supervised: not a policy agent');
    log(`variance: pre-training the supervised policy at seed ${seed} (cached after the first time)`);
    await agent.train!((n) => makeVec(envId, n, { split: 'train', world, log }), {}, { rng: Rng.stream(seed, 'agent').child('train') });
    return agent.net;
  }
  const header = await readPolicyCheckpoint(checkpoint);
  const net = new PolicyNetwork(env.numItems, header.policy, {
    seed: 0,
    label: 'variance',
    items: env.world.dataset.items,
    trainSequences: env.world.dataset.sequences.train,
  });
  await loadPolicyWeights(net, checkpoint);
  return net;
}

export async function monteCarloVariance(opts: {
  env: string;
  checkpoint: string;
  batches: number;
  casesPerBatch?: number;
  groupSize?: number;
  seed?: number;
  world?: Record<string, unknown>;
  log?: (line: string) => void;
}): Promise<NonNullable<VarianceStudy['monteCarlo']>> {
  await ensureBackend();
  const P = opts.casesPerBatch ?? 16;
  const G = opts.groupSize ?? 16;
  const seed = opts.seed ?? 1;
  const log = opts.log ?? (() => {});
  const base = await makeVec(opts.env, P * G, { split: 'train', world: opts.world ?? {}, log });
  const env = withRandomTargets(base, 'train', P * G, deriveSeed(seed, 'variance/targets'));
  const net = await startingPolicy(opts.checkpoint, opts.env, opts.world ?? {}, env, seed, log);
  const w = env.config.weights;
  const L_max = env.config.maxLength;
  const trainCases = env.cases('train').length;
  const batchOf = (b: number) => {
    const order = Rng.stream(seed, `variance/cases-${b}`).shuffle(Array.from({ length: trainCases }, (_, i) => i));
    const caseIndices = order.slice(0, P).flatMap((c) => new Array<number>(G).fill(c));
    const paths = runEpisodes(net, env, 'train', caseIndices, deriveSeed(seed, `variance/sample-${b}`), deriveSeed(seed, `variance/env-${b}`));
    const rollouts: Rollout[] = paths.map((p, i) => ({
      group: Math.floor(i / G),
      rewards: p.ioi.map((_, t) => w.ioi * p.ioi[t] + w.ior * p.ior[t] + w.ctr * p.ctr[t]),
      components: { ioi: p.ioi, ior: p.ior, ctr: p.ctr },
      stopped: p.stopped,
    }));
    return { traj: packPaths(paths), rollouts };
  };
  // Centring statistics from 4 batches of their own (the trainer's first epoch, frozen).
  const stats = new CenteringStats();
  for (let b = 0; b < 4; b++) stats.observe(batchOf(-1 - b).rollouts);
  stats.endEpoch();
  const specs = { pooled: stats.zscoreSpec(w, L_max, false), perPosition: stats.zscoreSpec(w, L_max, true) };
  const moments = new Map(VARIANTS.map((v) => [v.label, new GradMoments()]));
  for (let b = 0; b < opts.batches; b++) {
    const { traj, rollouts } = batchOf(b);
    for (const v of VARIANTS) moments.get(v.label)!.add(gradientVector(net, traj, advantagesOf(v, rollouts, specs)));
    log(`variance: batch ${b + 1}/${opts.batches}`);
  }
  net.dispose();
  env.close();
  base.close();
  return { env: opts.env, checkpoint: opts.checkpoint, batches: opts.batches, casesPerBatch: P, groupSize: G, seed, rows: rowsOf(moments, true) };
}

export function varianceTable(rows: readonly VarianceRow[]): string {
  const fmt = (x: number | null) => (x === null ? '∞' : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4));
  return renderTable(
    ['estimator', '‖E g‖', 'tr Cov(g)', 'SNR', 'cos to REINFORCE'],
    rows.map((r) => [r.label, fmt(r.meanNorm), fmt(r.traceCov), fmt(r.snr), r.cosineToReinforce.toFixed(3)]),
  );
}

export async function varianceMain(args: string[], io: { out(t: string): void; err(t: string): void }, usage: (msg: string) => Error): Promise<number> {
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw usage(`bench variance: --${name} needs a value`);
    return v;
  };
  const known = new Set(['--init', '--env', '--batches', '--out', '--group', '--cases', '--seed', '--world']);
  for (const a of args) if (a.startsWith('--') && !known.has(a)) throw usage(`bench variance: unknown option ${a}`);
  const exact = exactVariance(3);
  io.out(`exact: ${exact.description}\n${varianceTable(exact.rows)}`);
  let monteCarlo: VarianceStudy['monteCarlo'] = null;
  const init = opt('init');
  if (init) {
    const batches = Number(opt('batches') ?? 24);
    if (!(Number.isInteger(batches) && batches >= 2)) throw usage('bench variance: --batches must be an integer ≥ 2');
    const world = opt('world');
    monteCarlo = await monteCarloVariance({
      env: opt('env') ?? 'synthetic-v0',
      checkpoint: init,
      batches,
      casesPerBatch: Number(opt('cases') ?? 16),
      groupSize: Number(opt('group') ?? 16),
      seed: Number(opt('seed') ?? 1),
      world: world ? (JSON.parse(world) as Record<string, unknown>) : undefined,
      log: (l) => io.err(`${l}\n`),
    });
    io.out(
      `\nMonte Carlo: ${monteCarlo.env}, checkpoint ${monteCarlo.checkpoint}, ${batches} batches of ${monteCarlo.casesPerBatch} cases × ${monteCarlo.groupSize} paths\n${varianceTable(monteCarlo.rows)}`,
    );
  }
  const out = opt('out');
  if (out) {
    writeJsonAtomic(out, { kind: 'estimator-variance', version: 1, exact, monteCarlo } satisfies VarianceStudy);
    io.out(`wrote ${out}${path.basename(out) === VARIANCE_FILE ? '' : ` (the report of a run folder reads DIR/${VARIANCE_FILE})`}\n`);
  }
  return 0;
}
