/**
 * Step-level fidelity of a learned simulator against a ground truth: both simulators are walked
 * along the same paths and compared at every step (docs/design.md §2.3 for the quantities):
 *
 *   IoI_t = log p(T | s_t ⊕ a_t) − log p(T | s_t),  IoR_t = rank(T | s_t) − rank(T | s_t ⊕ a_t),
 *   CTR_t = sigmoid(score_{a_t}(s_t)),
 *
 * per step: Pearson's r and the mean absolute error between learned and exact values of IoI, IoR
 * and CTR; the calibration of the learned CTR against the exact CTR (reliability bins on the
 * learned value: per bin the mean learned and mean exact CTR; ECE = Σ_b (n_b / n)·|mean difference|),
 * also after one constant shift of the learned logits (a next-item softmax is unchanged when every
 * score moves by the same constant, so a learned model's CTR level is not identified by its
 * training: the shift, fitted on the compared steps themselves, separates that offset from the rest);
 * and KL(p_exact ‖ p_learned) of the next-item distribution at s_t, both restricted to the items
 * not yet in s_t and renormalised (the world's logs never repeat an item, so that is the exact
 * next-item distribution the learned model was trained to imitate).
 *
 * Paths: `real` follows each case's real continuation (the items the user really consumed next),
 * `random` a seeded uniformly random policy over items not yet in the sequence, each toward the
 * case's target. The synthetic world's exact dynamics are the intended ground truth
 * (`npm run sim -- fidelity`); agent-level fidelity (do agents keep their ranking?) lives with the
 * agent results, in results/fidelity.ts.
 */
import type { Case } from '../data/dataset.ts';
import { withSimulatorFraction } from '../data/dataset.ts';
import { Rng } from '../core/rng.ts';
import type { SimulatorBatch, UserSimulator } from './simulator.ts';
import { SyntheticExactSimulator } from './synthetic-exact.ts';
import { generateSyntheticWorld, type SyntheticConfig } from '../data/synthetic.ts';
import type { ModelKind } from './config.ts';
import { checkpointPath, loadOrTrainSimulator, readCheckpoint } from './index.ts';
import { ConfigError, ContractError, invariant } from '../core/errors.ts';

export type FidelityPolicy = 'real' | 'random';

export interface PairedSummary {
  /** Steps compared. */
  n: number;
  meanLearned: number;
  meanExact: number;
  /** Pearson's correlation between learned and exact values (NaN when either is constant). */
  pearson: number;
  /** Mean |learned − exact|. */
  mae: number;
}

export interface CalibrationBin {
  /** Bin of the learned CTR: [lo, hi). */
  lo: number;
  hi: number;
  count: number;
  meanLearned: number;
  meanExact: number;
}

export interface StepFidelity {
  policy: FidelityPolicy;
  paths: number;
  steps: number;
  ioi: PairedSummary;
  ior: PairedSummary;
  ctr: PairedSummary;
  calibration: { bins: CalibrationBin[]; ece: number };
  /**
   * The learned CTR after adding one constant to its logits, the mean of logit(exact) − logit(learned)
   * over the steps: that offset, and the MAE and ECE of the shifted CTR (an in-sample fit: the part of
   * the CTR error that is not a constant offset).
   */
  ctrShifted: { offset: number; mae: number; ece: number };
  /** KL(p_exact ‖ p_learned) over the items not yet consumed, in nats: mean and median over steps. */
  kl: { mean: number; median: number };
}

export interface FidelityOptions {
  learned: UserSimulator;
  exact: UserSimulator;
  /** Histories, targets and (for `real`) real continuations. */
  cases: readonly Case[];
  policy: FidelityPolicy;
  /** Random policy draws (`random` only). */
  rng?: Rng;
  /** Longest path (default 10). */
  maxLength?: number;
  /** Rows per simulator batch (default 256). */
  batchSize?: number;
  /** Reliability bins (default 10). */
  bins?: number;
}

