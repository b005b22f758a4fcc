/**
 * Benchmark suites: JSON files naming environments, agents (with their configs), seeds, budgets and
 * reward weights. A suite expands into a run matrix: one run per (environment, agent entry, seed),
 * in that nesting order, each identified by the hash of its RunConfig.
 *
 * Validation has two levels, so that a suite naming environments or agents that have not landed yet
 * can still be checked:
 * - `loadSuite` checks the file's structure (ajv) and its internal references (the default budget
 *   exists, labels are unique, per-environment overrides name environments of the suite);
 * - `planRuns` resolves it against the registries: unknown environments or agents fail with the
 *   known list, agent configs are checked against the agent's schema, world options against the
 *   environment's, environment configs against the environment config schema.
 * Errors name the file and the field.
 */
import { ProrecError } from '../core/errors.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { looksLikePath, resolveAgent } from '../agents/registry.ts';
import { moduleCode, normalizeModuleSpec } from '../agents/module-code.ts';
import { processAgentSpec } from '../agents/process/agent.ts';
import { EnvConfigSchema, resolveEnvConfig } from '../envs/proactive.ts';
import { envSpec, resolveEnvConfigOf, resolveWorldOptions } from '../envs/registry.ts';
import { deepMerge, Overrides, StringEnum, readJsonFile, ValidationError, validate } from '../core/validate.ts';
import { stableHash } from '../core/hash.ts';
import { hashRunConfig } from './evaluate.ts';
import { RESULT_SCHEMA_VERSION, type RunConfig } from '../results/schema.ts';

export const SUITES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'suites');

const WeightsSchema = Type.Object(
  { ioi: Type.Number(), ior: Type.Number(), ctr: Type.Number() },
  { additionalProperties: false, description: 'reward weights w_ioi, w_ior, w_ctr (docs/design.md §2.3)' },
);

/** The environment config a suite may set (weights and split have their own fields). */
const SuiteEnvConfigSchema = Overrides(Type.Omit(EnvConfigSchema, ['weights', 'split']));

export const BudgetSchema = Type.Object(
  {
    episodes: Type.Integer({ minimum: 0, description: 'evaluation cases per seed; 0 = every case of the split' }),
    seeds: Type.Optional(Type.Array(Type.Integer(), { minItems: 1, uniqueItems: true, description: 'overrides the suite seeds' })),
    trainEpochs: Type.Optional(Type.Integer({ minimum: 0, description: 'training epochs for agents that train (budgets count work, never wall-clock time)' })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, description: 'episodes stepped together (default 256)' })),
    ks: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { uniqueItems: true, description: 'K of metrics@K (default [1, 5, 10])' })),
    examples: Type.Optional(Type.Integer({ minimum: 0, description: 'cases recorded in full, with item titles, for reports (default 5)' })),
  },
  { additionalProperties: false },
);
export type Budget = Static<typeof BudgetSchema>;

