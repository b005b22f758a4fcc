/**
 * Aggregation across seeds and the leaderboard (JSON and Markdown) per environment and metric.
 *
 * Results are grouped by environment and agent label; each group must be one configuration
 * (the run config minus the seed): two configurations under one label are told apart by a short
 * hash suffix. Per group and metric: the per-seed values, their mean, the 95% t-interval of the
 * mean over seeds (the one interval the terminal table, leaderboard.md and the report show: with
 * 3 seeds a percentile bootstrap cannot be wider than their min-max, so it overstates certainty;
 * one seed has no interval), the IQM and the standard deviation.
 *
 * Reference rows (benchmarks/reference.ts) come in as a second list: their entries say
 * `reference: true` and never mix with the user's results (a label the user ran replaces the
 * reference row of that label). Each entry carries its degenerate-result flags
 * (results/degenerate.ts). Rows are sorted by the headline metric, target-specific IoI, best first.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, ProrecError } from '../core/errors.ts';
import { stableHash } from '../core/hash.ts';
import { flatMetrics, metricInfo, sortMetricNames, HEADLINE_METRICS } from './metrics.ts';
import type { ResultFile } from './schema.ts';
import { iqm, summarize } from './stats.ts';
import { CTR_FLOOR_AGENT, degenerateFlags } from './degenerate.ts';
import { rlSettingsText, settingFlags } from './operating-point.ts';
import { oneLine, renderTable, wrapText } from './table.ts';
import { PairSeparationSchema, separationMarkdown, separationOf, separationSummary } from './separation.ts';

/** 2: t-intervals (`interval` replaces `bootstrap`), reference rows, degenerate flags, rows sorted by the headline metric. */
export const LEADERBOARD_VERSION = 2;

/** The metric rows are sorted by (best first): target-specific IoI, which tells steering from flattening (raw IoI does not). */
export const HEADLINE_SORT = 'specificIoi';

export const MetricAggregateSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 0 }),
    values: Type.Array(Type.Number()),
    mean: Type.Number(),
    ci95: Type.Union([Type.Tuple([Type.Number(), Type.Number()]), Type.Null()], {
      description: '95% t-interval of the mean over seeds (mean ± tHalfWidth); null with fewer than two seeds',
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
    /** A reference row: read from OUT/reference/results (the package's reference set), not from the user's OUT/results. */
    reference: Type.Boolean(),
    /** Degenerate-result flags (results/degenerate.ts) and setting flags (results/operating-point.ts: weights or an RL learning rate far from the paper's): what the row's numbers mean, and where to read more. */
    flags: Type.Array(Type.Object({ rule: Type.String(), short: Type.String(), message: Type.String() }, { additionalProperties: false })),
    /** An RL row's training settings in one line (results/operating-point.ts `rlSettingsText`); null for other agents. */
    settings: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type LeaderboardEntry = Static<typeof LeaderboardEntrySchema>;

export const LeaderboardSchema = Type.Object(
  {
    version: Type.Literal(LEADERBOARD_VERSION),
    interval: Type.Object({ method: Type.Literal('t'), level: Type.Number(), unit: Type.Literal('seed') }),
    /** The metric rows are sorted by, best first. */
    headline: Type.String(),
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
        /** Every evaluator metric equals its reward-simulator twin (the evaluator is the simulator, e.g. synthetic-v0): tables omit the eval columns. */
        evaluatorRepeats: Type.Boolean(),
        /** Adjacent rows by specific IoI and by target percentile, separated or not across the simulators that scored them (results/separation.ts). */
        separation: Type.Array(PairSeparationSchema),
      }),
    ),
  },
  { additionalProperties: false },
);
export type Leaderboard = Static<typeof LeaderboardSchema>;

/** Hash of a result's run config without its seed: results of one configuration share it. */
export function variantOf(r: ResultFile): string {
  const { seed: _seed, ...rest } = r.run.config;
  return stableHash(rest).slice(0, 12);
}

export function aggregate(values: readonly number[], seedName: string): MetricAggregate {
  const s = summarize(values);
  // One seed has no interval (a zero-width one would read as certainty).
  const ci95: [number, number] | null = s.ci95 === null ? null : [s.mean - s.ci95, s.mean + s.ci95];
  const out = { n: values.length, values: [...values], mean: s.mean, ci95, iqm: iqm(values), std: s.std, tHalfWidth: s.ci95 };
  const bad = [out.mean, ...(ci95 ?? []), out.iqm, out.std ?? 0, out.tHalfWidth ?? 0].some((v) => !Number.isFinite(v));
  if (bad) throw new NonFiniteAggregateError(`${seedName}: the values (${values.join(', ')}) overflow when aggregated (mean ${out.mean}, std ${out.std})`);
  return out;
}

