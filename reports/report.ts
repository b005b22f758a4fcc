/**
 * The HTML report of a result folder: DIR/report.html, one self-contained file (inline CSS and
 * SVG, no script, no network: a Content-Security-Policy forbids loading anything).
 *
 * It reads only result files (DIR/results/*.json and the reference rows of DIR/reference/results,
 * validated) and shows per environment, first the two plots researchers look for (target-specific
 * IoI against CTR per agent, oracles and reference rows marked: the trade-off, on the IoI that
 * tells steering from flattening; path length over training per agent: where the length shortcut
 * shows), a warning when rows of one table differ in seeds or test cases, then the leaderboard
 * (rows by target-specific IoI, 95% t-intervals over seeds, degenerate results flagged) and IQMs, metrics@K,
 * bar charts with error bars per metric, learning curves (return, path length, KL, ...; counters
 * such as epoch numbers are not curves, and logs with one point per run are a table of values),
 * example paths per agent with item titles and attributes, and the metadata of every run.
 * Rendering: Handlebars in strict mode (a missing field is an error) with HTML escaping of all
 * data; plots from plots.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { writeFileAtomic } from '../core/io.ts';
import { ContractError, UsageError } from '../core/errors.ts';
import { withFolderLockAsync } from '../core/lock.ts';
import {
  AT_K_NOTE,
  buildLeaderboard,
  flagLines,
  groupLabels,
  groupResults,
  HEADLINE_ORDER,
  keptReference,
  rowName,
  shownMetrics,
  type EnvGroup,
  type Leaderboard,
  type MetricAggregate,
} from '../results/leaderboard.ts';
import { readReferenceResults } from '../results/reference.ts';
import { metricInfo } from '../results/metrics.ts';
import { readResults } from '../results/read.ts';
import { FIDELITY_METRICS, rankAgreement } from '../results/fidelity.ts';
import type { ResultFile } from '../results/schema.ts';
import { readVarianceStudy, type VarianceRow, type VarianceStudy } from '../results/variance.ts';
import { atKChartSpec, barChartSpec, curveChartSpec, renderSvg, tradeoffChartSpec, type CurveDatum, type TradeoffDatum } from './plots.ts';

const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'template.hbs');

/** Curve keys shown first: return, path length (where the length shortcut shows), KL. */
const CURVE_PRIORITY = [/return/i, /length/i, /\bkl\b|kl[_/]|_kl|\/kl/i];
const MAX_CURVE_CHARTS = 9;
/** Logged counters and timings: bookkeeping, not learning curves (e.g. supervised/epoch against the step). */
const BOOKKEEPING_KEY = /(^|\/)(epoch|epochs|bestEpoch|seconds|step|update|updates)$/i;
const MAX_EXAMPLES = 3;

export interface ReportOptions {
  /** Page title. */
  title?: string;
  /** The folder's estimator-variance study (results/variance.ts), shown as the "Estimators" section. */
  variance?: VarianceStudy | null;
  /** Reference results (DIR/reference/results) shown beside the folder's own, marked (ref). */
  reference?: readonly ResultFile[];
}

/** The variance study as table rows (the "Estimators" section). */
function varianceSection(v: VarianceStudy) {
  const rows = (rs: readonly VarianceRow[]) =>
    rs.map((r) => ({
      label: r.label,
      meanNorm: fmt(r.meanNorm, 3),
      traceCov: fmt(r.traceCov, 3),
      snr: r.snr === null ? '∞' : fmt(r.snr, 3),
      cosine: fmt(r.cosineToReinforce, 3),
    }));
  return {
    exact: { description: v.exact.description, groupSize: v.exact.groupSize, rows: rows(v.exact.rows) },
    monteCarlo: v.monteCarlo
      ? {
          what: `${v.monteCarlo.env}, checkpoint ${path.basename(v.monteCarlo.checkpoint)}, ${v.monteCarlo.batches} batches of ${v.monteCarlo.casesPerBatch} cases × ${v.monteCarlo.groupSize} paths, seed ${v.monteCarlo.seed}`,
          rows: rows(v.monteCarlo.rows),
        }
      : null,
  };
}

