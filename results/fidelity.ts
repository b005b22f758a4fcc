/**
 * Does the leaderboard keep its order when the simulator changes? For each environment setting of
 * a result folder whose results carry metrics under both simulators (`metrics`: the reward model
 * the agents were scored by; `evaluatorMetrics`: the evaluator), each agent's mean over seeds per
 * metric under each, and Kendall's τ_b between the two orders of the agents, per metric.
 *
 * On `synthetic-learned-v0` the reward model is a SASRec (or GRU4Rec) trained on the synthetic
 * world's logs and the evaluator is the world's exact dynamics, so τ measures how far a learned
 * simulator's leaderboard is from the true one: τ = 1 keeps every pair of agents in order, τ = 0 is
 * no better than chance. (Step-level fidelity, the same paths under both simulators, lives in
 * simulators/fidelity.ts; this half needs agent results, so it lives here.) On the real environments
 * the same table says how much the two learned simulators (SASRec and GRU4Rec) agree.
 *
 *   npm run bench -- fidelity DIR... [--out FILE]
 */
import { writeJsonAtomic } from '../core/io.ts';
import { groupLabels, groupResults } from './leaderboard.ts';
import { readResults } from './read.ts';
import type { ResultFile } from './schema.ts';
import { renderTable } from './table.ts';
import { ContractError } from '../core/errors.ts';

/** The metrics recorded under both simulators (EvaluatorMetricsSchema); all higher-better. */
export const FIDELITY_METRICS = ['ioi', 'ior', 'ctr', 'success'] as const;
export type FidelityMetric = (typeof FIDELITY_METRICS)[number];

/**
 * Kendall's τ_b between two score vectors (ties handled as in τ_b: concordant minus discordant
 * pairs over sqrt((n0 − n1)(n0 − n2))). Null when fewer than two items or when either vector is
 * constant (no order to compare).
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n !== y.length) throw new ContractError(`kendallTauB: ${n} and ${y.length} values`);
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiesX++;
      else if (dy === 0) tiesY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denominator = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
  return denominator > 0 ? (concordant - discordant) / denominator : null;
}

export interface AgentMeans {
  label: string;
  seeds: number;
  /** Mean over seeds under the reward simulator (`metrics`) and the evaluator (`evaluatorMetrics`). */
  reward: Record<FidelityMetric, number>;
  evaluator: Record<FidelityMetric, number>;
}

export interface RankAgreement {
  /** The environment (with `#setting` when a folder holds several settings of it). */
  name: string;
  envId: string;
  /** World options of the setting (e.g. the simulator data fraction). */
  world: Record<string, unknown>;
  simulator: string;
  evaluator: string;
  /** Interactions the learned simulator learned from (the dataset's simulatorInteractions). */
  simulatorInteractions: number;
  agents: AgentMeans[];
  /** Kendall's τ_b per metric between the agents' orders under the two simulators. */
  tau: Record<FidelityMetric, number | null>;
  /** Pairs of agents whose order flips between the two simulators, per metric. */
  flips: Record<FidelityMetric, [string, string][]>;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Rank agreement per environment setting whose results all carry evaluator metrics. */
export function rankAgreement(results: readonly ResultFile[]): RankAgreement[] {
  const out: RankAgreement[] = [];
  for (const g of groupResults(results)) {
    const groups = [...g.groups.entries()];
    if (
      groups.length === 0 ||
      groups.some(([, rs]) => rs.some((r) => r.evaluatorMetrics === null || r.env.evaluator === null || r.env.evaluator === r.env.simulator))
    )
      continue;
    const labels = groupLabels(g);
    const agents: AgentMeans[] = groups.map(([key, rs]) => {
      const per = (pick: (r: ResultFile) => Record<FidelityMetric, number>) =>
        Object.fromEntries(FIDELITY_METRICS.map((m) => [m, mean(rs.map((r) => pick(r)[m]))])) as Record<FidelityMetric, number>;
      return { label: labels.get(key)!, seeds: rs.length, reward: per((r) => r.metrics), evaluator: per((r) => r.evaluatorMetrics!) };
    });
    const tau = {} as Record<FidelityMetric, number | null>;
    const flips = {} as Record<FidelityMetric, [string, string][]>;
    for (const m of FIDELITY_METRICS) {
      tau[m] = kendallTauB(
        agents.map((a) => a.reward[m]),
        agents.map((a) => a.evaluator[m]),
      );
      flips[m] = [];
      for (let i = 0; i < agents.length; i++)
        for (let j = i + 1; j < agents.length; j++) {
          const a = agents[i];
          const b = agents[j];
          if (Math.sign(a.reward[m] - b.reward[m]) * Math.sign(a.evaluator[m] - b.evaluator[m]) < 0) flips[m].push([a.label, b.label]);
        }
    }
    const first = groups[0][1][0];
    out.push({
      name: g.name,
      envId: g.envId,
      world: first.env.world,
      simulator: first.env.simulator,
      evaluator: first.env.evaluator ?? '',
      simulatorInteractions: first.env.dataset.simulatorInteractions,
      agents,
      tau,
      flips,
    });
  }
  return out;
}

const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));

/** The agreement tables as plain text. */
export function formatRankAgreement(rows: readonly RankAgreement[]): string {
  const parts: string[] = [];
  for (const r of rows) {
    const world = Object.keys(r.world).length ? ` world ${JSON.stringify(r.world)}` : '';
    parts.push(
      `${r.name}${world}: reward simulator ${r.simulator} (${r.simulatorInteractions.toLocaleString('en-US')} interactions) vs evaluator ${r.evaluator}\n`,
    );
    parts.push(
      renderTable(
        ['agent', 'seeds', ...FIDELITY_METRICS.map((m) => `${m} reward / evaluator`)],
        r.agents.map((a) => [a.label, String(a.seeds), ...FIDELITY_METRICS.map((m) => `${f3(a.reward[m])} / ${f3(a.evaluator[m])}`)]),
      ),
    );
    parts.push(`Kendall's tau_b: ${FIDELITY_METRICS.map((m) => `${m} ${f3(r.tau[m])}`).join(', ')}\n`);
    for (const m of FIDELITY_METRICS) if (r.flips[m].length) parts.push(`  ${m}: order flips for ${r.flips[m].map(([a, b]) => `${a}/${b}`).join(', ')}\n`);
    parts.push('\n');
  }
  return parts.join('');
}

export async function fidelityMain(args: string[], io: { out(t: string): void; err(t: string): void }, usage: (msg: string) => Error): Promise<number> {
  const outAt = args.indexOf('--out');
  const outFile = outAt >= 0 ? args[outAt + 1] : undefined;
  if (outAt >= 0 && (!outFile || outFile.startsWith('-'))) throw usage('bench fidelity: --out needs a file');
  const dirs = outAt >= 0 ? args.filter((_, i) => i !== outAt && i !== outAt + 1) : args;
  if (dirs.length === 0 || dirs.some((d) => d.startsWith('-'))) throw usage('usage: bench fidelity DIR... [--out FILE]');
  const results = dirs.flatMap((d) => readResults(d));
  if (results.length === 0) throw usage(`${dirs.join(', ')}: no result files`);
  const rows = rankAgreement(results);
  if (rows.length === 0) throw usage('no environment in these results has metrics under two simulators (evaluatorMetrics)');
  io.out(formatRankAgreement(rows));
  if (outFile) {
    writeJsonAtomic(outFile, rows);
    io.out(`wrote ${outFile}\n`);
  }
  return 0;
}
