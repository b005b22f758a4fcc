/**
 * Degenerate results: rows whose headline numbers mean something other than they seem. One rule
 * set, used by the terminal table, leaderboard.md and the report alike; each flag is one line that
 * says what it means and where to read more. Thresholds are named here with their reason.
 *
 * The rules read a row's aggregates over seeds (mean and the 95% t-interval over seeds, the
 * interval every table shows) and, for the CTR rule, the `random` row of the same environment.
 */

/** Mean items per path at or below which the agent stops after about one recommendation: its IoI is one step's gain, not a path's. */
export const SHORT_PATH_MAX = 1.5;
/** Mean path length within this of L_max: every path runs to L_max (the agent never chooses to stop). */
export const FULL_PATH_TOLERANCE = 1e-9;
/** The target percentile of a path blind to its target (every item's IoI ranks alike). */
export const BLIND_PERCENTILE = 0.5;
/** The agent whose CTR is the floor: a row that users accept less often than random items. */
export const CTR_FLOOR_AGENT = 'random';

export type DegenerateRule = 'short-paths' | 'full-paths' | 'blind-to-target' | 'ctr-below-random';

export interface DegenerateFlag {
  rule: DegenerateRule;
  /** A few words for a table cell. */
  short: string;
  /** One line: what it means and where to read more. */
  message: string;
}

/** The part of an aggregate the rules read. */
export interface RowStat {
  mean: number;
  n: number;
  /** Half-width of the 95% t-interval over seeds; null with one seed. */
  tHalfWidth: number | null;
}

export interface RowInput {
  label: string;
  agent: string;
  metrics: Readonly<Record<string, RowStat | undefined>>;
}

/** The flags of one row; `maxLength` is the environment's L_max, `randomCtr` the mean CTR of its random row (if any). */
export function degenerateFlags(row: RowInput, env: { maxLength: number | null; randomCtr: number | null }): DegenerateFlag[] {
  const flags: DegenerateFlag[] = [];
  const len = row.metrics.length;
  if (len && len.mean <= SHORT_PATH_MAX) {
    flags.push({
      rule: 'short-paths',
      short: 'short paths',
      message:
        `paths are ${len.mean.toFixed(2)} items long on average (≤ ${SHORT_PATH_MAX}): the agent stops after ${len.mean < 1 ? 'one recommendation or none' : 'about one recommendation'}, ` +
        'so its IoI and CTR are those of a single step at most, not of steering; see docs/agents.md "Which centring to use" (docs/design.md §4.12)',
    });
  }
  if (len && env.maxLength !== null && len.mean >= env.maxLength - FULL_PATH_TOLERANCE) {
    flags.push({
      rule: 'full-paths',
      short: `always ${env.maxLength}`,
      message:
        `every path is L_max = ${env.maxLength} items long: the agent never stops, so its IoI and IoR grow with L_max ` +
        'rather than with its choices; compare it with rows of the same length; see docs/agents.md "The agents"',
    });
  }
  const p = row.metrics.targetPercentile;
  if (p && p.tHalfWidth !== null && Math.abs(p.mean - BLIND_PERCENTILE) <= p.tHalfWidth) {
    flags.push({
      rule: 'blind-to-target',
      short: 'blind',
      message:
        `target percentile ${p.mean.toFixed(3)} ± ${p.tHalfWidth.toFixed(3)} includes ${BLIND_PERCENTILE}: the paths are not measurably toward ` +
        'their targets (their IoI flattens the user, any target would gain as much); see docs/benchmarking.md "Is the IoI toward the target?"',
    });
  }
  const ctr = row.metrics.ctr;
  if (ctr && env.randomCtr !== null && row.agent !== CTR_FLOOR_AGENT && ctr.mean < env.randomCtr) {
    flags.push({
      rule: 'ctr-below-random',
      short: 'CTR < random',
      message:
        `CTR ${ctr.mean.toFixed(3)} is below random's ${env.randomCtr.toFixed(3)}: users accept its recommendations less often than random items, ` +
        'so its gains rest on items a real user would likely refuse; see docs/benchmarking.md "Reference rows and flags"',
    });
  }
  return flags;
}