interface Chart {
  /** Inline SVG from plots.ts (checked by assertSafeSvg). */
  svg: string;
  name: string;
  caption: string;
}

interface Cell {
  mean: string;
  /** The 95% t-interval over seeds as ± half-width; 'n = 1' with one seed. */
  ci: string;
  best: boolean;
}

function cellFor(a: MetricAggregate | undefined, metric: string, best: boolean): Cell {
  const d = metricInfo(metric).digits;
  if (!a) return { mean: '-', ci: '', best: false };
  return { mean: a.mean.toFixed(d), ci: a.tHalfWidth !== null ? `± ${a.tHalfWidth.toFixed(d)}` : `n = ${a.n}`, best };
}

const AT_K_RE = /^(eval\.)?([A-Za-z]+)@(\d+)\.(max|mean)$/;
const AT_K_ORDER = ['ioi', 'ior', 'ctr', 'return', 'success'];

/** Metrics@K as tables per simulator (reward, evaluator): rows (agent, K), columns metric × {max, mean}. */
function atKTables(lb: Leaderboard['envs'][number], names: readonly string[]) {
  const parsed = names.map((n) => ({ n, m: AT_K_RE.exec(n) })).filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null);
  const tables = [];
  for (const [prefix, title] of [
    ['', 'under the reward simulator'],
    ['eval.', 'under the evaluator simulator'],
  ] as const) {
    const mine = parsed.filter((x) => (x.m[1] ?? '') === prefix);
    if (mine.length === 0) continue;
    const metrics = AT_K_ORDER.filter((b) => mine.some((x) => x.m[2] === b));
    const ks = [...new Set(mine.map((x) => Number(x.m[3])))].sort((a, b) => a - b);
    const columns = metrics.flatMap((b) => (['max', 'mean'] as const).map((agg) => ({ base: b, agg, name: `${b} ${agg}` })));
    const rows = [];
    for (const e of lb.entries) {
      for (const k of ks) {
        const cells = columns.map((c) => {
          const name = `${prefix}${c.base}@${k}.${c.agg}`;
          const best = lb.entries.length > 1 && lb.rankings[name]?.[0] === e.label;
          return cellFor(e.metrics[name], name, best);
        });
        if (cells.every((c) => c.mean === '-')) continue;
        rows.push({ label: e.label, k, cells });
      }
    }
    tables.push({ title, columns, rows });
  }
  return tables;
}

