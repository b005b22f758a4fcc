/**
 * The benchmark CLI.
 *   npm run bench -- --agent <name|path> [--suite standard] [--env ID] [--seeds N] [--budget NAME] [--out DIR]
 *   npm run bench -- --suite smoke [--jobs N] [--shard i/n] [--force]
 *   npm run bench -- merge DIR... [--out DIR]
 *   npm run bench -- leaderboard DIR
 *   npm run bench -- reference [--update] [bench options]   (also `npm run reference -- --update`)
 *   npm run bench -- specificity DIR [--out FILE]
 * Expands the suite (default `standard`; with --agent, only that agent) into runs, one per
 * (environment, agent, seed); each writes a schema-validated result file under DIR/results/
 * (skipped when it exists with the same config hash). Then writes DIR/leaderboard.{json,md} and
 * prints the table.
 * Exit codes: 0 success, 1 a run failed (or merge found a conflict or a missing shard), 2 bad input
 * (unknown env/agent/suite, invalid option or file).
 */
import { describeError, exitCodeOf, UsageError } from '../core/errors.ts';
import { existsSync } from 'node:fs';
import { pauseAfterListing, withFolderLock } from '../core/lock.ts';
import { readJsonFile, validate } from '../core/validate.ts';
import { runMain } from '../core/main.ts';
import { commandLine, npmDashHint } from '../core/launcher.ts';
import { checkDepth } from '../core/validate.ts';
import { checkBenchEnv } from './env-vars.ts';
import { RL_WORKERS_ENV, TRAIN_WORKERS_ENV } from '../agents/pg-worker.ts';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { listAgents, resolveAgent } from '../agents/registry.ts';
import { configHelpText } from './config-help.ts';
import { AGENT_TIMEOUT_VARIABLE, agentTimeoutSeconds, DEFAULT_AGENT_TIMEOUT_SECONDS } from '../agents/process/channel.ts';
import '../envs/index.ts';
import { listEnvs } from '../envs/registry.ts';
import { writeFileAtomic, writeJsonAtomic } from '../core/io.ts';
import { buildLeaderboard, leaderboardMarkdown, leaderboardTerminal } from '../results/leaderboard.ts';
import { ManifestSchema, mergeMain, MergeError, type Manifest } from './merge.ts';
import { runSummary } from './progress.ts';
import { readResults, readResultsLenient } from '../results/read.ts';
import { runPlan } from './runner.ts';
import type { ResultFile } from '../results/schema.ts';
import { specificityMain } from './specificity.ts';
import { varianceMain } from './estimator-variance.ts';
import { codeVersion } from './version.ts';
import { fidelityMain } from '../results/fidelity.ts';
import { listSuites, loadSuite, parseShard, planRuns, shardRuns, type Plan, type PlannedRun, type PlanOverrides, type Shard } from './suite.ts';
import { collectReference, planReference, pruneReferenceFolder, referenceSuites, shippedReferenceFolder } from './reference.ts';
import { readReferenceResults, REFERENCE_FOLDER } from '../results/reference.ts';

export { codeVersion };

export { UsageError };

/** Where the CLI writes: the table to `out`, everything else to `err`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const STDIO: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

function parseJsonOption(name: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--${name}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--${name}: expected a JSON object, got ${text}`);
  checkDepth(value, `--${name}`);
  return value as Record<string, unknown>;
}

/** Writes OUT/leaderboard.json and OUT/leaderboard.md (reference rows marked); returns the terminal table. */
export function writeLeaderboard(out: string, results: readonly ResultFile[], reference: readonly ResultFile[] = []): string {
  const lb = buildLeaderboard(results, { reference });
  writeJsonAtomic(path.join(out, 'leaderboard.json'), lb);
  writeFileAtomic(path.join(out, 'leaderboard.md'), leaderboardMarkdown(lb));
  return leaderboardTerminal(lb);
}

/**
 * The manifest of one invocation's slice of a matrix: what merge checks shards against. Written
 * before the runs (every run 'pending', so a killed shard shows as incomplete) and again after them
 * with each run's outcome.
 */
