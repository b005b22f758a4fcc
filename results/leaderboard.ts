/**
 * Aggregation across seeds and the leaderboard (JSON and Markdown) per environment and metric.
 *
 * Results are grouped by environment and agent label; each group must be one configuration
 * (the run config minus the seed): two configurations under one label are told apart by a short
 * hash suffix. Per group and metric: the per-seed values, their mean, a 95% percentile-bootstrap
 * interval of the mean (2,000 resamples, seeded from the group and metric names, so the same
 * results give the same interval), the IQM, the standard deviation and the 95% t half-width.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Rng } from '../core/rng.ts';
import { stableHash } from '../core/hash.ts';
import { flatMetrics, metricInfo, sortMetricNames, HEADLINE_METRICS } from './metrics.ts';
import type { ResultFile } from './schema.ts';
import { bootstrapCI, iqm, summarize } from './stats.ts';
import { renderTable, wrapText } from './table.ts';

export const LEADERBOARD_VERSION = 1;

export const MetricAggregateSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 0 }),
    values: Type.Array(Type.Number()),
    mean: Type.Number(),
    ci95: Type.Union([Type.Tuple([Type.Number(), Type.Number()]), Type.Null()], {
      description: '95% percentile-bootstrap interval of the mean over seeds; null with fewer than two seeds',
    }),
    iqm: Type.Number(),
    std: Type.Union([Type.Number(), Type.Null()]),
    tHalfWidth: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type MetricAggregate = Static<typeof MetricAggregateSchema>;

export const LeaderboardEntrySchema = Type.Object(
  {
    label: Type.String(),
    agent: Type.String(),
    usesSimulator: Type.Boolean(),
    /** Hash of the run config without the seed: one configuration. */
    variant: Type.String(),
    seeds: Type.Array(Type.Integer()),
    episodes: Type.Integer(),
    suite: Type.Union([Type.String(), Type.Null()]),
    budget: Type.Union([Type.String(), Type.Null()]),
    metrics: Type.Record(Type.String(), MetricAggregateSchema),
  },
  { additionalProperties: false },
);
export type LeaderboardEntry = Static<typeof LeaderboardEntrySchema>;

export const LeaderboardSchema = Type.Object(
  {
    version: Type.Literal(LEADERBOARD_VERSION),
    bootstrap: Type.Object({ resamples: Type.Integer(), level: Type.Number(), unit: Type.Literal('seed') }),
    envs: Type.Array(
      Type.Object({
        /** The environment id, with `#setting` when the results hold several settings (config, world, split) of it. */
        id: Type.String(),
        envId: Type.String(),
        setting: Type.String(),
        entries: Type.Array(LeaderboardEntrySchema),
        /** Per metric, labels from best to worst by mean (metrics with a direction only). */
        rankings: Type.Record(Type.String(), Type.Array(Type.String())),
        /** What a reader must know before comparing the rows (e.g. rows over different seeds or case counts). */
        warnings: Type.Array(Type.String()),
      }),
    ),
  },
  { additionalProperties: false },
);
export type Leaderboard = Static<typeof LeaderboardSchema>;

const RESAMPLES = 2000;

/** Hash of a result's run config without its seed: results of one configuration share it. */
export function variantOf(r: ResultFile): string {
  const { seed: _seed, ...rest } = r.run.config;
  return stableHash(rest).slice(0, 12);
}

