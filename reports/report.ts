/**
 * The HTML report of a result folder: DIR/report.html, one self-contained file (inline CSS and
 * SVG, no script, no network: a Content-Security-Policy forbids loading anything).
 *
 * It reads only result files (DIR/results/*.json, validated) and shows per environment: the
 * leaderboard with 95% bootstrap intervals and IQMs, bar charts with error bars per metric,
 * metrics@K, learning curves (return, path length, KL, ... when the results have curves), example
 * paths per agent with item titles and attributes (from the result files' `examples`), and the
 * metadata of every run. Rendering: Handlebars in strict mode (a missing field is an error) with
 * HTML escaping of all data; plots from plots.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { writeFileAtomic } from '../envs/io.ts';
import { buildLeaderboard, groupLabels, groupResults, type EnvGroup, type Leaderboard, type MetricAggregate } from '../benchmarks/leaderboard.ts';
import { HEADLINE_METRICS, metricInfo } from '../benchmarks/metrics.ts';
import { readResults } from '../benchmarks/results.ts';
import { FIDELITY_METRICS, rankAgreement } from '../benchmarks/fidelity.ts';
import type { ResultFile } from '../benchmarks/schema.ts';
import { atKChartSpec, barChartSpec, curveChartSpec, renderSvg, type CurveDatum } from './plots.ts';

const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'template.hbs');

/** Curve keys shown first: return, path length (where the length shortcut shows), KL. */
const CURVE_PRIORITY = [/return/i, /length/i, /\bkl\b|kl[_/]|_kl|\/kl/i];
const MAX_CURVE_CHARTS = 9;
const MAX_EXAMPLES = 3;

export interface ReportOptions {
  /** Page title. */
  title?: string;
}

interface Chart {
  /** Inline SVG from plots.ts (checked by assertSafeSvg). */
  svg: string;
  name: string;
  caption: string;
}

interface Cell {
  mean: string;
  /** The 95% bootstrap interval, '' with one seed. */
  ci: string;
  best: boolean;
}

function cellFor(a: MetricAggregate | undefined, metric: string, best: boolean): Cell {
  const d = metricInfo(metric).digits;
  if (!a) return { mean: '-', ci: '', best: false };
  return { mean: a.mean.toFixed(d), ci: a.n > 1 ? `[${a.ci95[0].toFixed(d)}, ${a.ci95[1].toFixed(d)}]` : '', best };
}

const AT_K_RE = /^(eval\.)?([A-Za-z]+)@(\d+)\.(max|mean)$/;
const AT_K_ORDER = ['ioi', 'ior', 'ctr', 'return', 'success'];