export function writeManifest(
  out: string,
  plan: Plan,
  shard: Shard,
  runs: readonly PlannedRun[],
  outcomes?: ReadonlyMap<number, { status: string; error?: string }>,
): string {
  const file = path.join(out, 'manifests', `${plan.suite}-${plan.budget}-${plan.matrixHash.slice(0, 12)}-shard-${shard.index}-of-${shard.count}.json`);
  const manifest: Manifest = {
    suite: plan.suite,
    budget: plan.budget,
    matrixHash: plan.matrixHash,
    matrixSize: plan.runs.length,
    shard,
    runs: runs.map((r) => {
      const o = outcomes?.get(r.index);
      const status = (o?.status ?? 'pending') as Manifest['runs'][number]['status'];
      return {
        index: r.index,
        file: r.file.split(path.sep).join('/'),
        configHash: r.configHash,
        status,
        ...(o?.error ? { error: o.error.split('\n')[0] } : {}),
      };
    }),
  };
  // Two invocations of one shard (duplicate pods, a rerun in another terminal) write one manifest:
  // under the folder's lock, a run keeps the furthest status either recorded (done/skipped over
  // failed over pending), so the slower writer does not erase the other's outcomes.
  withFolderLock(out, () => {
    const before = readManifestIfValid(file);
    if (before && before.matrixHash === manifest.matrixHash) {
      const old = new Map(before.runs.map((r) => [r.index, r]));
      manifest.runs = manifest.runs.map((r) => {
        const o = old.get(r.index);
        return o && o.configHash === r.configHash && STATUS_RANK[o.status] > STATUS_RANK[r.status] ? o : r;
      });
    }
    writeJsonAtomic(file, manifest);
  });
  return file;
}

const STATUS_RANK: Record<Manifest['runs'][number]['status'], number> = { pending: 0, failed: 1, skipped: 2, done: 2 };

function readManifestIfValid(file: string): Manifest | null {
  if (!existsSync(file)) return null;
  try {
    return validate(ManifestSchema, readJsonFile(file), file);
  } catch {
    return null; // a damaged manifest is replaced
  }
}

interface BenchArgs {
  agent?: string;
  suite?: string;
  budget?: string;
  env?: string;
  seeds?: number;
  seedStart?: number;
  episodes?: number;
  split?: 'test' | 'valid';
  out: string;
  backend?: string;
  batchSize?: number;
  epochs?: number;
  agentConfig?: string;
  envConfig?: string;
  world?: string;
  dataDir?: string;
  progress: boolean;
  jobs: number;
  trainWorkers?: number;
  shard?: string;
  force: boolean;
  reference: boolean;
  runTimeout?: number;
  agentTimeout?: number;
  configHelp: boolean;
}

/** The plan options of a bench command line. */
function planOverrides(argv: BenchArgs, suite: ReturnType<typeof loadSuite>): PlanOverrides {
  const seeds =
    argv.seeds !== undefined || argv.seedStart !== undefined
      ? Array.from({ length: argv.seeds ?? suite.suite.seeds.length }, (_, i) => (argv.seedStart ?? 1) + i)
      : undefined;
  return {
    budget: argv.budget,
    agent: argv.agent,
    agentConfig: parseJsonOption('agent-config', argv.agentConfig),
    env: argv.env,
    envConfig: parseJsonOption('env-config', argv.envConfig),
    world: parseJsonOption('world', argv.world),
    dataDir: argv.dataDir,
    seeds,
    episodes: argv.episodes,
    split: argv.split,
    batchSize: argv.batchSize,
    trainEpochs: argv.epochs,
  };
}

