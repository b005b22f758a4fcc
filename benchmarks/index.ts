/**
 * Public API of the benchmark harness (`prorec-gym/harness`): suites and their run matrix, running
 * one run or a whole plan (each run writes a schema-validated result file), reading result
 * folders, leaderboards. (The command lines are the `prorec-gym` binary's.)
 *
 * ```ts
 * const plan = await planRuns(loadSuite('smoke'), { agent: './my-agent.ts', seeds: [1] });
 * const report = await runPlan(plan.runs, { out: 'runs', code: codeVersion() });
 * console.log(leaderboardMarkdown(buildLeaderboard(report.results)));
 * ```
 */
export { canonicalJson, stableHash } from '../core/hash.ts';
export { hashRunConfig, rollOut, runOne, type RunPhase, type RunSpec } from './evaluate.ts';
export {
  buildLeaderboard,
  leaderboardMarkdown,
  leaderboardTerminal,
  LeaderboardEntrySchema,
  LeaderboardSchema,
  MetricAggregateSchema,
  type Leaderboard,
  type LeaderboardEntry,
  type MetricAggregate,
} from '../results/leaderboard.ts';
export { flatMetrics, HEADLINE_METRICS, metricInfo, type MetricInfo } from '../results/metrics.ts';
export { readResult, readResults } from '../results/read.ts';
export { executeRun, runPlan, type RunnerOptions, type RunnerReport, type RunOutcome } from './runner.ts';
export {
  listSuites,
  loadSuite,
  planRuns,
  PlanError,
  SuiteSchema,
  type LoadedSuite,
  type Plan,
  type PlannedRun,
  type PlanOverrides,
  type Suite,
} from './suite.ts';
export { codeVersion, type CodeVersion } from './version.ts';
