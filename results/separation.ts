/**
 * Which claims of a leaderboard survive: for the headline metrics (target-specific IoI and the
 * target percentile), each pair of adjacent rows, ordered by the metric under the reward simulator,
 * is "separated" only when every simulator that scored both rows puts them in that order and, under
 * every one of them, the two rows' 95% t-intervals over seeds do not overlap. The simulators are
 * the reward simulator (metric `m`), the evaluator (`eval.m`) and each extra evaluator
 * (`evalx.<id>.m`, world option extraEvaluators; docs/evaluators.md).
 *
 * Disjoint 95% intervals are a conservative test (two means can differ significantly with
 * overlapping intervals), so "not separated" says the data do not back the order, not that the
 * agents are equal. A row with one seed has no interval: its pairs are never separated.
 * Pure functions of leaderboard rows; results/leaderboard.ts records them and prints them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { metricInfo } from './metrics.ts';
import { oneLine } from './table.ts';

/** The metrics whose adjacent pairs are checked, in order. */
export const SEPARATION_METRICS = ['specificIoi', 'targetPercentile'] as const;

export const PairSeparationSchema = Type.Object(
  {
    metric: Type.String({ description: 'the metric the pair is ordered by (its name under the reward simulator)' }),
    upper: Type.String({ description: 'the row ranked higher by the metric under the reward simulator' }),
    lower: Type.String({ description: 'the row ranked right below it' }),
    separated: Type.Boolean({ description: 'every simulator keeps the order and no 95% t-interval of the two rows overlaps' }),
    simulators: Type.Array(Type.String(), {
      description: 'the simulators that scored both rows: reward, eval (the evaluator), evalx.<id> (an extra evaluator)',
    }),
    flips: Type.Array(Type.String(), { description: 'simulators under which the upper row is not above the lower one (reversed or tied)' }),
    overlaps: Type.Array(Type.String(), {
      description: "simulators under which the rows' 95% t-intervals over seeds overlap (or a row has no interval: one seed)",
    }),
    oneSeed: Type.Boolean({ description: 'a row has a single seed, so no interval: the pair cannot be separated' }),
  },
  { additionalProperties: false },
);
export type PairSeparation = Static<typeof PairSeparationSchema>;

/** What separation reads of a leaderboard row (LeaderboardEntry has it). */
export interface SeparationRow {
  readonly label: string;
  readonly metrics: Readonly<Record<string, { readonly mean: number; readonly ci95: readonly [number, number] | null } | undefined>>;
}

/** A simulator and the prefix of its metric names. */
interface Scorer {
  name: string;
  prefix: string;
}

/** The simulators that scored `metric` in any row: reward first, then the evaluator, then the extra evaluators by id. */
export function scorersOf(rows: readonly SeparationRow[], metric: string): { name: string; prefix: string }[] {
  const out: Scorer[] = [];
  const names = new Set(rows.flatMap((r) => Object.keys(r.metrics).filter((k) => r.metrics[k] !== undefined)));
  if (names.has(metric)) out.push({ name: 'reward', prefix: '' });
  if (names.has(`eval.${metric}`)) out.push({ name: 'eval', prefix: 'eval.' });
  const extra = new Set<string>();
  for (const n of names) {
    const m = /^evalx\.([A-Za-z0-9_-]+)\.(.+)$/.exec(n);
    if (m && m[2] === metric) extra.add(m[1]);
  }
  for (const id of [...extra].sort()) out.push({ name: `evalx.${id}`, prefix: `evalx.${id}.` });
  return out;
}

/** Whether two closed intervals share a point. */
export function intervalsOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/**
 * The adjacent pairs of `rows` by `metric` under the reward simulator (best first by its
 * direction; ties by label), each with the simulators that reverse or tie it and those under which
 * the intervals overlap. Rows without the metric under the reward simulator are left out.
 */
