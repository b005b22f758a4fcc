/**
 * Target specificity of evaluated paths: is an agent's IoI guidance toward its target, or a shift
 * that any target would have got? Every evaluation computes it (benchmarks/evaluate.ts) and every
 * result file records it; `bench specificity DIR` tabulates it. Test targets are uniformly random items (docs/design.md §6.3), so a path
 * that merely flattens the user's distribution raises log p(T) for most targets; IoI alone cannot
 * tell that from steering.
 *
 * Per evaluated case of a result file (its `cases`: history, target, path), under each simulator:
 *   ioi             = log p(T | h⊕path) − log p(T | h)                     (the env's IoI)
 *   randomTargetIoi = mean over items i outside history and path of the same for i
 *                     (the IoI a uniformly random target would have got)
 *   specific        = ioi − randomTargetIoi
 *   percentile      = share of those items whose IoI is below T's (ties count half): 0.5 for a
 *                     path blind to its target, near 1 when the path singles the target out.
 *
 *   npm run bench -- specificity DIR [--out FILE]
 *
 * Reads DIR/results/*.json, prints mean ± 95% CI over seeds per environment and label, and with
 * --out writes the per-file figures as JSON.
 */
import type { UserSimulator } from '../simulators/simulator.ts';
import { writeJsonAtomic } from '../core/io.ts';
import { readResultEntries } from '../results/read.ts';
import { summarize } from '../results/stats.ts';
import { renderTable } from '../results/table.ts';

export interface PathCase {
  readonly history: readonly number[];
  readonly target: number;
  readonly path: readonly number[];
}

export interface Specificity {
  ioi: number;
  randomTargetIoi: number;
  specific: number;
  percentile: number;
}

/** Log-softmax of row `row` of a [rows × N] score matrix. */
function logSoftmaxRow(scores: Float32Array, row: number, N: number): Float64Array {
  const off = row * N;
  let max = -Infinity;
  for (let i = 0; i < N; i++) max = Math.max(max, scores[off + i]);
  let z = 0;
  for (let i = 0; i < N; i++) z += Math.exp(scores[off + i] - max);
  const lz = max + Math.log(z);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) out[i] = scores[off + i] - lz;
  return out;
}

/** Specificity of each case's path under `sim` (two sequences per case, in batches of `chunk` cases). */
export function pathSpecificity(sim: UserSimulator, cases: readonly PathCase[], chunk = 256): Specificity[] {
  const N = sim.numItems;
  const out: Specificity[] = [];
  for (let from = 0; from < cases.length; from += chunk) {
    const part = cases.slice(from, from + chunk);
    const batch = sim.open(part.flatMap((c) => [[...c.history], [...c.history, ...c.path]]));
    let scores: Float32Array;
    try {
      scores = batch.scores();
    } finally {
      batch.dispose();
    }
    part.forEach((c, k) => {
      const before = logSoftmaxRow(scores, 2 * k, N);
      const after = logSoftmaxRow(scores, 2 * k + 1, N);
      const excluded = new Set([...c.history, ...c.path]);
      const ioi = after[c.target] - before[c.target];
      let sum = 0;
      let n = 0;
      let below = 0;
      for (let i = 0; i < N; i++) {
        if (excluded.has(i)) continue;
        const d = after[i] - before[i];
        sum += d;
        n++;
        if (d < ioi) below++;
        else if (d === ioi) below += 0.5;
      }
      const randomTargetIoi = n > 0 ? sum / n : 0;
      out.push({ ioi, randomTargetIoi, specific: ioi - randomTargetIoi, percentile: n > 0 ? below / n : 0.5 });
    });
  }
  return out;
}

export interface FileSpecificity {
  file: string;
  env: string;
  label: string;
  seed: number;
  cases: number;
  reward: Specificity;
  evaluator: Specificity | null;
}

/** Per result file of DIR: the target specificity of its evaluated cases (recorded in every result file). */
export function specificityOfDir(dir: string): FileSpecificity[] {
  return readResultEntries(dir).map(([file, r]) => {
    const m = r.metrics;
    const e = r.evaluatorMetrics;
    return {
      file,
      env: r.env.id,
      label: r.run.label,
      seed: r.seed,
      cases: r.episodes,
      reward: { ioi: m.ioi, randomTargetIoi: m.genericIoi, specific: m.specificIoi, percentile: m.targetPercentile },
      evaluator: e ? { ioi: e.ioi, randomTargetIoi: e.genericIoi, specific: e.specificIoi, percentile: e.targetPercentile } : null,
    };
  });
}

/** An aligned text table: mean ± 95% CI over seeds, per environment and label. */
export function specificityTable(rows: readonly FileSpecificity[]): string {
  const groups = new Map<string, FileSpecificity[]>();
  for (const r of rows) groups.set(`${r.env}\u0000${r.label}`, [...(groups.get(`${r.env}\u0000${r.label}`) ?? []), r]);
  const cell = (xs: number[], digits: number) => {
    const s = summarize(xs);
    return s.ci95 === null ? `${s.mean.toFixed(digits)} (n = ${s.n})` : `${s.mean.toFixed(digits)} ± ${s.ci95.toFixed(digits)}`;
  };
  const body = [...groups.values()].map((g) => {
    const ev = g.every((r) => r.evaluator !== null);
    return [
      g[0].env,
      g[0].label,
      String(g.length),
      cell(
        g.map((r) => r.reward.ioi),
        3,
      ),
      cell(
        g.map((r) => r.reward.randomTargetIoi),
        3,
      ),
      cell(
        g.map((r) => r.reward.specific),
        3,
      ),
      cell(
        g.map((r) => r.reward.percentile),
        3,
      ),
      ev
        ? cell(
            g.map((r) => r.evaluator!.specific),
            3,
          )
        : '-',
      ev
        ? cell(
            g.map((r) => r.evaluator!.percentile),
            3,
          )
        : '-',
    ];
  });
  return (
    renderTable(['env', 'agent', 'seeds', 'IoI', 'random-target IoI', 'specific IoI', 'percentile', 'eval specific', 'eval percentile'], body) +
    'mean ± 95% CI (t) over seeds; specific = IoI − the IoI of a uniformly random target (items outside history and path); percentile 0.5 = blind to the target\n'
  );
}

export async function specificityMain(args: string[], io: { out(t: string): void; err(t: string): void }, usage: (msg: string) => Error): Promise<number> {
  const outAt = args.indexOf('--out');
  const outFile = outAt >= 0 ? args[outAt + 1] : undefined;
  if (outAt >= 0 && (!outFile || outFile.startsWith('-'))) throw usage('bench specificity: --out needs a file');
  const rest = outAt >= 0 ? args.filter((_, i) => i !== outAt && i !== outAt + 1) : args;
  if (rest.length !== 1 || rest[0].startsWith('-')) throw usage('usage: bench specificity DIR [--out FILE]');
  const rows = specificityOfDir(rest[0]);
  if (rows.length === 0) throw usage(`${rest[0]}: no result files in ${rest[0]}/results`);
  io.out(specificityTable(rows));
  if (outFile) {
    writeJsonAtomic(outFile, rows);
    io.out(`wrote ${outFile}\n`);
  }
  return 0;
}