/** The options of a bench command line that choose the setting (not the agent, the shard or --force): what `bench reference` needs. */
function settingArgs(args: readonly string[]): string[] {
  const drop = new Set(['--agent', '--agent-config', '--shard', '--jobs', '--train-workers', '--run-timeout', '--agent-timeout']);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [name] = args[i].split('=');
    if (drop.has(name)) {
      if (!args[i].includes('=')) i++;
      continue;
    }
    if (['--force', '--reference', '--no-reference', '--progress', '--no-progress'].includes(name)) {
      if (!args[i].includes('=') && (args[i + 1] === 'true' || args[i + 1] === 'false')) i++;
      continue;
    }
    out.push(/[^\w./:=@,-]/.test(args[i]) ? `'${args[i].replace(/'/g, `'\\''`)}'` : args[i]);
  }
  return out;
}

/**
 * The threads of each RL training run (agents/pg-worker.ts), passed to the runs, in worker threads
 * too, through PRORL_TRAIN_WORKERS: --train-workers, else the variable, else the cores ÷ --jobs.
 * Not part of a run's config (results never depend on it), like --jobs.
 */
function setTrainWorkers(argv: BenchArgs): void {
  if (argv.trainWorkers !== undefined) process.env[TRAIN_WORKERS_ENV] = String(argv.trainWorkers);
  else if (!process.env[TRAIN_WORKERS_ENV] && !process.env[RL_WORKERS_ENV] && argv.jobs > 1)
    process.env[TRAIN_WORKERS_ENV] = String(Math.max(1, Math.floor(os.availableParallelism() / argv.jobs)));
}

async function runBench(argv: BenchArgs, io: Io, args: readonly string[] = []): Promise<number> {
  if (argv.agent === undefined && argv.suite === undefined) throw new UsageError('give --agent NAME (runs the default suite for that agent) or --suite NAME');
  checkBenchEnv(); // before anything is written: a bad variable is exit 2, not a failure of every run
  // Agent processes (agents/process/) read their reply timeout from the environment, in worker threads too.
  if (argv.agentTimeout !== undefined) process.env[AGENT_TIMEOUT_VARIABLE] = String(argv.agentTimeout);
  agentTimeoutSeconds();
  setTrainWorkers(argv);
  const suite = loadSuite(argv.suite ?? 'standard');
  const overrides = planOverrides(argv, suite);
  const plan = await planRuns(suite, overrides);
  const refPlan = argv.reference ? await planReference(suite, overrides) : null;
  const shard = argv.shard ? parseShard(argv.shard) : { index: 1, count: 1 };
  const runs = shardRuns(plan.runs, shard);
  const what = `suite ${plan.suite} (budget ${plan.budget})${shard.count > 1 ? `, shard ${shard.index}/${shard.count}` : ''}`;
  io.err(`${what}: ${runs.length} of ${plan.runs.length} runs, ${argv.jobs} job${argv.jobs === 1 ? '' : 's'}, output ${argv.out}\n`);
  writeManifest(argv.out, plan, shard, runs);
  const report = await runPlan(runs, {
    out: argv.out,
    jobs: argv.jobs,
    force: argv.force,
    backend: argv.backend,
    code: codeVersion(),
    progress: argv.progress,
    label: plan.suite,
    log: (l) => io.err(`${l}\n`),
    interruptible: true,
    runTimeout: argv.runTimeout,
  });
  writeManifest(argv.out, plan, shard, runs, new Map(report.outcomes.map((o) => [o.run.index, { status: o.status, error: o.error }])));
  for (const o of report.outcomes) {
    if (o.status === 'done' && o.result) {
      io.err(`wrote ${path.join(argv.out, o.run.file)} (${o.result.episodes} episodes, ${o.result.timings.envStepsPerSecond.toFixed(0)} env steps/s)\n`);
    }
  }
  // The leaderboard covers every result in the folder, not only this command's runs: listed once
  // and written under the folder's lock (core/lock.ts), so that another process writing into the
  // same folder cannot slip a result file in between and have its row dropped.
  const { listed, table } = withFolderLock(
    argv.out,
    () => {
      const { results, unreadable } = readResultsLenient(argv.out);
      pauseAfterListing();
      for (const u of unreadable) io.err(`not in the leaderboard: ${u}\n`);
      // Reference rows: the package's results of the reference agents under this very setting.
      if (refPlan) {
        const status = collectReference(refPlan, {
          out: argv.out,
          code: codeVersion(),
          skipLabels: new Set([...plan.runs.map((r) => r.label), ...results.map((r) => r.run.label)]),
          command: commandLine('bench', `reference ${settingArgs(args).join(' ')}`.trim()),
        });
        for (const l of status.lines) io.err(`${l}\n`);
      }
      const reference = argv.reference ? readReferenceResults(argv.out).results : [];
      return { listed: results.length, table: results.length > 0 ? writeLeaderboard(argv.out, results, reference) : null };
    },
    { log: (l) => io.err(`${l}\n`) },
  );
  if (table !== null) io.out(table);
  const leaderboard = table !== null ? path.join(argv.out, 'leaderboard.md') : null;
  const count = (status: string) => report.outcomes.filter((o) => o.status === status).length;
  io.err(
    `${runSummary({ done: count('done'), skipped: count('skipped'), failed: count('failed') }, report.seconds)}; ` +
      (leaderboard ? `leaderboard of ${listed} result files: ${leaderboard}\n` : 'no leaderboard written (no result files)\n'),
  );
  if (report.failed.length > 0) {
    io.err(`failed runs:\n${report.failed.map((f) => `  ${f.run.file}: ${(f.error ?? '').split('\n')[0]}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName('bench')
    .usage(
      '$0 --agent <name|path> [options]     run the default suite (standard) for one agent\n' +
        '$0 --suite <name|path> [options]     run a suite (smoke, standard, paper, or a file)\n' +
        '$0 merge DIR... [--out DIR]          combine the result folders of shards\n' +
        '$0 leaderboard DIR                   rebuild DIR/leaderboard.{json,md} from DIR/results\n' +
        "$0 reference [--update] [options]    compute a suite's reference rows for these options into OUT/reference (--update: the shipped ones)\n" +
        "$0 specificity DIR [--out FILE]      how much of each agent's IoI is toward its target (benchmarks/specificity.ts)\n" +
        '$0 fidelity DIR... [--out FILE]      do agents keep their order under the evaluator (Kendall tau; results/fidelity.ts)',
    )
    .option('agent', {
      type: 'string',
      describe: `only this agent (${listAgents()
        .map((a) => a.name)
        .join(', ')}, or a path to a module); added when the suite lacks it`,
    })
    .option('suite', { type: 'string', describe: `suite name (${listSuites().join(', ')}) or path to a suite file; default standard` })
    .option('budget', { type: 'string', describe: "one of the suite's budgets (smoke, standard, paper); default: the suite's" })
    .option('env', {
      type: 'string',
      describe: `only this environment (${listEnvs()
        .map((e) => e.id)
        .join(', ')}); added when the suite lacks it`,
    })
    .option('seeds', { type: 'number', describe: "number of seeds (seed-start, seed-start+1, ...); default: the suite's seeds" })
    .option('seed-start', { type: 'number', describe: 'first seed, 0 or more (default 1)' })
    .option('episodes', { type: 'number', describe: "evaluation cases per seed (0: the whole split); default: the budget's" })
    .option('split', { type: 'string', choices: ['test', 'valid'], describe: 'evaluation split (default test)' })
    .option('out', { type: 'string', default: 'runs', describe: 'output folder: OUT/results/*.json, OUT/leaderboard.{json,md}' })
    .option('backend', {
      type: 'string',
      choices: ['tensorflow', 'node', 'wasm', 'cpu'],
      describe:
        "compute backend (default: PRORL_BACKEND, else the fastest that loads); on wasm, PRORL_BLAS=auto|wasm|exact|native chooses the matrix products' kernels (auto: the native kernels when built, the same results)",
    })
    .option('batch-size', { type: 'number', describe: 'episodes stepped together (default 256)' })
    .option('epochs', { type: 'number', describe: 'training epochs for agents that train' })
    .option('agent-config', { type: 'string', describe: "agent config as a JSON object (replaces the suite entry's config)" })
    .option('env-config', { type: 'string', describe: 'environment config overrides as a JSON object, e.g. {"maxLength":5}' })
    .option('world', { type: 'string', describe: 'world options as a JSON object, e.g. {"numItems":500}' })
    .option('data-dir', {
      type: 'string',
      describe: 'folder holding the dataset of the real environments (ml-1m-v0, steam-v0, books-v0); only this folder is searched',
    })
    .option('jobs', { type: 'number', default: 1, describe: 'runs in parallel worker threads (each with its own backend)' })
    .option('train-workers', {
      type: 'number',
      describe: `threads of each RL training run, the main thread included (default ${TRAIN_WORKERS_ENV}, else the cores ÷ --jobs; results never depend on it)`,
    })
    .option('shard', { type: 'string', describe: 'run only shard i of n of the run matrix (i/n, 1 ≤ i ≤ n)' })
    .option('force', { type: 'boolean', default: false, describe: 'rerun runs whose result file is complete' })
    .option('reference', {
      type: 'boolean',
      default: true,
      describe: "show the suite's reference rows (marked (ref); benchmarks/reference/); --no-reference leaves them out",
    })
    .option('run-timeout', {
      type: 'number',
      describe: 'seconds a run may take before it is stopped and counted as failed (a guard: results never depend on it); runs then go to worker threads',
    })
    .option('agent-timeout', {
      type: 'number',
      describe: `seconds an agent process (--agent ./x.py, exec:CMD) may send nothing before it is taken as hung and the run fails (default ${DEFAULT_AGENT_TIMEOUT_SECONDS}, or ${AGENT_TIMEOUT_VARIABLE}; a guard: results never depend on it)`,
    })
    .option('progress', { type: 'boolean', default: true, describe: 'show progress (bars on a terminal, plain lines otherwise)' })
    .option('config-help', {
      type: 'boolean',
      default: false,
      describe: "print the --agent's config fields (dotted path, type, default, description) and exit; runs nothing",
    })
    .check((a) => {
      for (const k of ['seeds', 'batch-size', 'jobs', 'train-workers'] as const) {
        const v = a[k] as number | undefined;
        if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${k} must be a positive integer, got ${v}`);
      }
      if (a.episodes !== undefined && !(Number.isInteger(a.episodes) && a.episodes >= 0))
        throw new UsageError(`--episodes must be a non-negative integer, got ${a.episodes}`);
      // Seeds name result files (…__seed3.json): a negative one would read as "seed-3".
      if (a['seed-start'] !== undefined && !(Number.isInteger(a['seed-start']) && a['seed-start'] >= 0))
        throw new UsageError(`--seed-start must be a non-negative integer, got ${a['seed-start']}`);
      if (a.epochs !== undefined && !(Number.isInteger(a.epochs) && a.epochs >= 0))
        throw new UsageError(`--epochs must be a non-negative integer, got ${a.epochs}`);
      if (a.shard !== undefined) parseShard(a.shard);
      const timeout = a['run-timeout'] as number | undefined;
      if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0))
        throw new UsageError(`--run-timeout must be a positive number of seconds, got ${timeout}`);
      const agentTimeout = a['agent-timeout'] as number | undefined;
      if (agentTimeout !== undefined && !(Number.isFinite(agentTimeout) && agentTimeout > 0))
        throw new UsageError(`--agent-timeout must be a positive number of seconds, got ${agentTimeout}`);
      return true;
    })
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
}