/** Pearson's r, mean absolute error and means of paired values. */
export function pairedSummary(learned: ArrayLike<number>, exact: ArrayLike<number>): PairedSummary {
  const n = learned.length;
  invariant(n === exact.length, () => `pairedSummary: ${n} learned values, ${exact.length} exact`);
  let sl = 0;
  let se = 0;
  let mae = 0;
  for (let i = 0; i < n; i++) {
    sl += learned[i];
    se += exact[i];
    mae += Math.abs(learned[i] - exact[i]);
  }
  const ml = n ? sl / n : NaN;
  const me = n ? se / n : NaN;
  let cov = 0;
  let vl = 0;
  let ve = 0;
  for (let i = 0; i < n; i++) {
    const a = learned[i] - ml;
    const b = exact[i] - me;
    cov += a * b;
    vl += a * a;
    ve += b * b;
  }
  return { n, meanLearned: ml, meanExact: me, pearson: vl > 0 && ve > 0 ? cov / Math.sqrt(vl * ve) : NaN, mae: n ? mae / n : NaN };
}

/** Reliability bins of predicted probabilities `learned` against true probabilities `exact`. */
export function calibration(learned: ArrayLike<number>, exact: ArrayLike<number>, bins = 10): { bins: CalibrationBin[]; ece: number } {
  const count = new Float64Array(bins);
  const sumL = new Float64Array(bins);
  const sumE = new Float64Array(bins);
  for (let i = 0; i < learned.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(learned[i] * bins)));
    count[b]++;
    sumL[b] += learned[i];
    sumE[b] += exact[i];
  }
  const out: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    out.push({ lo: b / bins, hi: (b + 1) / bins, count: c, meanLearned: c ? sumL[b] / c : NaN, meanExact: c ? sumE[b] / c : NaN });
    if (c) ece += (c / learned.length) * Math.abs(sumL[b] / c - sumE[b] / c);
  }
  return { bins: out, ece };
}

/**
 * KL(p ‖ q) where p, q are softmaxes of one row of `exactScores` / `learnedScores` over the items
 * not in `consumed`.
 */
export function restrictedKl(
  exactScores: ArrayLike<number>,
  learnedScores: ArrayLike<number>,
  offset: number,
  n: number,
  consumed: ReadonlySet<number>,
): number {
  let maxE = -Infinity;
  let maxL = -Infinity;
  for (let i = 0; i < n; i++) {
    if (consumed.has(i)) continue;
    maxE = Math.max(maxE, exactScores[offset + i]);
    maxL = Math.max(maxL, learnedScores[offset + i]);
  }
  let zE = 0;
  let zL = 0;
  for (let i = 0; i < n; i++) {
    if (consumed.has(i)) continue;
    zE += Math.exp(exactScores[offset + i] - maxE);
    zL += Math.exp(learnedScores[offset + i] - maxL);
  }
  const lzE = maxE + Math.log(zE);
  const lzL = maxL + Math.log(zL);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    if (consumed.has(i)) continue;
    const lp = exactScores[offset + i] - lzE;
    const lq = learnedScores[offset + i] - lzL;
    kl += Math.exp(lp) * (lp - lq);
  }
  return Math.max(0, kl);
}

/** The path each case follows under `policy`. */
function pathsOf(cases: readonly Case[], policy: FidelityPolicy, numItems: number, maxLength: number, rng?: Rng): number[][] {
  if (policy === 'real') return cases.map((c) => (c.path ?? []).slice(0, maxLength));
  if (!rng) throw new ContractError('the random policy needs an rng');
  return cases.map((c) => {
    const used = new Set([...c.history, c.target]);
    const path: number[] = [];
    while (path.length < maxLength && used.size < numItems) {
      let item: number;
      do item = rng.int(numItems);
      while (used.has(item));
      used.add(item);
      path.push(item);
    }
    return path;
  });
}