export const SuiteEnvSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    config: Type.Optional(SuiteEnvConfigSchema),
    world: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "the environment's world options" })),
    weights: Type.Optional(
      Type.Object(WeightsSchema.properties, {
        additionalProperties: false,
        description:
          "this environment's reward weights: the only way to replace an environment's own weights (the real environments': their paper's); rows trained so are flagged",
      }),
    ),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const SuiteAgentSchema = Type.Object(
  {
    agent: Type.String({ minLength: 1, description: 'a registered agent name or a module path (relative to the suite file)' }),
    label: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+$', description: 'name in tables and result files (default: the agent name)' })),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Config overrides per environment id (merged over `config`, objects merged key by key). */
    perEnv: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
    /** Only these environments of the suite (default: all). */
    envs: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const SuiteSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    name: Type.String({ pattern: '^[A-Za-z0-9._-]+$' }),
    description: Type.String(),
    seeds: Type.Array(Type.Integer(), { minItems: 1, uniqueItems: true }),
    split: Type.Optional(StringEnum(['test', 'valid'] as const)),
    /** The budget used unless --budget names another. */
    budget: Type.String(),
    budgets: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), BudgetSchema),
    weights: Type.Optional(
      Type.Object(WeightsSchema.properties, {
        additionalProperties: false,
        description:
          "reward weights of the environments that declare none (an environment's own weights, e.g. Steam's CTR 0.1, are kept unless its entry sets `weights`)",
      }),
    ),
    envs: Type.Array(SuiteEnvSchema, { minItems: 1 }),
    agents: Type.Array(SuiteAgentSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type Suite = Static<typeof SuiteSchema>;
export type SuiteAgent = Static<typeof SuiteAgentSchema>;
export type SuiteEnv = Static<typeof SuiteEnvSchema>;

export interface LoadedSuite {
  suite: Suite;
  /** The file it came from (or a description of where it came from). */
  source: string;
}

/** Whether a suite argument is a path to a suite file (else a suite name, a file in benchmarks/suites/). */
export function isSuiteFile(nameOrPath: string): boolean {
  return /[\\/]/.test(nameOrPath) || nameOrPath.endsWith('.json');
}

/** A suite name (a file in benchmarks/suites/) or a path to a suite file. */
export function suitePath(nameOrPath: string): string {
  if (isSuiteFile(nameOrPath)) return path.resolve(nameOrPath);
  return path.join(SUITES_DIR, `${nameOrPath}.json`);
}

/** The suites shipped in benchmarks/suites/. */
export function listSuites(): string[] {
  return readdirSync(SUITES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Reads and structurally validates a suite file. */
export function loadSuite(nameOrPath: string): LoadedSuite {
  const file = suitePath(nameOrPath);
  if (!existsSync(file)) throw new ValidationError(file, [`no such suite file (suites: ${listSuites().join(', ')}, or a path to a .json file)`]);
  const raw = readJsonFile(file);
  return { suite: checkSuite(raw, file), source: file };
}

/** Structural validation and internal references of a suite value. */
export function checkSuite(raw: unknown, source: string): Suite {
  const suite = validate(SuiteSchema, raw, source);
  const problems: string[] = [];
  if (!(suite.budget in suite.budgets)) problems.push(`budget: '${suite.budget}' is not one of budgets (${Object.keys(suite.budgets).join(', ')})`);
  const envIds = suite.envs.map((e) => e.id);
  envIds.forEach((id, i) => {
    if (envIds.indexOf(id) !== i) problems.push(`envs.${i}.id: '${id}' appears twice`);
  });
  const labels = new Map<string, number>();
  suite.agents.forEach((a, i) => {
    const label = defaultLabel(a);
    if (labels.has(label)) problems.push(`agents.${i}: label '${label}' is also agents.${labels.get(label)}'s; give one a distinct "label"`);
    labels.set(label, i);
    for (const id of a.envs ?? [])
      if (!envIds.includes(id)) problems.push(`agents.${i}.envs: '${id}' is not an environment of this suite (${envIds.join(', ')})`);
    for (const id of Object.keys(a.perEnv ?? {}))
      if (!envIds.includes(id)) problems.push(`agents.${i}.perEnv: '${id}' is not an environment of this suite (${envIds.join(', ')})`);
  });
  if (problems.length) throw new ValidationError(source, problems);
  return suite;
}

/** The first argument of an `exec:` command line that is an existing file (against `base`), or null. */
function execScriptOf(spec: string, base: string): string | null {
  const { args } = processAgentSpec(spec, base);
  for (const w of args) {
    const f = path.resolve(base, w);
    if (/\.[A-Za-z0-9]+$/.test(w) && existsSync(f) && statSync(f).isFile()) return f;
  }
  return null;
}

function defaultLabel(a: SuiteAgent): string {
  if (a.label) return a.label;
  // An agent process's command line: the name its process is known by (its script's, or the command's).
  if (a.agent.startsWith('exec:')) return processAgentSpec(a.agent).name.replace(/[^A-Za-z0-9._-]/g, '-');
  return looksLikePath(a.agent) ? path.basename(a.agent).replace(/\.[^.]+$/, '') : a.agent;
}

export interface PlanOverrides {
  budget?: string;
  /** Keep only the entry with this label, else the entries of this agent (name or path), else add it. */
  agent?: string;
  /** Replaces the config of the selected agent entries. */
  agentConfig?: Record<string, unknown>;
  /** Keep only this environment, or add it when the suite lacks it. */
  env?: string;
  /** Merged over the selected environments' config (may include `weights`). */
  envConfig?: Record<string, unknown>;
  /** Merged over the selected environments' world options. */
  world?: Record<string, unknown>;
  /** The data folder of the environments that read data files (their `dataDir` world option). */
  dataDir?: string;
  seeds?: number[];
  episodes?: number;
  split?: 'test' | 'valid';
  batchSize?: number;
  trainEpochs?: number;
  ks?: number[];
  /** The directory plug-in agent paths given on the command line are relative to. */
  cwd?: string;
}

export interface PlannedRun {
  /** Position in the full (unsharded) matrix. */
  index: number;
  label: string;
  suite: string;
  budget: string;
  config: RunConfig;
  configHash: string;
  /** What to resolve the agent from: a registered name or an absolute module path. */
  agentModule: string;
  /** The result file, relative to the output folder. */
  file: string;
}

export interface Plan {
  suite: string;
  budget: string;
  runs: PlannedRun[];
  /** A hash of the whole matrix's run hashes: shards of one matrix share it. */
  matrixHash: string;
}

export const DEFAULT_KS = [1, 5, 10];
export const DEFAULT_BATCH_SIZE = 256;
export const DEFAULT_EXAMPLES = 5;

/** The result file of a run, relative to the output folder. */
export function resultFile(envId: string, label: string, seed: number): string {
  return path.join('results', `${envId}__${label.replace(/[^A-Za-z0-9._-]+/g, '_')}__seed${seed}.json`);
}

/** Resolves a loaded suite against the registries and expands it into the run matrix. */
export async function planRuns(loaded: LoadedSuite, o: PlanOverrides = {}): Promise<Plan> {
  const { suite, source } = loaded;
  const budgetName = o.budget ?? suite.budget;
  const budget = suite.budgets[budgetName];
  if (!budget) throw new PlanError(`${source}: no budget '${budgetName}'; budgets: ${Object.keys(suite.budgets).join(', ')}`);
  const suiteDir = path.dirname(source);
  const cwd = o.cwd ?? process.cwd();

  // Environments: the suite's, or the one asked for.
  let envs: { entry: SuiteEnv; where: string }[] = suite.envs.map((entry, i) => ({ entry, where: `envs.${i}` }));
  if (o.env !== undefined) {
    const kept = envs.filter((e) => e.entry.id === o.env);
    envs = kept.length ? kept : [{ entry: { id: o.env }, where: '--env' }];
  }
  // Agents: the suite's, or the one asked for.
  let agents: { entry: SuiteAgent; where: string; base: string }[] = suite.agents.map((entry, i) => ({ entry, where: `agents.${i}`, base: suiteDir }));
  if (o.agent !== undefined) {
    const want = o.agent;
    // The entry labelled so, else every entry of that agent, else a new entry.
    const byLabel = agents.filter((a) => defaultLabel(a.entry) === want);
    const kept = byLabel.length ? byLabel : agents.filter((a) => a.entry.agent === want);
    agents = kept.length ? kept : [{ entry: { agent: want }, where: '--agent', base: cwd }];
    if (o.agentConfig) agents = agents.map((a) => ({ ...a, entry: { ...a.entry, config: o.agentConfig }, where: '--agent-config' }));
  }

  const seeds = o.seeds ?? budget.seeds ?? suite.seeds;
  const split = o.split ?? suite.split ?? 'test';
  const episodes = o.episodes ?? budget.episodes;
  const batchSize = o.batchSize ?? budget.batchSize ?? DEFAULT_BATCH_SIZE;
  const ks = o.ks ?? budget.ks ?? DEFAULT_KS;

  // Options given on the command line are checked on their own first, so that their errors name the
  // option rather than the suite file.
  if (o.envConfig) resolveEnvConfig(o.envConfig, '--env-config');
  if (o.dataDir !== undefined && !envs.some(({ entry }) => acceptsDataDir(entry.id))) {
    throw new PlanError(`--data-dir: none of the environments (${envs.map((e) => e.entry.id).join(', ')}) reads data files`);
  }
  if (o.dataDir !== undefined) {
    const dir = path.resolve(cwd, o.dataDir);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new PlanError(`--data-dir ${o.dataDir}: no such folder (${dir})`);
  }

  // Resolve every environment and agent before planning: unknown names fail here, before any work.
  const resolvedEnvs = envs.map(({ entry, where }) => {
    envSpec(entry.id); // UnknownEnvError lists the known environments
    const from = where.startsWith('--') ? where : `${source}: ${where}`;
    const dataDir = o.dataDir !== undefined && acceptsDataDir(entry.id) ? { dataDir: path.resolve(cwd, o.dataDir) } : {};
    const cliWorld = o.env === undefined || o.env === entry.id ? { ...(o.world ?? {}), ...dataDir } : Object.keys(dataDir).length ? dataDir : undefined;
    if (cliWorld) resolveWorldOptions(entry.id, cliWorld, `--world (for ${entry.id})`);
    // The complete world options (every default filled): what the builder uses and the run records.
    const world = resolveWorldOptions(entry.id, deepMerge(entry.world ?? {}, cliWorld ?? {}), `${from}.world${cliWorld ? ' with --world' : ''}`);
    // Reward weights: the suite's are defaults for environments that declare none; an environment's
    // own weights (the real ones': their paper's, e.g. Steam's CTR 0.1) are replaced only by its
    // entry's explicit `weights` (and such rows are flagged: results/operating-point.ts).
    const own = envSpec(entry.id).defaults?.weights;
    const weights = deepMerge(own ? {} : (suite.weights ?? {}), entry.weights ?? {});
    const config = resolveEnvConfigOf(
      entry.id,
      deepMerge({ ...(entry.config ?? {}), weights }, o.envConfig ?? {}),
      `${from}.config${o.envConfig ? ' with --env-config' : ''}`,
    );
    return { id: entry.id, world, config: { ...config } as Record<string, unknown> };
  });
  const resolvedAgents = [];
  // A module named by several entries is bundled and hashed once.
  const codeOf = new Map<string, Promise<string>>();
  for (const { entry, where, base } of agents) {
    const isModule = looksLikePath(entry.agent);
    const module = isModule ? path.resolve(base, entry.agent) : entry.agent;
    const factory = await resolveAgent(module); // UnknownAgentError lists the known agents
    // A plug-in's identity: one spelling of its path, and the hash of its code and local imports
    // (editing the agent or a helper reruns its runs; nothing else does).
    const spec = isModule ? normalizeModuleSpec(entry.agent, base) : entry.agent;
    if (isModule && !codeOf.has(module))
      codeOf.set(
        module,
        moduleCode(module).then((c) => c.hash),
      );
    // An agent process's command line (`exec:CMD ARGS`): its identity covers the code of the first
    // file its arguments name (a script: its folder's .py files, or a module and its imports).
    const execScript = entry.agent.startsWith('exec:') ? execScriptOf(entry.agent, base) : null;
    if (execScript && !codeOf.has(execScript))
      codeOf.set(
        execScript,
        moduleCode(execScript).then((c) => c.hash),
      );
    const code = isModule ? await codeOf.get(module) : execScript ? await codeOf.get(execScript) : undefined;
    const from = where.startsWith('--') ? where : `${source}: ${where}`;
    const label = entry.label ?? (isModule || entry.agent.startsWith('exec:') ? factory.name : entry.agent);
    resolvedAgents.push({ entry, module, spec, code, factory, label, from });
  }

  const runs: PlannedRun[] = [];
  for (const env of resolvedEnvs) {
    for (const a of resolvedAgents) {
      if (a.entry.envs && !a.entry.envs.includes(env.id)) continue;
      let agentConfig = deepMerge(a.entry.config ?? {}, a.entry.perEnv?.[env.id] ?? {});
      if (a.factory.configSchema) {
        // Omitted fields take the schema's defaults (the agent contract); the filled config is what
        // the run records and hashes, so changing an agent's default reruns its runs.
        const where = a.from === '--agent-config' ? '--agent-config' : `${a.from}.config`;
        agentConfig = validate(
          a.factory.configSchema,
          agentConfig,
          `${where}${a.entry.perEnv?.[env.id] ? ` (with perEnv.${env.id})` : ''} for agent ${a.factory.name}`,
        ) as Record<string, unknown>;
      }
      for (const seed of seeds) {
        const config: RunConfig = {
          schemaVersion: RESULT_SCHEMA_VERSION,
          envId: env.id,
          envConfig: env.config,
          world: env.world,
          agentSpec: a.spec,
          ...(a.code !== undefined ? { agentCode: a.code } : {}),
          agentConfig,
          seed,
          split,
          episodes,
          batchSize,
          trainEpochs: o.trainEpochs ?? budget.trainEpochs ?? null,
          ks,
          examples: budget.examples ?? DEFAULT_EXAMPLES,
        };
        runs.push({
          index: runs.length,
          label: a.label,
          suite: suite.name,
          budget: budgetName,
          config,
          configHash: hashRunConfig(config),
          agentModule: a.module,
          file: resultFile(env.id, a.label, seed),
        });
      }
    }
  }
  const files = new Map<string, PlannedRun>();
  for (const r of runs) {
    const other = files.get(r.file);
    if (other) throw new PlanError(`${source}: runs ${other.index} and ${r.index} would both write ${r.file}; give the agents distinct labels`);
    files.set(r.file, r);
  }
  const matrixHash = stableHash(runs.map((r) => r.configHash));
  return { suite: suite.name, budget: budgetName, runs, matrixHash };
}

/** Whether an environment's world options take a data folder (the real datasets' environments). */
function acceptsDataDir(envId: string): boolean {
  const props = (envSpec(envId).worldOptions as { properties?: Record<string, unknown> }).properties;
  return !!props && 'dataDir' in props;
}

export class PlanError extends ProrecError {
  readonly kind = 'input';
}

export interface Shard {
  /** 1-based shard number. */
  index: number;
  count: number;
}

/** Parses `i/n` (1 ≤ i ≤ n), as CI matrices and Kubernetes indexed jobs (index + 1) give it. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new PlanError(`--shard: expected i/n with 1 ≤ i ≤ n (e.g. 1/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1 && index >= 1 && index <= count)) throw new PlanError(`--shard: expected i/n with 1 ≤ i ≤ n, got '${text}'`);
  return { index, count };
}

/** The runs of a shard: every n-th run of the matrix, starting at run i-1 (round robin balances agents and seeds). */
export function shardRuns(runs: readonly PlannedRun[], shard: Shard): PlannedRun[] {
  return runs.filter((r) => r.index % shard.count === shard.index - 1);
}