async function leaderboardMain(args: string[], io: Io): Promise<number> {
  if (args.length !== 1 || args[0].startsWith('-')) throw new UsageError('usage: bench leaderboard DIR');
  const table = withFolderLock(args[0], () => {
    const results = readResults(args[0]);
    if (results.length === 0) throw new UsageError(`${args[0]}: no result files in ${path.join(args[0], 'results')}`);
    pauseAfterListing();
    return writeLeaderboard(args[0], results, readReferenceResults(args[0]).results);
  });
  io.out(table);
  return 0;
}

/**
 * `bench reference [options]`: computes the reference rows of a suite for the setting the options
 * choose (the same options as bench) into OUT/reference/, where bench and the report find them.
 * `--update` (in a clone) recomputes the shipped reference results of the suite's default setting
 * instead: benchmarks/reference/SUITE/results/, every run (--force), files of agents no longer in
 * the set removed.
 */
async function referenceMain(args: string[], io: Io): Promise<number> {
  const update = args.includes('--update');
  const argv = (await buildCli(args.filter((a) => a !== '--update')).parseAsync()) as unknown as BenchArgs & { help?: boolean };
  if (argv.help) return 0;
  if (argv.configHelp) return await configHelpMain(argv, io); // the shared options include --config-help: never run the set then
  const suite = loadSuite(argv.suite ?? 'standard');
  const setting = [
    'env',
    'seeds',
    'seedStart',
    'episodes',
    'split',
    'batchSize',
    'epochs',
    'envConfig',
    'world',
    'dataDir',
    'budget',
    'agentConfig',
    'shard',
  ] as const;
  if (update && setting.some((k) => argv[k] !== undefined))
    throw new UsageError(
      "reference --update recomputes the shipped results of the suite's default setting; drop the options that change it (or leave out --update)",
    );
  const plan = await planReference(suite, update ? {} : planOverrides(argv, suite), argv.agent);
  if (!plan) throw new UsageError(`suite ${suite.suite.name} has no reference set; suites with one: ${referenceSuites().join(', ') || 'none'}`);
  const out = update ? shippedReferenceFolder(plan.suite) : path.join(argv.out, REFERENCE_FOLDER);
  io.err(`reference set of suite ${plan.suite} (budget ${plan.budget}): ${plan.runs.length} runs, output ${out}\n`);
  setTrainWorkers(argv);
  const report = await runPlan(plan.runs, {
    out,
    jobs: argv.jobs,
    force: update || argv.force,
    backend: argv.backend,
    code: codeVersion(),
    progress: argv.progress,
    label: `${plan.suite} reference`,
    log: (l) => io.err(`${l}\n`),
    interruptible: true,
  });
  if (update && argv.agent === undefined) for (const f of pruneReferenceFolder(out, plan)) io.err(`removed ${f} (not in the reference set)\n`);
  const table = withFolderLock(
    out,
    () => {
      const { results } = readResultsLenient(out);
      pauseAfterListing();
      return results.length > 0 ? writeLeaderboard(out, results) : null;
    },
    { log: (l) => io.err(`${l}\n`) },
  );
  if (table !== null) io.out(table);
  const count = (status: string) => report.outcomes.filter((o) => o.status === status).length;
  io.err(`${runSummary({ done: count('done'), skipped: count('skipped'), failed: count('failed') }, report.seconds)}\n`);
  return report.failed.length > 0 ? 1 : 0;
}