/** Walks both simulators along the same paths and compares them at every step (see the file header). */
export function stepFidelity(opts: FidelityOptions): StepFidelity {
  const { learned, exact } = opts;
  if (learned.numItems !== exact.numItems) throw new ConfigError(`the simulators score ${learned.numItems} and ${exact.numItems} items`);
  const N = exact.numItems;
  const maxLength = opts.maxLength ?? 10;
  const batchSize = opts.batchSize ?? 256;
  const cases = opts.cases.filter((c) => opts.policy === 'random' || (c.path?.length ?? 0) > 0);
  const paths = pathsOf(cases, opts.policy, N, maxLength, opts.rng);
  const values = {
    ioiL: [] as number[],
    ioiE: [] as number[],
    iorL: [] as number[],
    iorE: [] as number[],
    ctrL: [] as number[],
    ctrE: [] as number[],
    kl: [] as number[],
  };
  for (let start = 0; start < cases.length; start += batchSize) {
    const rows = cases.slice(start, start + batchSize);
    const rowPaths = paths.slice(start, start + batchSize);
    const targets = Int32Array.from(rows, (c) => c.target);
    const consumed = rows.map((c) => new Set(c.history));
    const open = (s: UserSimulator) => s.open(rows.map((c) => c.history));
    const bl: SimulatorBatch = open(learned);
    const be: SimulatorBatch = open(exact);
    try {
      let preL = bl.targetStats(targets);
      let preE = be.targetStats(targets);
      const longest = rowPaths.reduce((m, p) => Math.max(m, p.length), 0);
      for (let t = 0; t < longest; t++) {
        const active = Uint8Array.from(rowPaths, (p) => (t < p.length ? 1 : 0));
        const items = Int32Array.from(rowPaths, (p) => (t < p.length ? p[t] : 0));
        const scoresL = bl.scores();
        const scoresE = be.scores();
        const postL = bl.advance(items, targets, active);
        const postE = be.advance(items, targets, active);
        for (let r = 0; r < rows.length; r++) {
          if (!active[r]) continue;
          values.kl.push(restrictedKl(scoresE, scoresL, r * N, N, consumed[r]));
          values.ioiL.push(postL.logProb[r] - preL.logProb[r]);
          values.ioiE.push(postE.logProb[r] - preE.logProb[r]);
          values.iorL.push(preL.rank[r] - postL.rank[r]);
          values.iorE.push(preE.rank[r] - postE.rank[r]);
          values.ctrL.push(postL.ctr[r]);
          values.ctrE.push(postE.ctr[r]);
          consumed[r].add(items[r]);
        }
        preL = postL;
        preE = postE;
      }
    } finally {
      bl.dispose();
      be.dispose();
    }
  }
  const logit = (p: number) => {
    const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
    return Math.log(q / (1 - q));
  };
  const offset = values.ctrL.reduce((a, p, i) => a + logit(values.ctrE[i]) - logit(p), 0) / Math.max(1, values.ctrL.length);
  const shifted = values.ctrL.map((p) => 1 / (1 + Math.exp(-(logit(p) + offset))));
  const sortedKl = [...values.kl].sort((a, b) => a - b);
  const median = sortedKl.length ? (sortedKl[(sortedKl.length - 1) >> 1] + sortedKl[sortedKl.length >> 1]) / 2 : NaN;
  return {
    policy: opts.policy,
    paths: cases.length,
    steps: values.kl.length,
    ioi: pairedSummary(values.ioiL, values.ioiE),
    ior: pairedSummary(values.iorL, values.iorE),
    ctr: pairedSummary(values.ctrL, values.ctrE),
    calibration: calibration(values.ctrL, values.ctrE, opts.bins ?? 10),
    ctrShifted: { offset, mae: pairedSummary(shifted, values.ctrE).mae, ece: calibration(shifted, values.ctrE, opts.bins ?? 10).ece },
    kl: { mean: values.kl.reduce((a, b) => a + b, 0) / Math.max(1, values.kl.length), median },
  };
}

export interface FidelityRow {
  fraction: number;
  /** What the simulator learned from (Dataset.meta). */
  simulatorInteractions: number;
  simulatorData: string;
  simulator: string;
  /** The simulator's own leave-one-out test HR@10 / NDCG@10, and popularity's. */
  test: { hr10: number; ndcg10: number };
  popularityTest: { hr10: number; ndcg10: number };
  epochs: number;
  trainSeconds: number;
  real: StepFidelity;
  random: StepFidelity;
}