/** A metric whose values are not finite, or overflow when averaged: the leaderboard (and the report's plots) would show NaN or null. */
export class NonFiniteAggregateError extends ProrecError {
  readonly kind = 'input';
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

/**
 * The leaderboard of a folder's results, with `reference` rows beside them: a reference result is
 * kept only in an environment setting the results have, and only for labels they do not have.
 */
export function buildLeaderboard(results: readonly ResultFile[], opts: { reference?: readonly ResultFile[] } = {}): Leaderboard {
  const envs: Leaderboard['envs'] = [];
  const reference = new Set(keptReference(results, opts.reference ?? []));
  for (const g of groupResults([...results, ...reference])) {
    const labels = groupLabels(g);
    const entries: LeaderboardEntry[] = [];
    for (const [key, rs] of g.groups) {
      const first = rs[0];
      const label = labels.get(key)!;
      const seeds = rs.map((r) => r.seed);
      const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
      if (dup !== undefined) throw new ConfigError(`${g.name}/${label}: two results for seed ${dup}`);
      const flat = rs.map(flatMetrics);
      const names = sortMetricNames(flat.flatMap((f) => Object.keys(f)));
      const metrics: Record<string, MetricAggregate> = {};
      for (const name of names) {
        // null (e.g. coherence of paths too short to have one) is "no value"; a non-finite number is
        // an error, never dropped silently (result files are read through readResult, which refuses them).
        const values = flat.map((f) => f[name]).filter((v): v is number => v !== null && v !== undefined);
        const bad = values.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new NonFiniteAggregateError(`${g.name}/${label}/${name}: seed ${rs[bad].seed} has the non-finite value ${values[bad]}`);
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
        reference: reference.has(first),
        flags: [],
        settings: rlSettingsText(first),
      });
    }
    const first = g.groups.values().next().value![0];
    const maxLength = typeof first.env.config.maxLength === 'number' ? first.env.config.maxLength : null;
    const random = entries.find((e) => e.agent === CTR_FLOOR_AGENT && e.label === CTR_FLOOR_AGENT);
    const setting = new Map([...g.groups.values()].map((rs) => [variantOf(rs[0]), settingFlags(rs[0])]));
    for (const e of entries) e.flags = [...degenerateFlags(e, { maxLength, randomCtr: random?.metrics.ctr?.mean ?? null }), ...(setting.get(e.variant) ?? [])];
    entries.sort((a, b) => headlineOrder(a, b) || cmp(a.label, b.label));
    const rankings: Record<string, string[]> = {};
    for (const name of sortMetricNames(entries.flatMap((e) => Object.keys(e.metrics)))) {
      const dir = metricInfo(name).direction;
      if (dir === 0) continue;
      rankings[name] = entries
        .filter((e) => e.metrics[name])
        .sort((a, b) => dir * (b.metrics[name].mean - a.metrics[name].mean) || a.label.localeCompare(b.label))
        .map((e) => e.label);
    }
    envs.push({
      id: g.name,
      envId: g.envId,
      setting: g.setting,
      entries,
      rankings,
      warnings: comparabilityWarnings(entries),
      evaluatorRepeats: evaluatorRepeats(entries),
      separation: separationOf(entries),
    });
  }
  for (const w of agentCodeWarnings(results)) envs.find((e) => e.id === w.env || e.envId === w.env)?.warnings.push(w.text);
  return { version: LEADERBOARD_VERSION, interval: { method: 't', level: 0.95, unit: 'seed' }, headline: HEADLINE_SORT, envs };
}

/**
 * A plug-in agent whose rows in one folder come from different versions of its code (its
 * `run.config.agentCode`): e.g. edited and rerun on one environment only. Each environment whose
 * rows differ from the label's other rows gets a warning saying where the other version is.
 */
export function agentCodeWarnings(results: readonly ResultFile[]): { env: string; text: string }[] {
  const byLabel = new Map<string, Map<string, Set<string>>>();
  for (const r of results) {
    const code = r.run.config.agentCode;
    if (code === undefined) continue;
    const codes = byLabel.get(r.run.label) ?? new Map<string, Set<string>>();
    byLabel.set(r.run.label, codes);
    codes.set(code, (codes.get(code) ?? new Set<string>()).add(r.env.id));
  }
  const out: { env: string; text: string }[] = [];
  for (const [label, codes] of byLabel) {
    if (codes.size < 2) continue;
    for (const [code, envs] of codes)
      for (const env of envs) {
        const others = [...codes]
          .filter(([c]) => c !== code)
          .map(([c, es]) => `${[...es].join(', ')} (code ${c.slice(0, 8)})`)
          .join('; ');
        out.push({
          env,
          text: `${label}: these rows ran code ${code.slice(0, 8)}, its rows on ${others} ran another version of its code: rerun them with --force to compare one version`,
        });
      }
  }
  return out;
}