function fmt(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** Per agent and step, the mean of one logged key over seeds, with the band from the lowest to the highest seed. */
function curveData(g: EnvGroup, labels: Map<string, string>, series: string, key: string): CurveDatum[] {
  const data: CurveDatum[] = [];
  for (const [groupKey, rs] of g.groups) {
    const label = labels.get(groupKey)!;
    const bySteps = new Map<number, number[]>();
    for (const r of rs)
      for (const p of r.curves[series] ?? [])
        if (typeof p[key] === 'number' && Number.isFinite(p[key]) && typeof p.step === 'number') bySteps.set(p.step, [...(bySteps.get(p.step) ?? []), p[key]]);
    for (const [step, vs] of [...bySteps].sort((a, b) => a[0] - b[0]))
      data.push({ agent: label, step, mean: vs.reduce((a, b) => a + b, 0) / vs.length, lo: Math.min(...vs), hi: Math.max(...vs) });
  }
  return data;
}

/** A warning when the rows of an environment's tables were measured on different seeds or numbers of test cases. */
function comparabilityWarning(lb: Leaderboard['envs'][number]): string | null {
  const describe = (e: Leaderboard['envs'][number]['entries'][number]) => `seeds ${e.seeds.join(', ')}; ${e.episodes} test cases`;
  const kinds = new Map<string, string[]>();
  for (const e of lb.entries) kinds.set(describe(e), [...(kinds.get(describe(e)) ?? []), e.label]);
  if (kinds.size < 2) return null;
  return `These rows were not measured alike, yet the tables rank them together: ${[...kinds].map(([what, labels]) => `${labels.join(', ')} (${what})`).join(' · ')}. Rerun the odd ones with the same seeds and --episodes before comparing them.`;
}

/** The view model of one environment's section. */
async function envSection(lb: Leaderboard['envs'][number], g: EnvGroup) {
  const groups = g.groups;
  const labels = groupLabels(g);
  const all = shownMetrics(lb, Object.keys(Object.assign({}, ...lb.entries.map((e) => e.metrics))));
  // The sort key first: target-specific IoI tells steering from flattening, raw IoI does not.
  const headline = HEADLINE_ORDER.filter((m) => all.includes(m));
  const atKMetrics = all.filter((m) => m.includes('@'));
  // Two leaderboard tables (under the reward simulator, under the evaluator): one table of every
  // headline metric with its interval is wider than a 1400 px window.
  const rewardColumns = headline.filter((m) => !m.startsWith('eval.'));
  const evalColumns = headline.filter((m) => m.startsWith('eval.'));
  const rows = lb.entries.map((e) => ({
    label: e.label,
    reference: e.reference,
    flags: e.flags.map((f) => f.short).join(', '),
    oracle: e.usesSimulator,
    seeds: e.seeds.length,
    episodes: e.episodes,
    cells: rewardColumns.map((m) => cellFor(e.metrics[m], m, lb.entries.length > 1 && lb.rankings[m]?.[0] === e.label)),
    evalCells: evalColumns.map((m) => cellFor(e.metrics[m], m, lb.entries.length > 1 && lb.rankings[m]?.[0] === e.label)),
    iqm: rewardColumns.map((m) => fmt(e.metrics[m]?.iqm, metricInfo(m).digits)),
    evalIqm: evalColumns.map((m) => fmt(e.metrics[m]?.iqm, metricInfo(m).digits)),
  }));
  const atK = atKTables(lb, atKMetrics);
  const bySeed = [...groups.values()].flat();
  const first = bySeed[0];

  // The plots read first: target-specific IoI against CTR per agent (under each simulator), path
  // length over training. Raw IoI cannot tell steering from flattening (a random path raises
  // log p(T) for most targets), so the trade-off is drawn on the target-specific part.
  const lead: Chart[] = [];
  const sameSimulator = first.env.evaluator === null || first.env.evaluator === first.env.simulator || lb.evaluatorRepeats;
  for (const prefix of sameSimulator ? [''] : ['', 'eval.']) {
    const data: TradeoffDatum[] = lb.entries
      .filter((e) => e.metrics[`${prefix}specificIoi`] && e.metrics[`${prefix}ctr`])
      .map((e) => {
        const x = e.metrics[`${prefix}ctr`];
        const y = e.metrics[`${prefix}specificIoi`];
        return {
          agent: rowName(e),
          kind: e.usesSimulator ? ('oracle' as const) : e.reference ? ('reference' as const) : ('agent' as const),
          x: x.mean,
          xlo: x.ci95?.[0] ?? null,
          xhi: x.ci95?.[1] ?? null,
          y: y.mean,
          ylo: y.ci95?.[0] ?? null,
          yhi: y.ci95?.[1] ?? null,
        };
      });
    const where = prefix ? 'the evaluator simulator' : 'the reward simulator';
    if (data.length > 0) {
      lead.push({
        svg: await renderSvg(tradeoffChartSpec(data, { x: 'CTR (mean acceptance probability)', y: "target-specific IoI (IoI − a random target's)" })),
        name: `${prefix}specificIoi against ${prefix}CTR`,
        caption:
          `the trade-off under ${where}: feasibility (CTR, right is better) against steering toward the target (target-specific IoI, up is better; ` +
          `raw IoI also rises for a path that only flattens the user); diamonds: oracles (read the simulator), squares: reference rows; mean over seeds, bars: 95% t-intervals`,
      });
    }
  }
  const lengthCurve = curveData(g, labels, 'train', 'length');
  if (new Set(lengthCurve.map((d) => d.step)).size > 1) {
    lead.push({
      svg: await renderSvg(curveChartSpec(lengthCurve, { yTitle: 'path length' })),
      name: 'path length over training',
      caption:
        'mean path length of the training rollouts per update (line: mean over seeds; band: lowest to highest seed); a drift to maxLength is the length shortcut',
    });
  }

  // Bar charts with error bars, one per headline metric.
  const charts: Chart[] = [];
  for (const m of headline) {
    // No error bar for a single seed (ci95 null): lo/hi null draw nothing.
    const data = lb.entries
      .filter((e) => e.metrics[m])
      .map((e) => ({
        agent: `${e.label}${e.reference ? ' (ref)' : ''}`,
        mean: e.metrics[m].mean,
        lo: e.metrics[m].ci95?.[0] ?? null,
        hi: e.metrics[m].ci95?.[1] ?? null,
      }));
    if (data.length === 0) continue;
    const allZero = data.every((d) => d.mean === 0 && d.lo === 0 && d.hi === 0);
    charts.push({ svg: await renderSvg(barChartSpec(data)), name: m, caption: `${metricInfo(m).label}${allZero ? ' (0 for every agent)' : ''}` });
  }
  // Metrics@K against K (reward simulator): IoI, IoR, CTR.
  const atKCharts: Chart[] = [];
  for (const base of ['ioi', 'ior', 'ctr']) {
    const data = lb.entries.flatMap((e) =>
      Object.entries(e.metrics).flatMap(([name, a]) => {
        const m = AT_K_RE.exec(name);
        return m && !m[1] && m[2] === base ? [{ agent: e.label, k: Number(m[3]), over: m[4], mean: a.mean }] : [];
      }),
    );
    if (data.length > 0)
      atKCharts.push({
        svg: await renderSvg(atKChartSpec(data)),
        name: `${base}@K`,
        caption: `${metricInfo(base).label}: best (solid) and mean (dashed) of the first K candidates, mean over seeds`,
      });
  }

  // Learning curves: per curve series and key with more than one step, the mean over seeds at each
  // step, band = min..max over seeds. Counters are skipped; keys logged once per run (summaries
  // such as the best epoch) are a table of values.
  const curveKeys = new Map<string, Set<string>>();
  for (const r of bySeed) {
    for (const [series, points] of Object.entries(r.curves)) {
      const keys = curveKeys.get(series) ?? new Set<string>();
      for (const p of points) for (const k of Object.keys(p)) if (k !== 'step' && !BOOKKEEPING_KEY.test(k)) keys.add(k);
      curveKeys.set(series, keys);
    }
  }
  const priority = (k: string) => {
    const i = CURVE_PRIORITY.findIndex((re) => re.test(k));
    return i < 0 ? CURVE_PRIORITY.length : i;
  };
  const curveList = [...curveKeys]
    .flatMap(([series, keys]) => [...keys].map((key) => ({ series, key })))
    .sort((a, b) => priority(a.key) - priority(b.key) || a.series.localeCompare(b.series) || a.key.localeCompare(b.key));
  const curves: Chart[] = [];
  const summaries: { series: string; key: string; values: { label: string; value: string }[] }[] = [];
  for (const { series, key } of curveList) {
    const data = curveData(g, labels, series, key);
    if (data.length === 0) continue;
    const steps = new Map<string, Set<number>>();
    for (const d of data) steps.set(d.agent, (steps.get(d.agent) ?? new Set()).add(d.step));
    if ([...steps.values()].every((s) => s.size < 2)) {
      summaries.push({ series, key, values: data.map((d) => ({ label: d.agent, value: fmt(d.mean, 4) })) });
    } else if (curves.length < MAX_CURVE_CHARTS) {
      curves.push({
        svg: await renderSvg(curveChartSpec(data)),
        name: key,
        caption: `learning curve '${series}': mean over seeds, band from the lowest to the highest seed`,
      });
    }
  }
  const summaryAgents = [...new Set(summaries.flatMap((s) => s.values.map((v) => v.label)))];
  const summaryTable = {
    columns: summaries.map((s) => s.key),
    rows: summaryAgents.map((label) => ({ label, cells: summaries.map((s) => s.values.find((v) => v.label === label)?.value ?? '-') })),
  };

  // Example paths: the cases of the lowest seed (the same cases for every agent at a seed).
  const seed = Math.min(...bySeed.map((r) => r.seed));
  const atSeed = [...groups]
    .map(([key, rs]) => ({ label: labels.get(key)!, r: rs.find((x) => x.seed === seed) ?? null }))
    .filter((x): x is { label: string; r: ResultFile } => x.r !== null);
  const item = (r: ResultFile, id: number) => {
    const info = r.examples.items[String(id)];
    const title = info?.title || `item ${id}`;
    // A title that already names the item's attributes (the synthetic world's do) is not followed by them again.
    const attributes = info && !info.attributes.every((a) => title.includes(a)) ? info.attributes.join(', ') : '';
    return { id, title, attributes };
  };
  const caseIndices = [...new Set(atSeed.flatMap((x) => x.r.examples.cases.map((c) => c.caseIndex)))].sort((a, b) => a - b).slice(0, MAX_EXAMPLES);
  const examples = caseIndices.map((ci) => {
    const holder = atSeed.find((x) => x.r.examples.cases.some((c) => c.caseIndex === ci))!;
    const c = holder.r.examples.cases.find((x) => x.caseIndex === ci)!;
    return {
      caseIndex: ci,
      seed,
      history: c.history.map((id) => item(holder.r, id)),
      target: item(holder.r, c.target),
      paths: atSeed
        .map(({ label, r }) => {
          const mine = r.examples.cases.find((x) => x.caseIndex === ci);
          const full = r.cases.find((x) => x.caseIndex === ci);
          if (!mine) return null;
          return {
            label,
            items: mine.path.map((id) => item(r, id)),
            empty: mine.path.length === 0,
            // The path ends at the target only when it got there (the target in the top k after it).
            arrived: full?.success ?? false,
            stats: full
              ? `IoI ${fmt(full.ioi, 3)}, IoR ${fmt(full.ior, 0)}, CTR ${fmt(full.ctr, 3)}, coherence ${fmt(full.coherence, 2)}, ${full.success ? 'success' : 'no success'}`
              : '',
          };
        })
        .filter((x) => x !== null),
    };
  });

  // Do the agents keep their order under the evaluator? (Against the exact dynamics on synthetic-learned-v0.)
  const agreement = rankAgreement(bySeed)[0];
  const fidelity = agreement
    ? {
        title:
          agreement.evaluator === 'synthetic-exact'
            ? `Fidelity: the leaderboard under the learned simulator (${agreement.simulator}) against the exact dynamics`
            : `Agreement between the reward simulator (${agreement.simulator}) and the evaluator (${agreement.evaluator})`,
        metrics: FIDELITY_METRICS.map((m) => ({
          name: m,
          tau: fmt(agreement.tau[m], 3),
          flips: agreement.flips[m].map(([a, b]) => `${a}/${b}`).join(', ') || 'none',
        })),
        agents: agreement.agents.map((a) => ({
          label: a.label,
          cells: FIDELITY_METRICS.map((m) => ({ reward: fmt(a.reward[m], metricInfo(m).digits), evaluator: fmt(a.evaluator[m], metricInfo(m).digits) })),
        })),
      }
    : null;

  return {
    id: lb.id,
    dataset: first.env.dataset,
    simulator: first.env.simulator,
    evaluator: first.env.evaluator ?? 'none',
    config: JSON.stringify(first.env.config),
    world: JSON.stringify(first.env.world),
    warning: comparabilityWarning(lb) ?? '',
    flags: flagLines(lb),
    settings: lb.entries.filter((e) => e.settings !== null).map((e) => `${e.label}: ${e.settings}`),
    lead,
    columns: rewardColumns.map((m) => ({ name: m, label: metricInfo(m).label })),
    evalColumns: evalColumns.map((m) => ({ name: m, label: metricInfo(m).label })),
    iqmColumns: rewardColumns.map((m) => ({ name: m, label: metricInfo(m).label })),
    evalIqmColumns: evalColumns.map((m) => ({ name: m, label: metricInfo(m).label })),
    hasEvalTable: evalColumns.length > 0 && !sameSimulator,
    sameSimulatorNote:
      sameSimulator && lb.entries.some((e) => Object.keys(e.metrics).some((m) => m.startsWith('eval.')))
        ? `The evaluator is the reward simulator here (${first.env.simulator}): the eval. metrics equal the ones above and are not repeated (tables, charts).`
        : '',
    rows,
    atK,
    atKNote: AT_K_NOTE,
    hasAtK: atK.length > 0,
    charts,
    atKCharts,
    curves,
    hasCurves: curves.length > 0,
    summaryTable,
    hasSummaries: summaries.length > 0,
    examples,
    hasExamples: examples.length > 0,
    fidelity,
    hasFidelity: fidelity !== null,
  };
}

/** Builds the report's HTML from result files. */
export async function renderReport(results: readonly ResultFile[], opts: ReportOptions = {}): Promise<string> {
  if (results.length === 0) throw new ContractError('renderReport: no result files to report on');
  const reference = keptReference(results, opts.reference ?? []);
  const isReference = new Set(reference);
  const lb = buildLeaderboard(results, { reference });
  const grouped = groupResults([...results, ...reference]);
  const envs = [];
  for (const [i, env] of lb.envs.entries()) envs.push(await envSection(env, grouped[i]));
  const runs = [...results, ...reference]
    .sort((a, b) => a.env.id.localeCompare(b.env.id) || a.run.label.localeCompare(b.run.label) || a.seed - b.seed)
    .map((r) => ({
      env: r.env.id,
      label: `${r.run.label}${isReference.has(r) ? ' (ref)' : ''}`,
      agent: r.agent.spec,
      seed: r.seed,
      episodes: r.episodes,
      suite: r.run.suite ?? '-',
      budget: r.run.budget ?? '-',
      backend: r.backend.name,
      commit: r.code.commit ? r.code.commit.slice(0, 10) : 'unknown',
      version: `${r.code.package} ${r.code.version}`,
      created: r.timings.createdAt,
      train: fmt(r.timings.trainSeconds, 1),
      eval: fmt(r.timings.evalSeconds, 1),
      hash: r.run.configHash.slice(0, 12),
      agentConfig: JSON.stringify(r.agent.config),
    }));
  const suites = [...new Set(results.map((r) => `${r.run.suite ?? '-'} (budget ${r.run.budget ?? '-'})`))].join(', ');
  const commits = [...new Set(results.map((r) => r.code.commit?.slice(0, 10) ?? 'unknown'))].join(', ');
  const backends = [...new Set(results.map((r) => r.backend.name))].join(', ');
  const template = Handlebars.create().compile(readFileSync(TEMPLATE, 'utf8'), { strict: true });
  return template({
    title: opts.title ?? 'prorec-gym benchmark report',
    summary: { files: results.length, suites, commits, backends },
    envs,
    runs,
    variance: opts.variance ? varianceSection(opts.variance) : null,
  });
}

/** Reads DIR/results, writes DIR/report.html; returns the file and its size in bytes. */
export async function writeReport(dir: string, opts: ReportOptions = {}): Promise<{ file: string; bytes: number }> {
  // Listed and written under the folder's lock (core/lock.ts): a report never replaces a newer
  // one built from more result files.
  return withFolderLockAsync(dir, async () => {
    const results = readResults(dir);
    if (results.length === 0) throw new UsageError(`${dir}: no result files in ${path.join(dir, 'results')}`);
    const html = await renderReport(results, { variance: readVarianceStudy(dir), reference: readReferenceResults(dir).results, ...opts });
    const file = path.join(dir, 'report.html');
    writeFileAtomic(file, html);
    return { file, bytes: Buffer.byteLength(html) };
  });
}
