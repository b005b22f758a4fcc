/**
 * The metrics of a result file as one flat table of named numbers, with what a reader needs to
 * compare them: which direction is better, how to print them. Leaderboards, the regression gate and
 * reports all read metrics through `flatMetrics`, so a metric added here shows up everywhere.
 *
 * Names: `ioi`, `ior`, `ctr`, ... under the reward simulator; `eval.ioi`, ... under the evaluator;
 * `ioi@5.max`, `eval.ioi@5.mean`, ... metrics@K (docs/design.md §3.6); `evalx.<id>.specificIoi`, ... under
 * the extra evaluator `<id>` (world option extraEvaluators; docs/evaluators.md).
 */
import type { ResultFile } from './schema.ts';

export interface MetricInfo {
  /** +1: higher is better; -1: lower is better; 0: neither (descriptive, never gated). */
  direction: 1 | -1 | 0;
  digits: number;
  /** A short description for tables and reports. */
  label: string;
}

const BASE: Record<string, MetricInfo> = {
  ioi: { direction: 1, digits: 3, label: 'IoI: increase of log p(target), path total' },
  specificIoi: { direction: 1, digits: 3, label: 'target-specific IoI: IoI minus the IoI a uniformly random target would have got' },
  targetPercentile: { direction: 1, digits: 3, label: "target percentile: share of other items whose IoI is below the target's (0.5: blind to the target)" },
  genericIoi: { direction: 0, digits: 3, label: 'generic IoI: the IoI of a uniformly random target (items outside history and path)' },
  ior: { direction: 1, digits: 1, label: 'IoR: increase of the target rank, path total' },
  ctr: { direction: 1, digits: 3, label: 'CTR: mean acceptance probability of the path items' },
  coherence: { direction: 1, digits: 3, label: 'coherence: adjacent pairs sharing an attribute' },
  length: { direction: 0, digits: 2, label: 'path length' },
  duplicateRate: { direction: -1, digits: 3, label: 'path items already in the history' },
  success: { direction: 1, digits: 3, label: 'success: target in the top-k after the path' },
  return: { direction: 1, digits: 3, label: 'return: sum of the fused rewards' },
  stopRate: { direction: 0, digits: 3, label: "episodes ended by the agent's STOP" },
  maxLengthRate: { direction: 0, digits: 3, label: 'episodes that reached L_max (truncated)' },
  leftRate: { direction: -1, digits: 3, label: 'episodes the user left (patience exhausted)' },
  invalidRate: { direction: -1, digits: 3, label: 'invalid actions per action' },
};

/** Metadata of a flat metric name (unknown names: descriptive, 3 digits). */
export function metricInfo(name: string): MetricInfo {
  const m = /^(eval\.|evalx\.([A-Za-z0-9_-]+)\.)?([A-Za-z]+)(?:@(\d+)\.(max|mean))?$/.exec(name);
  if (!m) return { direction: 0, digits: 3, label: name };
  const base = BASE[m[3]];
  if (!base) return { direction: 0, digits: 3, label: name };
  const where = m[2] !== undefined ? ` (extra evaluator ${m[2]})` : m[1] ? ' (evaluator)' : '';
  const atK = m[4] ? ` @${m[4]} (${m[5]} over candidates)` : '';
  return { ...base, label: `${base.label}${atK}${where}` };
}

/** The metrics the main tables show, in order. */
export const HEADLINE_METRICS = [
  'ioi',
  'specificIoi',
  'targetPercentile',
  'ior',
  'ctr',
  'coherence',
  'length',
  'success',
  'return',
  'eval.ioi',
  'eval.specificIoi',
  'eval.targetPercentile',
  'eval.ior',
  'eval.ctr',
  'eval.success',
] as const;

/** Every metric of a result file by flat name (null where undefined, e.g. coherence of empty paths). */
export function flatMetrics(r: ResultFile): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(r.metrics)) out[k] = v;
  if (r.evaluatorMetrics) for (const [k, v] of Object.entries(r.evaluatorMetrics)) out[`eval.${k}`] = v;
  for (const x of r.extraEvaluatorMetrics ?? []) for (const [k, v] of Object.entries(x.metrics)) out[`evalx.${x.id}.${k}`] = v;
  for (const row of r.atK?.results ?? []) {
    for (const agg of ['max', 'mean'] as const) {
      for (const [k, v] of Object.entries(row[agg])) out[`${k}@${row.k}.${agg}`] = v;
      if (row.evaluator) for (const [k, v] of Object.entries(row.evaluator[agg])) out[`eval.${k}@${row.k}.${agg}`] = v;
    }
  }
  return out;
}

/** A metric name order for tables: headline metrics first, then the rest in a stable order. */
export function sortMetricNames(names: Iterable<string>): string[] {
  const head = HEADLINE_METRICS as readonly string[];
  return [...new Set(names)].sort((a, b) => {
    const ia = head.indexOf(a);
    const ib = head.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
    return a.localeCompare(b, 'en', { numeric: true });
  });
}
