/**
 * The regression gate: `npm run bench:check [-- --update]`.
 *
 * Runs a suite (default `smoke`) from scratch into --out, aggregates it over seeds and compares every
 * gated metric (those with a direction: higher or lower is better; see metrics.ts) of every
 * (environment, agent) with the committed baseline benchmarks/baselines/<suite>.json.
 *
 * The rule. For a metric with per-seed values b_1..b_n in the baseline (mean B, std s_b) and
 * c_1..c_m now (mean C, std s_c), the shortfall is d·(B − C) with d = +1 when higher is better,
 * −1 when lower is better. The metric falls short when
 *     shortfall > tolerance = max( t_{0.975, n+m−2} · sqrt(s_b²/n + s_c²/m),  1e-9 + 1e-6·|B| ),
 * i.e. when the drop is significant for a one-sided Welch-style t-test at 2.5% using the seeds'
 * spread, the second term absorbing floating-point noise. Results are deterministic for the same
 * seeds and code, so an unchanged agent reproduces its baseline exactly; with zero spread over
 * seeds any real drop fails. A baseline entry with no result now, or a gated metric that
 * disappeared, fails too. A config that differs from the baseline's is reported (a deliberately
 * changed agent is compared all the same: that is how a worse config is caught).
 *
 * Exit codes: 0 all within tolerance (or --update), 1 something fell short or a run failed,
 * 2 bad input. --update rewrites the baseline deliberately and prints what changed.
 */
import { describeError, exitCodeOf } from '../core/errors.ts';
import { runMain } from '../core/main.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { writeFileAtomic, writeJsonAtomic } from '../core/io.ts';
import { readJsonFile, validate } from '../core/validate.ts';
import { codeVersion, STDIO, UsageError, writeLeaderboard, type Io } from './cli.ts';
import { buildLeaderboard, mdEscape, type Leaderboard } from '../results/leaderboard.ts';
import { metricInfo } from '../results/metrics.ts';
import { readResults, readResultsLenient } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';
import { runSuiteAtBase, type BaseRun } from './base.ts';
import { runPlan } from './runner.ts';
import { tQuantile95 } from '../results/stats.ts';
import { isSuiteFile, loadSuite, planRuns } from './suite.ts';
import { renderTable } from '../results/table.ts';

export const BASELINES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'baselines');
export const BASELINE_VERSION = 1;

const BaselineMetricSchema = Type.Object(
  { mean: Type.Number(), std: Type.Union([Type.Number(), Type.Null()]), n: Type.Integer({ minimum: 1 }), values: Type.Array(Type.Number()) },
  { additionalProperties: false },
);