/**
 * The reference results shown beside `results`: those measured exactly as one of the results (the
 * run config without the agent: environment, world, split, seed, cases, batch, budget) by the same
 * package version, under labels the results do not have. A stale copy (another setting or version)
 * is never mixed in.
 */
export function keptReference(results: readonly ResultFile[], reference: readonly ResultFile[]): ResultFile[] {
  // Per result: its setting (hashed once) and what it measured under that setting.
  const keys = (r: ResultFile) => {
    const setting = settingOf(r);
    const { agentSpec: _s, agentConfig: _c, agentCode: _h, ...rest } = r.run.config;
    return { measured: stableHash({ setting, rest, code: [r.code.package, r.code.version] }), label: `${setting}\u0000${r.run.label}` };
  };
  const own = results.map(keys);
  const measured = new Set(own.map((k) => k.measured));
  const labels = new Set(own.map((k) => k.label));
  return reference.filter((r) => {
    const k = keys(r);
    return measured.has(k.measured) && !labels.has(k.label);
  });
}

/** Rows by the headline metric, best first; rows without it last. */
function headlineOrder(a: LeaderboardEntry, b: LeaderboardEntry): number {
  const x = a.metrics[HEADLINE_SORT]?.mean;
  const y = b.metrics[HEADLINE_SORT]?.mean;
  if (x === undefined || y === undefined) return (x === undefined ? 1 : 0) - (y === undefined ? 1 : 0);
  return y - x;
}

/** Whether every evaluator metric of every row equals its reward twin, seed by seed (no evaluator metrics: true). */
export function evaluatorRepeats(entries: readonly LeaderboardEntry[]): boolean {
  return entries.every((e) =>
    Object.entries(e.metrics)
      .filter(([m]) => m.startsWith('eval.'))
      .every(([m, a]) => {
        const twin = e.metrics[m.slice('eval.'.length)];
        return !!twin && twin.values.length === a.values.length && twin.values.every((v, i) => v === a.values[i]);
      }),
  );
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

/** An aggregate as a table cell: `mean ± half-width` (the 95% t-interval over seeds), `mean (n = 1)` with one seed. */
export function formatAggregate(a: MetricAggregate | undefined, digits: number, sep = ' ± '): string {
  if (!a) return '-';
  return a.tHalfWidth === null ? `${a.mean.toFixed(digits)} (n = ${a.n})` : `${a.mean.toFixed(digits)}${sep}${a.tHalfWidth.toFixed(digits)}`;
}

/** Text for Markdown: on one line (a line break would end a table row) with its markup characters escaped. */
export function mdEscape(s: string): string {
  return oneLine(s).replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`);
}

/** The row name in every table: the label, `(ref)` for a reference row, `(oracle)` for an agent that reads the reward simulator. */
export function rowName(e: LeaderboardEntry): string {
  return `${e.label}${e.reference ? ' (ref)' : ''}${e.usesSimulator ? ' (oracle)' : ''}`;
}

/** The metrics a table shows for an environment: the evaluator twins left out when they repeat the reward metrics. */
export function shownMetrics(env: Leaderboard['envs'][number], names: readonly string[]): string[] {
  return env.evaluatorRepeats ? names.filter((m) => !m.startsWith('eval.')) : [...names];
}

/** One line per flag message of the rows of an environment, `labels: message` (rows with the same message share a line). */
export function flagLines(env: Leaderboard['envs'][number]): string[] {
  const byMessage = new Map<string, string[]>();
  for (const e of env.entries) for (const f of e.flags) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), rowName(e)]);
  return [...byMessage].map(([message, rows]) => `${rows.join(', ')}: ${message}`);
}

export const INTERVAL_NOTE = 'mean ± 95% t-interval over seeds (n = 1: one seed, no interval)';

/** The headline metrics, target-specific IoI (the sort key) first. */
export const HEADLINE_ORDER = ['specificIoi', 'targetPercentile', ...HEADLINE_METRICS.filter((m) => m !== 'specificIoi' && m !== 'targetPercentile')];

/** The leaderboard as Markdown: per environment, the headline table, its flags and one table per further metric group. */
export function leaderboardMarkdown(lb: Leaderboard): string {
  const out: string[] = ['# Leaderboard', ''];
  out.push(
    `${INTERVAL_NOTE[0].toUpperCase()}${INTERVAL_NOTE.slice(1)}; IQM in the JSON. Rows sorted by target-specific IoI (IoI minus a random target's), best first. ` +
      'Bold: best mean per column. `eval.`: under the evaluator simulator (left out where it is the reward simulator). ' +
      '(oracle): reads the reward simulator while acting. (ref): a reference row of the package (its reference results for this suite and setting, ' +
      'in reference/results/), not a run of this folder. Flags: rows whose numbers mean something other than they seem.',
    '',
  );
  for (const env of lb.envs) {
    out.push(`## ${mdEscape(env.id)}`, '');
    for (const w of env.warnings) out.push(`> **Warning:** ${mdEscape(w)}`, '');
    if (env.evaluatorRepeats) out.push('The evaluator is the reward simulator here: the `eval.` metrics equal the others and are not repeated.', '');
    const all = shownMetrics(env, sortMetricNames(env.entries.flatMap((e) => Object.keys(e.metrics))));
    const headline = HEADLINE_ORDER.filter((m) => all.includes(m));
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
        const flag = e.flags.length ? ` ⚠ ${e.flags.map((f) => f.short).join(', ')}` : '';
        out.push(`| ${mdEscape(rowName(e) + flag)} | ${e.seeds.length} | ${cells.join(' | ')} |`);
      }
      out.push('');
      if (title === '') {
        const flags = flagLines(env);
        if (flags.length) out.push('**Flags:**', '', ...flags.map((l) => `- ${mdEscape(l)}`), '');
        const settings = env.entries.filter((e) => e.settings !== null);
        if (settings.length) out.push('**RL training settings:**', '', ...settings.map((e) => `- ${mdEscape(`${rowName(e)}: ${e.settings}`)}`), '');
      }
      if (title === 'Metrics@K') out.push(mdEscape(AT_K_NOTE), '');
    }
    out.push(...separationMarkdown(env.separation, (label) => rowName(env.entries.find((e) => e.label === label)!)));
  }
  return out.join('\n');
}

