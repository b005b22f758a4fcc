/**
 * Reference results: the rows a single agent's run is compared against.
 *
 * For a suite with a reference set (`benchmarks/reference/SUITE.json`: agent entries, as in a
 * suite), the package ships the result files of those agents under the suite's default setting
 * (`benchmarks/reference/SUITE/results/*.json`, built by `npm run reference -- --update`, which is
 * `bench reference --update`). `bench` plans the reference agents with the same options as the
 * user's runs (environment, seeds, cases, budget...) and shows a reference row only when its
 * stored result has exactly the run config hash planned today and was computed by this package
 * version; otherwise it says which runs are stale or missing and prints the command that computes
 * them (`bench reference` with the same options, into OUT/reference/).
 *
 * Reference rows live in OUT/reference/results/, never in OUT/results/: the leaderboard, its
 * Markdown and the report read them from there and mark them `(ref)`; a label the user ran
 * themselves replaces the reference row of that label.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { writeJsonAtomic } from '../core/io.ts';
import { readJsonFile, validate } from '../core/validate.ts';
import { readResult } from '../results/read.ts';
import { REFERENCE_FOLDER } from '../results/reference.ts';
import type { ResultFile, RunConfig } from '../results/schema.ts';
import type { CodeVersion } from './version.ts';
import { planRuns, SuiteAgentSchema, type LoadedSuite, type Plan, type PlanOverrides, type PlannedRun } from './suite.ts';

/** The shipped reference sets and their result folders (copied into the package by scripts/build.mjs). */
export const REFERENCE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reference');

export const ReferenceSpecSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    suite: Type.String({ description: 'the suite whose setting (environments, seeds, cases, budget) the reference runs use' }),
    description: Type.String(),
    agents: Type.Array(SuiteAgentSchema, { minItems: 1, description: 'the reference agents, as suite agent entries' }),
  },
  { additionalProperties: false },
);
export type ReferenceSpec = Static<typeof ReferenceSpecSchema>;

/** The reference set of a suite, or null when the suite has none. */
export function loadReferenceSpec(suite: string): { spec: ReferenceSpec; file: string } | null {
  const file = path.join(REFERENCE_DIR, `${suite}.json`);
  if (!existsSync(file)) return null;
  const spec = validate(ReferenceSpecSchema, readJsonFile(file), file);
  return spec.suite === suite ? { spec, file } : null;
}

/** The suites that have a reference set. */
export function referenceSuites(): string[] {
  if (!existsSync(REFERENCE_DIR)) return [];
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .filter((s) => loadReferenceSpec(s) !== null)
    .sort();
}

/** The shipped result folder of a suite's reference set (holds results/*.json). */
export function shippedReferenceFolder(suite: string): string {
  return path.join(REFERENCE_DIR, suite);
}

/**
 * The reference runs of a suite under the given options (everything but the agent selection of
 * the user's command), or null when the suite has no reference set. `agent` may pick one
 * reference row (by label or agent name).
 */
export async function planReference(loaded: LoadedSuite, o: PlanOverrides, agent?: string): Promise<Plan | null> {
  const ref = loadReferenceSpec(loaded.suite.name);
  if (!ref) return null;
  const { agent: _a, agentConfig: _c, ...setting } = o;
  return planRuns({ suite: { ...loaded.suite, agents: ref.spec.agents }, source: loaded.source }, { ...setting, agent });
}

/** The top-level fields in which two run configs differ. */
export function configDiff(a: RunConfig, b: RunConfig): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])] as (keyof RunConfig)[];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Why a stored reference result cannot stand for a planned run, or null when it can. */
export function referenceMismatch(stored: ResultFile, run: PlannedRun, code: CodeVersion): string | null {
  if (stored.run.configHash !== run.configHash) {
    const fields = configDiff(stored.run.config, run.config);
    return `another run config (${fields.length ? fields.join(', ') : 'same fields, other hash'})`;
  }
  if (stored.code.package !== code.package || stored.code.version !== code.version)
    return `computed by ${stored.code.package} ${stored.code.version}, this is ${code.package} ${code.version}`;
  return null;
}