export function separationFor(rows: readonly SeparationRow[], metric: string): PairSeparation[] {
  const dir = metricInfo(metric).direction || 1;
  const ranked = rows
    .filter((r) => r.metrics[metric] !== undefined)
    .sort((a, b) => dir * (b.metrics[metric]!.mean - a.metrics[metric]!.mean) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  const scorers = scorersOf(ranked, metric);
  const out: PairSeparation[] = [];
  for (let i = 0; i + 1 < ranked.length; i++) {
    const [a, b] = [ranked[i], ranked[i + 1]];
    const simulators: string[] = [];
    const flips: string[] = [];
    const overlaps: string[] = [];
    let oneSeed = false;
    for (const s of scorers) {
      const x = a.metrics[s.prefix + metric];
      const y = b.metrics[s.prefix + metric];
      if (x === undefined || y === undefined) continue;
      simulators.push(s.name);
      if (!(dir * (x.mean - y.mean) > 0)) flips.push(s.name);
      if (x.ci95 === null || y.ci95 === null) {
        oneSeed = true;
        overlaps.push(s.name);
      } else if (intervalsOverlap(x.ci95, y.ci95)) overlaps.push(s.name);
    }
    out.push({ metric, upper: a.label, lower: b.label, separated: flips.length === 0 && overlaps.length === 0, simulators, flips, overlaps, oneSeed });
  }
  return out;
}

/** `separationFor` of every separation metric, in SEPARATION_METRICS order. */
export function separationOf(rows: readonly SeparationRow[]): PairSeparation[] {
  return SEPARATION_METRICS.flatMap((m) => separationFor(rows, m));
}

/** Why a pair is not separated, in words ('' when it is). */
export function separationReason(p: PairSeparation): string {
  const parts: string[] = [];
  if (p.flips.length) parts.push(`order reversed or tied under ${p.flips.join(', ')}`);
  if (p.oneSeed) parts.push('one seed: no interval');
  else if (p.overlaps.length) parts.push(`95% intervals overlap under ${p.overlaps.join(', ')}`);
  return parts.join('; ');
}

/** One line for the terminal: how many adjacent pairs are not separated, and where they are listed (null without pairs). */
export function separationSummary(pairs: readonly PairSeparation[]): string | null {
  if (pairs.length === 0) return null;
  const not = pairs.filter((p) => !p.separated).length;
  const sims = [...new Set(pairs.flatMap((p) => p.simulators))].join(', ');
  return (
    `separation: ${not} of ${pairs.length} adjacent pairs by specific IoI and by percentile are not separated ` +
    `(order reversed or tied, or 95% intervals overlapping, under ${sims}); leaderboard.md lists them (docs/evaluators.md)`
  );
}

const ESCAPE = (s: string) => oneLine(s).replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`);

/**
 * The Markdown section of an environment's pairs: one table row per adjacent pair (nothing when
 * there is no pair). `name` gives a row's display name (the leaderboard's row name).
 */
export function separationMarkdown(pairs: readonly PairSeparation[], name: (label: string) => string = (l) => l): string[] {
  if (pairs.length === 0) return [];
  const out = [
    '### Separation',
    '',
    'Adjacent rows by target-specific IoI and by target percentile under the reward simulator. **not separated**: a simulator that scored both ' +
      '(reward, `eval` the evaluator, `evalx.<id>` an extra evaluator) reverses or ties them, or their 95% t-intervals over seeds overlap under one of them (docs/evaluators.md).',
    '',
    '| metric | rows | verdict | simulators | why |',
    '|---|---|---|---|---|',
  ];
  for (const p of pairs) {
    const verdict = p.separated ? 'separated' : '**not separated**';
    out.push(
      `| ${ESCAPE(p.metric)} | ${ESCAPE(name(p.upper))} > ${ESCAPE(name(p.lower))} | ${verdict} | ${ESCAPE(p.simulators.join(', '))} | ${ESCAPE(separationReason(p) || '-')} |`,
    );
  }
  out.push('');
  return out;
}