/** The terminal table's columns under the reward simulator, and under the evaluator where it is another model. */
export const TERMINAL_COLUMNS: [string, string][] = [
  ['specificIoi', 'specific IoI'],
  ['targetPercentile', 'percentile'],
  ['ioi', 'IoI'],
  ['ior', 'IoR'],
  ['ctr', 'CTR'],
  ['length', 'length'],
  ['success', 'success@10'],
];
const TERMINAL_EVAL_COLUMNS: [string, string][] = TERMINAL_COLUMNS.filter(([m]) => m !== 'length').map(([m, h]) => [`eval.${m}`, h]);

/**
 * The terminal table: per environment, the headline metrics under the reward simulator (rows by
 * target-specific IoI, best first; reference rows marked), the same under the evaluator when it is
 * another model, and one line per degenerate-result flag. About 120 columns.
 */
export function leaderboardTerminal(lb: Leaderboard): string {
  const parts: string[] = [];
  const cell = (e: LeaderboardEntry, m: string) => formatAggregate(e.metrics[m], metricInfo(m).digits, '±');
  const table = (env: Leaderboard['envs'][number], cols: [string, string][]) =>
    renderTable(
      ['agent', 'seeds', ...cols.map(([, h]) => h), 'flags'],
      env.entries.map((e) => [rowName(e), String(e.seeds.length), ...cols.map(([m]) => cell(e, m)), e.flags.map((f) => f.short).join(', ')]),
    );
  for (const env of lb.envs) {
    const evalShown = !env.evaluatorRepeats && env.entries.some((e) => TERMINAL_EVAL_COLUMNS.some(([m]) => e.metrics[m]));
    parts.push(
      `${env.id}: under the reward simulator${evalShown ? '' : env.entries.some((e) => e.metrics['eval.ioi']) ? ' (= the evaluator here)' : ''}; rows by specific IoI, best first\n`,
    );
    parts.push(table(env, TERMINAL_COLUMNS));
    if (evalShown) {
      parts.push(`${env.id}: under the evaluator simulator\n`);
      parts.push(table(env, TERMINAL_EVAL_COLUMNS));
    }
    for (const l of flagLines(env)) parts.push(`${wrapText(`! ${l}`, 118).replace(/\n/g, '\n    ')}\n`);
    for (const w of env.warnings) parts.push(`${wrapText(`warning (${env.id}): ${w}`, 118)}\n`);
    const separation = separationSummary(env.separation);
    if (separation) parts.push(`${wrapText(`${env.id}: ${separation}`, 118)}\n`);
    parts.push('\n');
  }
  const hasAtK = lb.envs.some((env) => env.entries.some((e) => Object.keys(e.metrics).some((m) => m.includes('@'))));
  return (
    parts.join('') +
    `${wrapText(
      `${INTERVAL_NOTE}; specific IoI = IoI minus a random target's; percentile = the target's among all items by IoI (0.5: blind to it); ` +
        '(ref) = reference row of the package (not run here; --no-reference hides them); (oracle) = reads the reward simulator',
      118,
    )}\n` +
    (hasAtK ? `${wrapText(AT_K_NOTE, 118)}\n` : '')
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