/** `bench --agent NAME --config-help`: the agent's config fields (benchmarks/config-help.ts); runs nothing. */
async function configHelpMain(argv: BenchArgs, io: Io): Promise<number> {
  if (argv.agent === undefined) throw new UsageError('--config-help needs --agent NAME (or a path to an agent module)');
  io.out(configHelpText(await resolveAgent(argv.agent)));
  return 0;
}

export async function main(args: string[], io: Io = STDIO): Promise<number> {
  try {
    if (args[0] === 'merge') return await mergeMain(args.slice(1), io);
    if (args[0] === 'leaderboard') return await leaderboardMain(args.slice(1), io);
    if (args[0] === 'reference') return await referenceMain(args.slice(1), io);
    if (args[0] === 'specificity') return await specificityMain(args.slice(1), io, (m) => new UsageError(m));
    if (args[0] === 'variance') return await varianceMain(args.slice(1), io, (m) => new UsageError(m));
    if (args[0] === 'fidelity') return await fidelityMain(args.slice(1), io, (m) => new UsageError(m));
    const parser = buildCli(args);
    const argv = await parser.parseAsync();
    if ((argv as { help?: boolean }).help) return 0;
    if ((argv as unknown as BenchArgs).configHelp) return await configHelpMain(argv as unknown as BenchArgs, io);
    return await runBench(argv as unknown as BenchArgs, io, args);
  } catch (e) {
    if (e instanceof UsageError) {
      // `npm run bench --agent x` (no `--`): npm kept the options; say so, with the line meant.
      const o = (buildCli([]) as unknown as { getOptions(): { key: Record<string, unknown>; boolean: string[] } }).getOptions(); // yargs's, untyped in @types/yargs
      const hint = npmDashHint('bench', { names: Object.keys(o.key), booleans: o.boolean }, args);
      if (hint) e.message += `\n${hint}`;
    }
    io.err(describeError(e instanceof MergeError ? 'bench merge' : 'bench', e));
    return exitCodeOf(e);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runMain('bench', () => main(hideBin(process.argv)));
}
