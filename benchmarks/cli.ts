/**
 * The benchmark CLI.
 *   npm run bench -- --agent <name|path> [--env synthetic-v0] [--seeds N] [--episodes N] [--out DIR]
 * Evaluates the agent on test cases for each seed, prints a table (mean ± 95% CI over seeds) and
 * writes one schema-validated result file per (env, agent, seed) under DIR/results/.
 * Exit codes: 0 success, 1 failure while running, 2 bad input (unknown env/agent, invalid option).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { resolveAgent, listAgents, UnknownAgentError } from '../agents/registry.ts';
import { initBackend } from '../envs/backend.ts';
import '../envs/index.ts';
import { envSpec, listEnvs, UnknownEnvError } from '../envs/registry.ts';
import { writeJsonAtomic } from '../envs/io.ts';
import { ValidationError, validate } from '../envs/validate.ts';
import { runOne } from './evaluate.ts';
import { ResultFileSchema, type ResultFile } from './schema.ts';
import { summarize } from './stats.ts';
import { renderTable } from './table.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class UsageError extends Error {
  override name = 'UsageError';
}

function codeVersion(): { package: string; version: string; commit: string | null } {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    commit = null; // not a git checkout (an installed package): recorded as unknown
  }
  return { package: pkg.name, version: pkg.version, commit };
}

function parseJsonOption(name: string, text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--${name}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--${name}: expected a JSON object, got ${text}`);
  return value as Record<string, unknown>;
}

export function resultFileName(out: string, r: Pick<ResultFile, 'env' | 'agent' | 'seed'>, label?: string): string {
  const agent = (label ?? r.agent.name).replace(/[^A-Za-z0-9._-]+/g, '_');
  return path.join(out, 'results', `${r.env.id}__${agent}__seed${r.seed}.json`);
}

export function printTable(results: ResultFile[], write: (s: string) => void = (s) => process.stdout.write(s)): void {
  const groups = new Map<string, ResultFile[]>();
  for (const r of results) {
    const key = `${r.env.id}\u0000${r.agent.spec}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const fmt = (values: number[], digits: number) => {
    const s = summarize(values);
    return s.ci95 === null ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.ci95.toFixed(digits)}`;
  };
  const rows = [...groups.values()].map((rs) => {
    const m = (f: (r: ResultFile) => number | null) => rs.map(f).filter((v): v is number => v !== null);
    const e = rs.every((r) => r.evaluatorMetrics !== null);
    return [
      rs[0].env.id,
      rs[0].agent.spec + (rs[0].agent.usesSimulator ? ' (oracle)' : ''),
      String(rs.length),
      fmt(m((r) => r.metrics.ioi), 3),
      fmt(m((r) => r.metrics.ior), 1),
      fmt(m((r) => r.metrics.ctr), 3),
      fmt(m((r) => r.metrics.coherence), 3),
      fmt(m((r) => r.metrics.length), 2),
      fmt(m((r) => r.metrics.success), 3),
      e ? fmt(m((r) => r.evaluatorMetrics!.ioi), 3) : '-',
      e ? fmt(m((r) => r.evaluatorMetrics!.ior), 1) : '-',
    ];
  });
  write(renderTable(['env', 'agent', 'seeds', 'IoI', 'IoR', 'CTR', 'coherence', 'length', 'success@10', 'eval IoI', 'eval IoR'], rows));
  write('mean ± 95% CI (t) over seeds; eval = under the evaluator simulator; (oracle) = reads the reward simulator\n');
}

async function runBench(argv: {
  agent: string; env: string; seeds: number; seedStart: number; episodes: number; out: string; backend?: string;
  split: string; batchSize: number; agentConfig?: string; envConfig?: string; world?: string; epochs?: number; progress: boolean;
}): Promise<void> {
  envSpec(argv.env); // unknown env: fail before any work
  const factory = await resolveAgent(argv.agent);
  const agentConfig = parseJsonOption('agent-config', argv.agentConfig);
  if (factory.configSchema) validate(factory.configSchema, agentConfig, `--agent-config for ${factory.name}`);
  const envOverrides = { ...parseJsonOption('env-config', argv.envConfig), world: parseJsonOption('world', argv.world) };
  const backend = await initBackend({ backend: argv.backend });
  const code = codeVersion();
  const results: ResultFile[] = [];
  for (let i = 0; i < argv.seeds; i++) {
    const seed = argv.seedStart + i;
    const result = await runOne({
      envId: argv.env, envOverrides, agentSpec: argv.agent, factory, agentConfig, seed, episodes: argv.episodes,
      split: argv.split as 'test', batchSize: argv.batchSize, trainEpochs: argv.epochs,
      backend: { name: backend.name, reason: backend.reason }, code, showProgress: argv.progress,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    const file = resultFileName(argv.out, result);
    writeJsonAtomic(file, result);
    process.stderr.write(`wrote ${path.relative(process.cwd(), file)} (${result.episodes} episodes, ${result.timings.envStepsPerSecond.toFixed(0)} env steps/s)\n`);
    results.push(result);
  }
  printTable(results);
}

export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName('bench')
    .usage('$0 --agent <name|path> [options]\n\nEvaluates an agent on an environment over several seeds.')
    .option('agent', { type: 'string', demandOption: true, describe: `agent name (${listAgents().map((a) => a.name).join(', ')}) or a path to a module` })
    .option('env', { type: 'string', default: 'synthetic-v0', describe: `environment id (${listEnvs().map((e) => e.id).join(', ')})` })
    .option('seeds', { type: 'number', default: 3, describe: 'number of seeds (seed-start, seed-start+1, ...)' })
    .option('seed-start', { type: 'number', default: 1, describe: 'first seed' })
    .option('episodes', { type: 'number', default: 256, describe: 'evaluation cases per seed (capped at the split size)' })
    .option('split', { type: 'string', choices: ['test', 'valid'], default: 'test', describe: 'evaluation split' })
    .option('out', { type: 'string', default: 'runs', describe: 'output folder; result files go to OUT/results/' })
    .option('backend', { type: 'string', choices: ['tensorflow', 'node', 'wasm', 'cpu'], describe: 'compute backend (default: PRORL_BACKEND, else the fastest that loads)' })
    .option('batch-size', { type: 'number', default: 256, describe: 'episodes stepped together' })
    .option('epochs', { type: 'number', describe: 'training epochs for agents that train' })
    .option('agent-config', { type: 'string', describe: 'agent config as a JSON object' })
    .option('env-config', { type: 'string', describe: 'environment config overrides as a JSON object, e.g. {"maxLength":5}' })
    .option('world', { type: 'string', describe: 'world options as a JSON object, e.g. {"numItems":500}' })
    .option('progress', { type: 'boolean', default: true, describe: 'show progress (a bar on a terminal, plain lines otherwise)' })
    .check((a) => {
      for (const k of ['seeds', 'episodes', 'batch-size'] as const) {
        const v = a[k] as number;
        if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${k} must be a positive integer, got ${v}`);
      }
      if (!Number.isInteger(a['seed-start'])) throw new UsageError(`--seed-start must be an integer, got ${a['seed-start']}`);
      if (a.epochs !== undefined && !(Number.isInteger(a.epochs) && a.epochs >= 0)) throw new UsageError(`--epochs must be a non-negative integer, got ${a.epochs}`);
      return true;
    })
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
}

export async function main(args: string[]): Promise<number> {
  try {
    const argv = await buildCli(args).parseAsync();
    if ((argv as { help?: boolean }).help) return 0;
    await runBench(argv as unknown as Parameters<typeof runBench>[0]);
    return 0;
  } catch (e) {
    if (e instanceof UnknownEnvError || e instanceof UnknownAgentError || e instanceof UsageError || e instanceof ValidationError) {
      process.stderr.write(`bench: ${e.message}\n`);
      if (e instanceof UsageError) process.stderr.write('run with --help for the options\n');
      return 2;
    }
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(hideBin(process.argv)).then((code) => process.exit(code));
}