export interface ReferenceStatus {
  /** The reference results shown (one per planned run that has a matching stored result). */
  results: ResultFile[];
  /** Planned reference runs without a matching result: [run, why]. */
  unmatched: [PlannedRun, string][];
  /** Lines for the terminal: what is shown, what is not and the command that computes it. */
  lines: string[];
}

/**
 * Finds the reference results of the planned reference runs: OUT/reference/ first (computed there
 * by `bench reference`, or copied before), then the package's shipped folder. A shipped result
 * that matches is copied into OUT/reference/ so that the leaderboard and the report, which read
 * result folders only, find it. Runs whose label the user runs (`skipLabels`) are left out.
 */
export function collectReference(
  plan: Plan,
  o: { out: string; code: CodeVersion; skipLabels: ReadonlySet<string>; command: string; shipped?: string },
): ReferenceStatus {
  const local = path.join(o.out, REFERENCE_FOLDER);
  const shipped = o.shipped ?? shippedReferenceFolder(plan.suite);
  const results: ResultFile[] = [];
  const unmatched: [PlannedRun, string][] = [];
  for (const run of plan.runs) {
    if (o.skipLabels.has(run.label)) continue;
    let why = 'no stored result';
    let found: ResultFile | null = null;
    for (const dir of [local, shipped]) {
      const file = path.join(dir, run.file);
      if (!existsSync(file)) continue;
      let stored: ResultFile;
      try {
        stored = readResult(file);
      } catch (e) {
        // One reason for every file of a set (the file names are the runs'): the first problem, without the path.
        const detail =
          (e as Error).message
            .split('\n')
            .map((l) =>
              l
                .replace(file, '')
                .replace(/^[:\s]+/, '')
                .trim(),
            )
            .filter(Boolean)[1] ?? 'invalid';
        if (why === 'no stored result') why = `not readable by this code (${detail}; computed by another version?)`;
        continue;
      }
      const mismatch = referenceMismatch(stored, run, o.code);
      if (mismatch) {
        if (why === 'no stored result') why = mismatch; // the nearest copy's reason (OUT/reference before the package's)
        continue;
      }
      found = stored;
      if (dir !== local) writeJsonAtomic(path.join(local, run.file), stored);
      break;
    }
    if (found) results.push(found);
    else unmatched.push([run, why]);
  }
  const lines: string[] = [];
  const labels = (rs: readonly { label: string }[]) => [...new Set(rs.map((r) => r.label))].join(', ');
  if (results.length) {
    const commits = [...new Set(results.map((r) => r.code.commit?.slice(0, 10) ?? 'no commit'))].join(', ');
    lines.push(
      `reference rows (ref): ${labels(results.map((r) => r.run))} (suite ${plan.suite}, budget ${plan.budget}; ${results.length} result files, ` +
        `${results[0].code.package} ${results[0].code.version}, commit ${commits}; in ${local})`,
    );
  }
  if (unmatched.length) {
    const reasons = [...new Set(unmatched.map(([, w]) => w))];
    lines.push(
      `${unmatched.length} reference run${unmatched.length === 1 ? '' : 's'} not shown (${labels(unmatched.map(([r]) => r))}): ` +
        `${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? '; ...' : ''}. Compute them for this setting: ${o.command}`,
    );
  }
  return { results, unmatched, lines };
}

/**
 * After `bench reference --update`: removes result files of the folder that the plan does not
 * name (an agent left the reference set), so the shipped folder holds the plan's files only.
 */
export function pruneReferenceFolder(folder: string, plan: Plan): string[] {
  const dir = path.join(folder, 'results');
  if (!existsSync(dir)) return [];
  const keep = new Set(plan.runs.map((r) => path.basename(r.file)));
  const removed = readdirSync(dir).filter((f) => f.endsWith('.json') && !keep.has(f));
  for (const f of removed) rmSync(path.join(dir, f));
  return removed;
}