export function aggregate(values: readonly number[], seedName: string): MetricAggregate {
  const s = summarize(values);
  const rng = new Rng(parseInt(stableHash(seedName).slice(0, 8), 16) | 0, 'bootstrap');
  // One seed has no spread to resample: no interval (a zero-width one would read as certainty).
  const ci95 = values.length >= 2 ? bootstrapCI(values, rng, { resamples: RESAMPLES }) : null;
  return { n: values.length, values: [...values], mean: s.mean, ci95, iqm: iqm(values), std: s.std, tHalfWidth: s.ci95 };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The environment setting of a result: id, resolved config, world options and split. */
export function settingOf(r: ResultFile): string {
  return stableHash({ id: r.env.id, config: r.env.config, world: r.env.world, split: r.split }).slice(0, 12);
}

export interface EnvGroup {
  /** The environment id, with `#setting` appended when the results hold several settings of it. */
  name: string;
  envId: string;
  setting: string;
  /** Results by configuration (label and variant), each sorted by seed. */
  groups: Map<string, ResultFile[]>;
}

/** Groups results by environment setting and agent configuration, in a fixed order (env id, setting, label, variant). */
export function groupResults(results: readonly ResultFile[]): EnvGroup[] {
  const bySetting = new Map<string, EnvGroup>();
  // A fixed order (env, label, variant, seed), whatever order the files were read in: a merged
  // folder and an unsharded run give the same leaderboard.
  const sorted = [...results].sort(
    (a, b) => cmp(a.env.id, b.env.id) || cmp(settingOf(a), settingOf(b)) || cmp(a.run.label, b.run.label) || cmp(variantOf(a), variantOf(b)) || a.seed - b.seed,
  );
  for (const r of sorted) {
    const setting = settingOf(r);
    let g = bySetting.get(setting);
    if (!g) {
      g = { name: r.env.id, envId: r.env.id, setting, groups: new Map() };
      bySetting.set(setting, g);
    }
    const key = `${r.run.label}\u0000${variantOf(r)}`;
    g.groups.set(key, [...(g.groups.get(key) ?? []), r]);
  }
  const out = [...bySetting.values()];
  for (const g of out) {
    if (out.filter((x) => x.envId === g.envId).length > 1) g.name = `${g.envId}#${g.setting.slice(0, 6)}`;
    for (const rs of g.groups.values()) rs.sort((a, b) => a.seed - b.seed);
  }
  return out;
}

/** The display label of each configuration group of an environment (label, or label#variant when a label has several). */
export function groupLabels(g: EnvGroup): Map<string, string> {
  const count = new Map<string, number>();
  for (const rs of g.groups.values()) count.set(rs[0].run.label, (count.get(rs[0].run.label) ?? 0) + 1);
  const labels = new Map<string, string>();
  for (const [key, rs] of g.groups) labels.set(key, count.get(rs[0].run.label)! > 1 ? `${rs[0].run.label}#${variantOf(rs[0]).slice(0, 6)}` : rs[0].run.label);
  return labels;
}

export function buildLeaderboard(results: readonly ResultFile[]): Leaderboard {
  const envs: Leaderboard['envs'] = [];
  for (const g of groupResults(results)) {
    const labels = groupLabels(g);
    const entries: LeaderboardEntry[] = [];
    for (const [key, rs] of g.groups) {
      const first = rs[0];
      const label = labels.get(key)!;
      const seeds = rs.map((r) => r.seed);
      const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
      if (dup !== undefined) throw new Error(`${g.name}/${label}: two results for seed ${dup}`);
      const flat = rs.map(flatMetrics);
      const names = sortMetricNames(flat.flatMap((f) => Object.keys(f)));
      const metrics: Record<string, MetricAggregate> = {};
      for (const name of names) {
        const values = flat.map((f) => f[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        if (values.length) metrics[name] = aggregate(values, `${g.name}/${label}/${name}`);
      }
      entries.push({
        label,
        agent: first.agent.name,
        usesSimulator: first.agent.usesSimulator,
        variant: variantOf(first),
        seeds,
        episodes: first.episodes,
        suite: first.run.suite,
        budget: first.run.budget,
        metrics,
      });
    }
    const rankings: Record<string, string[]> = {};
    for (const name of sortMetricNames(entries.flatMap((e) => Object.keys(e.metrics)))) {
      const dir = metricInfo(name).direction;
      if (dir === 0) continue;
      rankings[name] = entries
        .filter((e) => e.metrics[name])
        .sort((a, b) => dir * (b.metrics[name].mean - a.metrics[name].mean) || a.label.localeCompare(b.label))
        .map((e) => e.label);
    }
    envs.push({ id: g.name, envId: g.envId, setting: g.setting, entries, rankings, warnings: comparabilityWarnings(entries) });
  }
  return { version: LEADERBOARD_VERSION, bootstrap: { resamples: RESAMPLES, level: 0.95, unit: 'seed' }, envs };
}

/** Warnings when the rows of one environment were not measured alike: other seeds or other case counts. */
export function comparabilityWarnings(entries: readonly LeaderboardEntry[]): string[] {
  const out: string[] = [];
  const bySeeds = new Map<string, string[]>();
  const byCases = new Map<number, string[]>();
  for (const e of entries) {
    const seeds = e.seeds.join(',');
    bySeeds.set(seeds, [...(bySeeds.get(seeds) ?? []), e.label]);
    byCases.set(e.episodes, [...(byCases.get(e.episodes) ?? []), e.label]);
  }
  if (bySeeds.size > 1)
    out.push(
      `rows differ in seeds (${[...bySeeds].map(([s, ls]) => `${ls.join(', ')}: seeds ${s}`).join('; ')}): their intervals and ranks are not paired comparisons`,
    );
  if (byCases.size > 1)
    out.push(
      `rows differ in test cases per seed (${[...byCases].map(([n, ls]) => `${ls.join(', ')}: ${n}`).join('; ')}): they were not evaluated on the same cases`,
    );
  return out;
}

export function formatAggregate(a: MetricAggregate | undefined, digits: number): string {
  if (!a) return '-';
  if (a.ci95 === null) return `${a.mean.toFixed(digits)} (n = ${a.n})`;
  return `${a.mean.toFixed(digits)} [${a.ci95[0].toFixed(digits)}, ${a.ci95[1].toFixed(digits)}]`;
}

function mdEscape(s: string): string {
  return s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`);
}

/** The leaderboard as Markdown: per environment, the headline table and one table per further metric group. */
export function leaderboardMarkdown(lb: Leaderboard): string {
  const out: string[] = ['# Leaderboard', ''];
  out.push(
    `Mean over seeds [95% percentile-bootstrap interval over seeds, ${lb.bootstrap.resamples} resamples]; IQM in the JSON. Bold: best mean per column. \`eval.\`: under the evaluator simulator. (oracle): reads the reward simulator while acting.`,
    '',
  );
  for (const env of lb.envs) {
    out.push(`## ${mdEscape(env.id)}`, '');
    for (const w of env.warnings) out.push(`> **Warning:** ${mdEscape(w)}`, '');
    const all = sortMetricNames(env.entries.flatMap((e) => Object.keys(e.metrics)));
    const headline = all.filter((m) => (HEADLINE_METRICS as readonly string[]).includes(m));
    const atK = all.filter((m) => m.includes('@'));
    const rest = all.filter((m) => !headline.includes(m) && !atK.includes(m));
    for (const [title, metrics] of [
      ['', headline],
      ['Other metrics', rest],
      ['Metrics@K', atK],
    ] as const) {
      if (metrics.length === 0) continue;
      if (title) out.push(`### ${title}`, '');
      out.push(`| agent | seeds | ${metrics.map(mdEscape).join(' | ')} |`);
      out.push(`|---|---:|${metrics.map(() => '---:').join('|')}|`);
      for (const e of env.entries) {
        const cells = metrics.map((m) => {
          const text = formatAggregate(e.metrics[m], metricInfo(m).digits);
          return env.rankings[m]?.[0] === e.label && env.entries.length > 1 ? `**${text}**` : text;
        });
        out.push(`| ${mdEscape(e.label)}${e.usesSimulator ? ' (oracle)' : ''} | ${e.seeds.length} | ${cells.join(' | ')} |`);
      }
      out.push('');
      if (title === 'Metrics@K') out.push(mdEscape(AT_K_NOTE), '');
    }
  }
  return out.join('\n');
}

/** A compact terminal table of the headline metrics (mean ± 95% t half-width, as before). */
export function leaderboardTerminal(lb: Leaderboard): string {
  const cols = [
    'ioi',
    'specificIoi',
    'targetPercentile',
    'ior',
    'ctr',
    'coherence',
    'length',
    'success',
    'eval.ioi',
    'eval.specificIoi',
    'eval.targetPercentile',
    'eval.ior',
    'eval.ctr',
    'eval.success',
  ];
  const rows: string[][] = [];
  const warnings = lb.envs.flatMap((env) => env.warnings.map((w) => `warning (${env.id}): ${w}\n`));
  for (const env of lb.envs) {
    for (const e of env.entries) {
      rows.push([
        env.id,
        e.label + (e.usesSimulator ? ' (oracle)' : ''),
        String(e.seeds.length),
        ...cols.map((m) => {
          const a = e.metrics[m];
          const d = metricInfo(m).digits;
          if (!a) return '-';
          return a.tHalfWidth === null ? `${a.mean.toFixed(d)} (n = ${a.n})` : `${a.mean.toFixed(d)} ± ${a.tHalfWidth.toFixed(d)}`;
        }),
      ]);
    }
  }
  const hasAtK = lb.envs.some((env) => env.entries.some((e) => Object.keys(e.metrics).some((m) => m.includes('@'))));
  return (
    renderTable(
      [
        'env',
        'agent',
        'seeds',
        'IoI',
        'specific IoI',
        'percentile',
        'IoR',
        'CTR',
        'coherence',
        'length',
        'success@10',
        'eval IoI',
        'eval specific',
        'eval percentile',
        'eval IoR',
        'eval CTR',
        'eval success',
      ],
      rows,
    ) +
    "mean ± 95% CI (t) over seeds (n = 1: one seed, no interval); specific IoI = IoI minus a random target's; percentile = the target's among all items by IoI (0.5: blind to it);\n" +
    'eval = under the evaluator simulator; (oracle) = reads the reward simulator\n' +
    (hasAtK ? `${wrapText(AT_K_NOTE)}\n` : '') +
    warnings.join('')
  );
}

/**
 * Why metrics@1 differ from the headline metrics: they are another decoding of the same agent.
 * Shown under every table that has both.
 */
export const AT_K_NOTE =
  "metrics@K (leaderboard.md, report) score the paths of the agent's proposePaths, replayed from the start of each case; " +
  'the columns above score act, step by step. They are different decodings: the policy agents propose by beam search, whose paths end only ' +
  'when p(STOP) >= 0.5, while act is greedy over items and STOP, so K = 1 is not the path scored above and IoI@1 differs from IoI.';