export const BaselineSchema = Type.Object(
  {
    version: Type.Literal(BASELINE_VERSION),
    suite: Type.String(),
    budget: Type.String(),
    rule: Type.String(),
    backend: Type.Union([Type.String(), Type.Null()]),
    commit: Type.Union([Type.String(), Type.Null()]),
    entries: Type.Record(
      Type.String({ description: 'env/label' }),
      Type.Object(
        {
          variant: Type.String(),
          seeds: Type.Array(Type.Integer()),
          episodes: Type.Integer(),
          metrics: Type.Record(Type.String(), BaselineMetricSchema),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Baseline = Static<typeof BaselineSchema>;

export const RULE =
  'falls short when d*(baseline mean - mean now) > max(t_{0.975, n+m-2} * sqrt(s_b^2/n + s_c^2/m), 1e-9 + 1e-6*|baseline mean|), d = +1 if higher is better, -1 if lower is better; std over seeds';

export function baselineFromLeaderboard(lb: Leaderboard, suite: string, budget: string, backend: string | null, commit: string | null): Baseline {
  const entries: Baseline['entries'] = {};
  for (const env of lb.envs) {
    for (const e of env.entries) {
      const metrics: Baseline['entries'][string]['metrics'] = {};
      for (const [name, a] of Object.entries(e.metrics)) {
        if (metricInfo(name).direction === 0) continue;
        metrics[name] = { mean: a.mean, std: a.std, n: a.n, values: a.values };
      }
      entries[`${env.id}/${e.label}`] = { variant: e.variant, seeds: e.seeds, episodes: e.episodes, metrics };
    }
  }
  return { version: BASELINE_VERSION, suite, budget, rule: RULE, backend, commit, entries };
}

export interface Shortfall {
  entry: string;
  metric: string;
  baseline: number | null;
  baselineStd: number | null;
  now: number | null;
  shortfall: number | null;
  tolerance: number | null;
  why: string;
}

export interface Comparison {
  shortfalls: Shortfall[];
  /** Metrics significantly better than the baseline (by the same rule, the other way): reported, never failed. */
  improvements: Shortfall[];
  notes: string[];
  compared: number;
}

export function tolerance(b: { std: number | null; n: number; mean: number }, c: { std: number | null; n: number }): number {
  const sb = b.std ?? 0;
  const sc = c.std ?? 0;
  const df = b.n + c.n - 2;
  const se = Math.sqrt((sb * sb) / b.n + (sc * sc) / c.n);
  const t = df >= 1 ? tQuantile95(df) : 0;
  return Math.max(t * se, 1e-9 + 1e-6 * Math.abs(b.mean));
}

/**
 * Compares `current` with `baseline` by the rule (RULE). `newEntries`: what an entry without a
 * baseline is: 'fail' against a stored baseline (it must be added deliberately with --update),
 * 'report' against a base commit (the change added it; there is nothing to compare it with).
 */
export function compareWithBaseline(current: Baseline, baseline: Baseline, o: { newEntries?: 'fail' | 'report' } = {}): Comparison {
  const shortfalls: Shortfall[] = [];
  const improvements: Shortfall[] = [];
  const notes: string[] = [];
  let compared = 0;
  for (const [key, b] of Object.entries(baseline.entries)) {
    const c = current.entries[key];
    if (!c) {
      shortfalls.push({
        entry: key,
        metric: '*',
        baseline: null,
        baselineStd: null,
        now: null,
        shortfall: null,
        tolerance: null,
        why: 'no result now (agent or environment removed from the suite? then --update)',
      });
      continue;
    }
    if (c.variant !== b.variant) notes.push(`${key}: config differs from the baseline's (variant ${b.variant} → ${c.variant}); compared all the same`);
    for (const [metric, bm] of Object.entries(b.metrics)) {
      const cm = c.metrics[metric];
      if (!cm) {
        shortfalls.push({ entry: key, metric, baseline: bm.mean, baselineStd: bm.std, now: null, shortfall: null, tolerance: null, why: 'metric missing now' });
        continue;
      }
      compared += 1;
      const d = metricInfo(metric).direction;
      const drop = d * (bm.mean - cm.mean);
      const tol = tolerance(bm, cm);
      // A drop beyond the tolerance falls short; a rise beyond it is an improvement (reported only).
      if (Math.abs(drop) > tol) {
        const worse = drop > 0;
        (worse ? shortfalls : improvements).push({
          entry: key,
          metric,
          baseline: bm.mean,
          baselineStd: bm.std,
          now: cm.mean,
          shortfall: drop,
          tolerance: tol,
          why: worse === d > 0 ? 'lower' : 'higher',
        });
      }
    }
    const added = Object.keys(c.metrics).filter((m) => !(m in b.metrics));
    if (added.length) notes.push(`${key}: metrics without a baseline (not gated until --update): ${added.join(', ')}`);
  }
  for (const key of Object.keys(current.entries)) {
    if (key in baseline.entries) continue;
    if (o.newEntries === 'report') notes.push(`${key}: new in this change (no result at the base): not compared`);
    else
      shortfalls.push({
        entry: key,
        metric: '*',
        baseline: null,
        baselineStd: null,
        now: null,
        shortfall: null,
        tolerance: null,
        why: 'no baseline (new agent or environment in the suite? run with --update)',
      });
  }
  return { shortfalls, improvements, notes, compared };
}

const fmt = (v: number | null, digits = 4) => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits));

export function shortfallTable(shortfalls: readonly Shortfall[]): string {
  return renderTable(
    ['entry', 'metric', 'baseline', 'now', 'shortfall', 'tolerance', 'why'],
    shortfalls.map((s) => [
      s.entry,
      s.metric,
      s.baseline === null ? '-' : `${fmt(s.baseline)} ± ${fmt(s.baselineStd ?? 0)}`,
      fmt(s.now),
      fmt(s.shortfall),
      fmt(s.tolerance),
      s.why,
    ]),
  );
}

/** The verdict: no metric fell short, every run produced a result, and something was compared. */
export function gatePasses(cmp: Comparison, failedRuns: readonly string[]): boolean {
  return cmp.shortfalls.length === 0 && failedRuns.length === 0 && cmp.compared > 0;
}

/** Markdown for a pull-request comment: the verdict, what was compared with what, and the tables. */
export function comparisonMarkdown(
  cmp: Comparison,
  o: { against: string; suite: string; entries: number; failedRuns: readonly string[]; seconds: number },
): string {
  const table = (rows: readonly Shortfall[], head: string) =>
    [
      `| entry | metric | ${head} | now | change | tolerance |`,
      '|---|---|---:|---:|---:|---:|',
      ...rows.map(
        (s) =>
          `| ${mdEscape(s.entry)} | ${mdEscape(s.metric)} | ${s.baseline === null ? '-' : `${fmt(s.baseline)} ± ${fmt(s.baselineStd ?? 0)}`} | ${fmt(s.now)} | ${
            s.shortfall === null ? mdEscape(s.why) : fmt(-s.shortfall)
          } | ${fmt(s.tolerance)} |`,
      ),
    ].join('\n');
  const lines = [
    `### Regression gate: ${gatePasses(cmp, o.failedRuns) ? '✅ passed' : '❌ failed'}`,
    '',
    `Suite \`${mdEscape(o.suite)}\` against ${mdEscape(o.against)}: ${cmp.compared} gated metrics of ${o.entries} entries compared (${o.seconds.toFixed(0)} s).`,
    '',
  ];
  if (o.failedRuns.length) lines.push(`**Runs that failed** (no result, so nothing to compare):`, '', ...o.failedRuns.map((f) => `- ${mdEscape(f)}`), '');
  if (cmp.compared === 0) lines.push('**Nothing was compared**: a gate that compares nothing fails.', '');
  if (cmp.shortfalls.length) lines.push(`**Fell short** (${cmp.shortfalls.length}):`, '', table(cmp.shortfalls, 'baseline'), '');
  if (cmp.improvements.length) lines.push(`**Improved** (${cmp.improvements.length}; reported, not gated):`, '', table(cmp.improvements, 'baseline'), '');
  if (cmp.notes.length) lines.push('Notes:', '', ...cmp.notes.map((n) => `- ${mdEscape(n)}`), '');
  lines.push(`<sub>Rule: ${mdEscape(RULE)}</sub>`, '');
  return lines.join('\n');
}

/** What --update changes: entries added or removed, metric means that moved. */
export function baselineDiff(old: Baseline | null, next: Baseline): string {
  if (!old) return `new baseline with ${Object.keys(next.entries).length} entries\n`;
  const rows: string[][] = [];
  for (const key of new Set([...Object.keys(old.entries), ...Object.keys(next.entries)])) {
    const a = old.entries[key];
    const b = next.entries[key];
    if (!a) {
      rows.push([key, '*', '-', 'added', '']);
      continue;
    }
    if (!b) {
      rows.push([key, '*', 'removed', '-', '']);
      continue;
    }
    for (const m of new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])) {
      const x = a.metrics[m]?.mean;
      const y = b.metrics[m]?.mean;
      if (x === y) continue;
      rows.push([key, m, fmt(x ?? null), fmt(y ?? null), x !== undefined && y !== undefined ? `${y - x >= 0 ? '+' : ''}${fmt(y - x)}` : '']);
    }
  }
  return rows.length ? renderTable(['entry', 'metric', 'old', 'new', 'change'], rows) : 'baseline unchanged\n';
}

export function baselineFile(dir: string, suite: string): string {
  return path.join(dir, `${suite}.json`);
}

export function readBaseline(file: string): Baseline | null {
  if (!existsSync(file)) return null;
  const raw = readJsonFile(file);
  return validate(BaselineSchema, raw, file);
}

/** The default of --run-timeout: no smoke run comes near it on 2 cores (the slowest take about a minute). */
export const DEFAULT_RUN_TIMEOUT = 900;

export async function checkMain(args: string[], io: Io = STDIO): Promise<number> {
  const write = io.out;
  const err = io.err;
  let base: BaseRun | null = null;
  try {
    const argv = await yargs(args)
      .scriptName('bench:check')
      .usage(
        '$0 [--update] [--base REF] [--markdown FILE]\n\n' +
          'Runs the smoke suite and compares it with the committed baseline (benchmarks/baselines/), or with the same suite run at commit REF in the same job (--base).',
      )
      .option('suite', { type: 'string', default: 'smoke', describe: 'suite name or file' })
      .option('baselines', { type: 'string', default: BASELINES_DIR, describe: 'baseline folder (BASELINES/<suite>.json)' })
      .option('base', {
        type: 'string',
        describe:
          'compare with the suite run at this commit (e.g. $(git merge-base HEAD origin/main)) in a temporary git worktree, instead of the stored baseline',
      })
      .option('markdown', { type: 'string', describe: 'also write the verdict and tables as markdown to this file (for a pull-request comment)' })
      .option('out', { type: 'string', default: path.join('runs', 'bench-check'), describe: 'where the fresh results go' })
      .option('results', { type: 'string', describe: 'compare the results already in this folder instead of running' })
      .option('update', { type: 'boolean', default: false, describe: 'rewrite the baseline from this run and print the diff' })
      .option('jobs', { type: 'number', default: 1, describe: 'parallel worker threads' })
      .option('run-timeout', {
        type: 'number',
        default: DEFAULT_RUN_TIMEOUT,
        describe: 'seconds a run may take before it is stopped and fails the gate (a guard: results never depend on it)',
      })
      .option('backend', { type: 'string', choices: ['tensorflow', 'node', 'wasm', 'cpu'], describe: 'compute backend' })
      .option('progress', { type: 'boolean', default: true, describe: 'show progress' })
      .check((a) => {
        if (!(Number.isInteger(a.jobs) && a.jobs >= 1)) throw new UsageError(`--jobs must be a positive integer, got ${a.jobs}`);
        const t = a['run-timeout'];
        if (!(Number.isFinite(t) && t > 0)) throw new UsageError(`--run-timeout must be a positive number of seconds, got ${t}`);
        if (a.base !== undefined && (a.update || a.results !== undefined))
          throw new UsageError('--base runs both sides itself: it goes with neither --update nor --results');
        return true;
      })
      .strict()
      .help()
      .exitProcess(false)
      .fail((msg, e) => {
        throw e ?? new UsageError(msg);
      })
      .parseAsync();
    if ((argv as { help?: boolean }).help) return 0;
    const started = performance.now();
    const loaded = loadSuite(argv.suite);
    const plan = await planRuns(loaded);
    const runTimeout = argv['run-timeout'];
    const dir = argv.results ?? argv.out;
    // --base: the base first, so that its worktree is gone before this side's long run starts.
    let baseResults: ResultFile[] | null = null;
    if (argv.base !== undefined) {
      const suiteArg = isSuiteFile(argv.suite) ? loaded.source : argv.suite;
      base = await runSuiteAtBase({
        cwd: process.cwd(),
        ref: argv.base,
        suite: suiteArg,
        jobs: argv.jobs,
        backend: argv.backend,
        runTimeout,
        log: (l) => err(`${l}\n`),
      });
      baseResults = readResultsLenient(base.out).results;
      if (baseResults.length === 0)
        throw new UsageError(`--base ${argv.base}: the base produced no result files this version can read (a base of another result schema?)`);
    }
    let results;
    let backend: string | null = null;
    const failedRuns: string[] = [];
    if (argv.results) {
      results = readResults(argv.results);
      if (results.length === 0) throw new UsageError(`--results ${argv.results}: no result files`);
      backend = results[0].backend.name;
    } else {
      err(`bench:check: suite ${plan.suite} (budget ${plan.budget}), ${plan.runs.length} runs into ${argv.out}\n`);
      const report = await runPlan(plan.runs, {
        out: argv.out,
        jobs: argv.jobs,
        force: true,
        backend: argv.backend,
        code: codeVersion(),
        progress: argv.progress,
        label: plan.suite,
        log: (l) => err(`${l}\n`),
        runTimeout,
      });
      for (const f of report.failed) failedRuns.push(`${f.run.config.envId}/${f.run.label}/seed${f.run.config.seed}: ${(f.error ?? '').split('\n')[0]}`);
      results = report.results;
      backend = report.backend;
    }
    if (results.length > 0) write(writeLeaderboard(dir, results));
    const current = baselineFromLeaderboard(buildLeaderboard(results), plan.suite, plan.budget, backend, codeVersion().commit);
    const file = baselineFile(argv.baselines, plan.suite);
    if (failedRuns.length > 0)
      err(`bench:check: ${failedRuns.length} run(s) failed (a run that fails fails the gate):\n${failedRuns.map((f) => `  ${f}`).join('\n')}\n`);
    if (argv.update) {
      if (failedRuns.length > 0) {
        err(`bench:check --update: not written: every run of the suite must succeed\n`);
        return 1;
      }
      const old = readBaseline(file);
      writeJsonAtomic(file, current);
      write(`bench:check --update: wrote ${file}\n${baselineDiff(old, current)}`);
      return 0;
    }
    let reference: Baseline | null;
    let against: string;
    if (baseResults) {
      reference = baselineFromLeaderboard(buildLeaderboard(baseResults), plan.suite, plan.budget, baseResults[0].backend.name, base!.commit);
      against = `the base ${argv.base} (${base!.commit.slice(0, 12)}), run in this job`;
    } else {
      reference = readBaseline(file);
      against = path.relative(process.cwd(), file) || file;
      if (!reference) {
        err(`bench:check: no baseline ${file}; create it deliberately with --update\n`);
        return 1;
      }
    }
    const cmp = compareWithBaseline(current, reference, { newEntries: baseResults ? 'report' : 'fail' });
    const seconds = (performance.now() - started) / 1000;
    const entries = Object.keys(reference.entries).length;
    if (argv.markdown) writeFileAtomic(argv.markdown, comparisonMarkdown(cmp, { against, suite: plan.suite, entries, failedRuns, seconds }));
    for (const n of cmp.notes) write(`note: ${n}\n`);
    if (cmp.improvements.length > 0) {
      write(`\nbench:check: ${cmp.improvements.length} metric(s) improved on ${against} (reported, not gated):\n`);
      write(shortfallTable(cmp.improvements));
    }
    if (cmp.shortfalls.length > 0) {
      write(`\nbench:check: ${cmp.shortfalls.length} metric(s) fell short of ${against}:\n`);
      write(shortfallTable(cmp.shortfalls));
      write(`rule: ${RULE}\n${baseResults ? '' : 'If the change is intended, rewrite the baseline with: npm run bench:check -- --update\n'}`);
    }
    if (failedRuns.length > 0) write(`bench:check: failed: ${failedRuns.length} run(s) produced no result (listed above)\n`);
    if (cmp.compared === 0) write(`bench:check: failed: nothing was compared (no gated metric had a result on both sides)\n`);
    if (!gatePasses(cmp, failedRuns)) return 1;
    write(`bench:check: all ${cmp.compared} gated metrics of ${entries} entries within tolerance of ${against} (${seconds.toFixed(1)}s)\n`);
    return 0;
  } catch (e) {
    err(describeError('bench:check', e));
    return exitCodeOf(e);
  } finally {
    base?.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runMain('bench:check', () => checkMain(hideBin(process.argv)));
}