/** Metrics@K as tables per simulator (reward, evaluator): rows (agent, K), columns metric × {max, mean}. */
function atKTables(lb: Leaderboard['envs'][number], names: readonly string[]) {
  const parsed = names.map((n) => ({ n, m: AT_K_RE.exec(n) })).filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null);
  const tables = [];
  for (const [prefix, title] of [['', 'under the reward simulator'], ['eval.', 'under the evaluator simulator']] as const) {
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

/** The view model of one environment's section. */
async function envSection(lb: Leaderboard['envs'][number], g: EnvGroup) {
  const groups = g.groups;
  const labels = groupLabels(g);
  const all = Object.keys(Object.assign({}, ...lb.entries.map((e) => e.metrics)));
  const headline = (HEADLINE_METRICS as readonly string[]).filter((m) => all.includes(m));
  const atKMetrics = all.filter((m) => m.includes('@'));
  const rows = lb.entries.map((e) => ({
    label: e.label,
    oracle: e.usesSimulator,
    seeds: e.seeds.length,
    episodes: e.episodes,
    cells: headline.map((m) => cellFor(e.metrics[m], m, lb.entries.length > 1 && lb.rankings[m]?.[0] === e.label)),
    iqm: headline.map((m) => fmt(e.metrics[m]?.iqm, metricInfo(m).digits)),
  }));
  const atK = atKTables(lb, atKMetrics);

  // Bar charts with error bars, one per headline metric.
  const charts: Chart[] = [];
  for (const m of headline) {
    const data = lb.entries.filter((e) => e.metrics[m]).map((e) => ({ agent: e.label, mean: e.metrics[m].mean, lo: e.metrics[m].ci95[0], hi: e.metrics[m].ci95[1] }));
    if (data.length === 0) continue;
    charts.push({ svg: await renderSvg(barChartSpec(data)), name: m, caption: metricInfo(m).label });
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
    if (data.length > 0) atKCharts.push({ svg: await renderSvg(atKChartSpec(data)), name: `${base}@K`, caption: `${metricInfo(base).label}: best (solid) and mean (dashed) of the first K candidates, mean over seeds` });
  }

  // Learning curves: per curve series and key, the mean over seeds at each step, band = min..max over seeds.
  const curveKeys = new Map<string, Set<string>>();
  for (const rs of groups.values()) {
    for (const r of rs) {
      for (const [series, points] of Object.entries(r.curves)) {
        const keys = curveKeys.get(series) ?? new Set<string>();
        for (const p of points) for (const k of Object.keys(p)) if (k !== 'step') keys.add(k);
        curveKeys.set(series, keys);
      }
    }
  }
  const priority = (k: string) => {
    const i = CURVE_PRIORITY.findIndex((re) => re.test(k));
    return i < 0 ? CURVE_PRIORITY.length : i;
  };
  const curveList = [...curveKeys].flatMap(([series, keys]) => [...keys].map((key) => ({ series, key }))).sort((a, b) => priority(a.key) - priority(b.key) || a.series.localeCompare(b.series) || a.key.localeCompare(b.key));
  const curves: Chart[] = [];
  for (const { series, key } of curveList.slice(0, MAX_CURVE_CHARTS)) {
    const data: CurveDatum[] = [];
    for (const [groupKey, rs] of groups) {
      const label = labels.get(groupKey)!;
      const bySteps = new Map<number, number[]>();
      for (const r of rs) for (const p of r.curves[series] ?? []) if (typeof p[key] === 'number' && Number.isFinite(p[key]) && typeof p.step === 'number') bySteps.set(p.step, [...(bySteps.get(p.step) ?? []), p[key]]);
      for (const [step, vs] of [...bySteps].sort((a, b) => a[0] - b[0])) data.push({ agent: label, step, mean: vs.reduce((a, b) => a + b, 0) / vs.length, lo: Math.min(...vs), hi: Math.max(...vs) });
    }
    if (data.length > 0) curves.push({ svg: await renderSvg(curveChartSpec(data)), name: key, caption: `learning curve '${series}': mean over seeds, band from the lowest to the highest seed` });
  }

  // Example paths: the cases of the lowest seed (the same cases for every agent at a seed).
  const bySeed = [...groups.values()].flat();
  const seed = Math.min(...bySeed.map((r) => r.seed));
  const atSeed = [...groups].map(([key, rs]) => ({ label: labels.get(key)!, r: rs.find((x) => x.seed === seed) ?? null })).filter((x): x is { label: string; r: ResultFile } => x.r !== null);
  const item = (r: ResultFile, id: number) => {
    const info = r.examples.items[String(id)];
    return { id, title: info?.title || `item ${id}`, attributes: info ? info.attributes.join(', ') : '' };
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
            stats: full ? `IoI ${fmt(full.ioi, 3)}, IoR ${fmt(full.ior, 0)}, CTR ${fmt(full.ctr, 3)}, coherence ${fmt(full.coherence, 2)}, ${full.success ? 'success' : 'no success'}` : '',
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
        metrics: FIDELITY_METRICS.map((m) => ({ name: m, tau: fmt(agreement.tau[m], 3), flips: agreement.flips[m].map(([a, b]) => `${a}/${b}`).join(', ') || 'none' })),
        agents: agreement.agents.map((a) => ({
          label: a.label,
          cells: FIDELITY_METRICS.map((m) => ({ reward: fmt(a.reward[m], metricInfo(m).digits), evaluator: fmt(a.evaluator[m], metricInfo(m).digits) })),
        })),
      }
    : null;

  const first = bySeed[0];
  return {
    id: lb.id,
    dataset: first.env.dataset,
    simulator: first.env.simulator,
    evaluator: first.env.evaluator ?? 'none',
    config: JSON.stringify(first.env.config),
    world: JSON.stringify(first.env.world),
    columns: headline.map((m) => ({ name: m, label: metricInfo(m).label })),
    rows,
    atK,
    hasAtK: atK.length > 0,
    charts,
    atKCharts,
    curves,
    hasCurves: curves.length > 0,
    examples,
    hasExamples: examples.length > 0,
    fidelity,
    hasFidelity: fidelity !== null,
  };
}

/** Builds the report's HTML from result files. */
export async function renderReport(results: readonly ResultFile[], opts: ReportOptions = {}): Promise<string> {
  if (results.length === 0) throw new Error('no result files to report on');
  const lb = buildLeaderboard(results);
  const grouped = groupResults(results);
  const envs = [];
  for (const [i, env] of lb.envs.entries()) envs.push(await envSection(env, grouped[i]));
  const runs = [...results]
    .sort((a, b) => a.env.id.localeCompare(b.env.id) || a.run.label.localeCompare(b.run.label) || a.seed - b.seed)
    .map((r) => ({
      env: r.env.id,
      label: r.run.label,
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
    summary: { files: results.length, suites, commits, backends, resamples: lb.bootstrap.resamples },
    envs,
    runs,
  });
}

/** Reads DIR/results, writes DIR/report.html; returns the file and its size in bytes. */
export async function writeReport(dir: string, opts: ReportOptions = {}): Promise<{ file: string; bytes: number }> {
  const results = readResults(dir);
  if (results.length === 0) throw new Error(`${dir}: no result files in ${path.join(dir, 'results')}`);
  const html = await renderReport(results, opts);
  const file = path.join(dir, 'report.html');
  writeFileAtomic(file, html);
  return { file, bytes: Buffer.byteLength(html) };
}