export interface FidelityReport {
  world: SyntheticConfig;
  model: ModelKind;
  seed: number;
  cases: number;
  rows: FidelityRow[];
}

/**
 * For each share of the synthetic world's logs: the learned simulator trained on that share
 * (cached, or trained now), walked beside the exact dynamics along the real continuations and a
 * seeded random policy's paths of the world's first `cases` test cases.
 */
export async function runFidelity(o: {
  model: ModelKind;
  seed: number;
  fractions: readonly number[];
  cases: number;
  world?: Partial<SyntheticConfig>;
  cacheDir?: string;
  progress?: boolean;
  log?: (line: string) => void;
}): Promise<FidelityReport> {
  const world = generateSyntheticWorld(o.world ?? {});
  const exact = new SyntheticExactSimulator(world);
  const cases = world.dataset.cases.test.slice(0, o.cases);
  const rows: FidelityRow[] = [];
  for (const fraction of o.fractions) {
    const dataset = withSimulatorFraction(world.dataset, fraction, world.config.seed);
    const spec = { dataset, model: o.model, seed: o.seed, cacheDir: o.cacheDir };
    const learned = await loadOrTrainSimulator({ ...spec, workers: 0, progress: o.progress, log: o.log });
    try {
      const { header } = readCheckpoint(checkpointPath(spec));
      const walk = (policy: FidelityPolicy) => stepFidelity({ learned, exact, cases, policy, rng: Rng.stream(o.seed, `fidelity/${policy}-policy`) });
      rows.push({
        fraction,
        simulatorInteractions: dataset.meta.simulatorInteractions,
        simulatorData: dataset.meta.simulatorData,
        simulator: learned.id,
        test: { hr10: header.metrics.test.hr10, ndcg10: header.metrics.test.ndcg10 },
        popularityTest: { hr10: header.metrics.popularityTest.hr10, ndcg10: header.metrics.popularityTest.ndcg10 },
        epochs: header.metrics.epochs,
        trainSeconds: header.metrics.trainSeconds,
        real: walk('real'),
        random: walk('random'),
      });
    } finally {
      await learned.dispose();
    }
  }
  return { world: world.config, model: o.model, seed: o.seed, cases: cases.length, rows };
}

/** The fidelity table as plain text. */
export function formatFidelity(r: FidelityReport): string {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const header = [
    'share',
    'interactions',
    'test HR@10',
    'paths',
    'IoI r',
    'IoI MAE',
    'IoR r',
    'CTR r',
    'CTR MAE',
    'CTR ECE',
    'shifted MAE',
    'shifted ECE',
    'KL mean',
    'KL median',
  ];
  const lines: string[][] = [header];
  for (const row of r.rows) {
    for (const s of [row.real, row.random]) {
      lines.push([
        String(row.fraction),
        row.simulatorInteractions.toLocaleString('en-US'),
        `${f(row.test.hr10)} (pop ${f(row.popularityTest.hr10)})`,
        s.policy,
        f(s.ioi.pearson),
        f(s.ioi.mae),
        f(s.ior.pearson),
        f(s.ctr.pearson),
        f(s.ctr.mae),
        f(s.calibration.ece),
        f(s.ctrShifted.mae),
        f(s.ctrShifted.ece),
        f(s.kl.mean),
        f(s.kl.median),
      ]);
    }
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const table = lines.map((l) => l.map((cell, c) => cell.padStart(widths[c])).join('  ')).join('\n');
  return (
    `${r.model} (seed ${r.seed}) trained on shares of the synthetic world's logs, against its exact dynamics; ${r.cases} test cases per policy ` +
    `(real: the users' real continuations; random: a seeded uniformly random policy), every step of every path:\n${table}\n` +
    'IoI/IoR/CTR: Pearson r and mean absolute error between learned and exact per-step values; ECE: calibration of the learned CTR against the exact one (10 bins); ' +
    "shifted: the same after one constant shift of the learned logits (a softmax-trained model's CTR level is arbitrary); " +
    'KL(exact || learned) of the next-item distribution over items not yet consumed (nats).'
  );
}
