/**
 * npm run sim -- train --env all                     # the six default simulators (3 datasets x 2 models)
 * npm run sim -- train --env ml-1m --model sasrec --seed 1
 * npm run sim -- eval  --env ml-1m --model sasrec --seed 1
 * npm run sim -- fidelity [--model sasrec] [--fractions 0.1,0.3,1]
 * npm run sim -- ship  --env all                     # copy the cached defaults into simulators/pretrained/
 * npm run sim -- info  <checkpoint file>
 *
 * `train` trains (or, with a cached checkpoint, reports) simulators, resuming a stopped training
 * from its last epoch, and prints a table: interactions learned from, epochs, seconds, HR@10 /
 * NDCG@10 on the simulator's leave-one-out valid and test items beside popularity. `eval` scores
 * a simulator afresh on those items (training it first if needed). `fidelity` compares learned
 * simulators of the synthetic world with its exact dynamics (simulators/fidelity.ts).
 */
import { existsSync, realpathSync } from 'node:fs';
import { commandLine } from '../core/launcher.ts';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Dataset } from '../data/dataset.ts';
import { withSimulatorFraction } from '../data/dataset.ts';
import { ensureBackend } from './runtime.ts';
import { checkComputeEnv } from '../compute/backend.ts';
import { checkCacheDirEnv } from '../core/cache-dir.ts';
import { ConfigError, describeError, exitCodeOf, UsageError } from '../core/errors.ts';
import { checkDepth } from '../core/validate.ts';
import { MODEL_KINDS, type ModelConfig, type ModelKind, type TrainConfig } from './config.ts';
import {
  checkpointPath,
  defaultWorkers,
  evaluateSimulator,
  loadOrTrainSimulator,
  popularityWarning,
  PRETRAINED_DIR,
  readCheckpoint,
  shipCheckpoint,
  type CheckpointHeader,
} from './index.ts';

const DATASETS = ['ml-1m', 'steam', 'books'] as const;
const ENVS = [...DATASETS, 'synthetic', 'all'] as const;

async function datasetFor(env: string, fraction: number, log: (line: string) => void): Promise<Dataset> {
  if (env === 'synthetic') {
    const { generateSyntheticWorld } = await import('../data/synthetic.ts');
    const world = generateSyntheticWorld();
    return withSimulatorFraction(world.dataset, fraction, world.config.seed);
  }
  if (fraction !== 1) throw new UsageError('--fraction applies to --env synthetic only');
  // Imported lazily so that `info` and the synthetic env work without the data layer.
  const data = (await import('../data/index.ts')) as { loadDataset: (name: string, opts: { log?: (s: string) => void }) => Promise<Dataset> };
  return data.loadDataset(env, { log });
}

function fmt(x: number): string {
  return x.toFixed(4);
}

function parseJsonOption(value: string | undefined, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  try {
    const v = JSON.parse(value) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('not an object');
    checkDepth(v, `--${name}`);
    return v as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--${name} must be a JSON object (${(e as Error).message.split('\n').join(' ')})`, { cause: e });
  }
}

/** One row of the summary table, from a checkpoint header. */
function summaryRow(h: CheckpointHeader): string[] {
  const m = h.metrics;
  return [
    h.dataset.name,
    h.model,
    h.dataset.simulatorInteractions.toLocaleString('en-US') + (h.train.trainLimit > 0 ? ` (first ${h.train.trainLimit} sequences)` : ''),
    `${m.epochs} (${m.bestEpoch})`,
    m.trainSeconds.toFixed(0),
    `${fmt(m.valid.hr10)} / ${fmt(m.valid.ndcg10)}`,
    `${fmt(m.test.hr10)} / ${fmt(m.test.ndcg10)}`,
    `${fmt(m.popularityTest.hr10)} / ${fmt(m.popularityTest.ndcg10)}`,
    m.versusPopularity.clearlyBetter ? 'yes' : 'NO',
  ];
}

export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

const SUMMARY_HEADER = [
  'dataset',
  'model',
  'interactions',
  'epochs (best)',
  'seconds',
  'valid HR@10 / NDCG@10',
  'test HR@10 / NDCG@10',
  'popularity test',
  'clearly better',
];

/** Runs the command line `args` (without node and script); resolves to the exit code (0 done, 1 failed, 2 usage error). */
export async function simMain(args: string[]): Promise<number> {
  let code = 0;
  try {
    // The variables this command reads, before it writes anything (a bad one: exit 2).
    checkComputeEnv();
    defaultWorkers();
    checkCacheDirEnv();
    await simCommands(args, (c) => (code = c));
  } catch (e) {
    process.stderr.write(describeError('sim', e));
    return exitCodeOf(e);
  }
  return code;
}

async function simCommands(args: string[], exitCode: (code: number) => void): Promise<void> {
  const log = (line: string) => process.stderr.write(line + '\n');
  const common = (y: ReturnType<typeof yargs>) =>
    y
      .option('env', { choices: ENVS, demandOption: true, describe: 'dataset to train on (all: ml-1m, steam and books)' })
      .option('model', {
        choices: [...MODEL_KINDS, 'all'] as const,
        default: 'all' as const,
        describe: 'architecture (all: sasrec and gru4rec, the reward model and evaluator of the real environments)',
      })
      .option('seed', { type: 'number', default: 1 })
      .option('fraction', { type: 'number', default: 1, describe: "synthetic only: train on this share of the world's logs" })
      .option('cache-dir', { type: 'string', describe: 'default: PRORL_CACHE_DIR, else ~/.cache/prorec-gym' })
      .option('backend', { type: 'string', describe: 'tensorflow | wasm | cpu (default: PRORL_BACKEND, else automatic)' })
      .option('max-epochs', { type: 'number' })
      .option('patience', { type: 'number' })
      .option('batch-size', { type: 'number' })
      .option('lr', { type: 'number' })
      .option('config', { type: 'string', describe: 'architecture overrides as JSON, e.g. \'{"dropout":0.2}\'' })
      .option('train', { type: 'string', describe: 'training overrides as JSON, e.g. \'{"learningRate":0.002}\'' })
      .option('progress', { type: 'boolean', default: true });
  type Common = {
    env: string;
    model: string;
    seed: number;
    fraction: number;
    cacheDir?: string;
    maxEpochs?: number;
    patience?: number;
    batchSize?: number;
    lr?: number;
    config?: string;
    train?: string;
  };
  const plan = (a: Common) => {
    const t: Partial<TrainConfig> = parseJsonOption(a.train, 'train') as Partial<TrainConfig>;
    if (a.maxEpochs !== undefined) t.maxEpochs = a.maxEpochs;
    if (a.patience !== undefined) t.patience = a.patience;
    if (a.batchSize !== undefined) t.batchSize = a.batchSize;
    if (a.lr !== undefined) t.learningRate = a.lr;
    const config = parseJsonOption(a.config, 'config') as Partial<ModelConfig>;
    const envs = a.env === 'all' ? [...DATASETS] : [a.env];
    const models: ModelKind[] = a.model === 'all' ? [...MODEL_KINDS] : [a.model as ModelKind];
    return { envs, models, train: t, config };
  };

  await yargs(args)
    .scriptName('sim')
    .command(
      'train',
      'train simulators (or report the cached ones), resuming a stopped training; prints a summary table',
      (y) => common(y).option('retrain', { type: 'boolean', default: false, describe: 'ignore a cached checkpoint or training state' }),
      async (a) => {
        await ensureBackend({ backend: a.backend });
        const p = plan(a);
        const rows: string[][] = [SUMMARY_HEADER];
        const warnings: string[] = [];
        for (const env of p.envs) {
          const dataset = await datasetFor(env, a.fraction, log);
          for (const model of p.models) {
            const spec = { dataset, model, seed: a.seed, config: p.config, train: p.train, cacheDir: a.cacheDir };
            const sim = await loadOrTrainSimulator({ ...spec, retrain: a.retrain, progress: a.progress, log, workers: 0 });
            await sim.dispose();
            const { header } = readCheckpoint(checkpointPath(spec));
            rows.push(summaryRow(header));
            const w = popularityWarning(header);
            if (w) warnings.push(w);
          }
        }
        console.log(formatTable(rows));
        console.log(
          "HR@10 / NDCG@10 on the simulator's own leave-one-out split (valid: second-to-last item of every sequence, test: last); popularity counts the training part.",
        );
        for (const w of warnings) console.log(w);
      },
    )
    .command(
      'eval',
      "HR@10 and NDCG@10 on the simulator's leave-one-out valid and test items, beside popularity",
      (y) => common(y),
      async (a) => {
        await ensureBackend({ backend: a.backend });
        const p = plan(a);
        for (const env of p.envs) {
          const dataset = await datasetFor(env, a.fraction, log);
          for (const model of p.models) {
            const sim = await loadOrTrainSimulator({
              dataset,
              model,
              seed: a.seed,
              config: p.config,
              train: p.train,
              cacheDir: a.cacheDir,
              progress: a.progress,
              log,
              workers: 0,
            });
            console.log(`${sim.id}: ${dataset.meta.simulatorInteractions} interactions of ${dataset.meta.source} (${dataset.meta.simulatorData})`);
            const rows = [['split', 'items', 'HR@10', 'NDCG@10', 'popularity HR@10', 'NDCG@10', 'clearly better']];
            for (const split of ['valid', 'test'] as const) {
              const r = evaluateSimulator({ simulator: sim, dataset, split });
              rows.push(
                [
                  split,
                  '',
                  String(r.simulator.count),
                  fmt(r.simulator.hr10),
                  fmt(r.simulator.ndcg10),
                  fmt(r.popularity.hr10),
                  fmt(r.popularity.ndcg10),
                  r.versusPopularity.clearlyBetter ? 'yes' : 'NO',
                ].filter((_, i) => i !== 1),
              );
            }
            console.log(formatTable(rows));
            await sim.dispose();
          }
        }
      },
    )
    .command(
      'fidelity',
      'how close learned simulators of the synthetic world are to its exact dynamics, per share of its logs they learned from',
      (y) =>
        y
          .option('model', { choices: MODEL_KINDS, default: 'sasrec' as ModelKind })
          .option('seed', { type: 'number', default: 1, describe: 'simulator seed (and of the random policy)' })
          .option('fractions', { type: 'string', default: '0.1,0.3,1', describe: "shares of the world's logs to train on" })
          .option('cases', { type: 'number', default: 1024, describe: 'test cases of the world walked by each policy' })
          .option('world', { type: 'string', describe: 'synthetic world options as JSON (default: the synthetic-v0 world)' })
          .option('json', { type: 'string', describe: 'also write the results to this file' })
          .option('cache-dir', { type: 'string' })
          .option('backend', { type: 'string' })
          .option('progress', { type: 'boolean', default: true }),
      async (a) => {
        await ensureBackend({ backend: a.backend });
        const fractions = a.fractions.split(',').map(Number);
        if (fractions.some((f) => !(f > 0 && f <= 1))) throw new UsageError(`--fractions must be numbers in (0, 1], got ${a.fractions}`);
        const { runFidelity, formatFidelity } = await import('./fidelity.ts');
        const result = await runFidelity({
          model: a.model,
          seed: a.seed,
          fractions,
          cases: a.cases,
          world: parseJsonOption(a.world, 'world'),
          cacheDir: a.cacheDir,
          progress: a.progress,
          log,
        });
        console.log(formatFidelity(result));
        if (a.json) {
          const { writeJsonAtomic } = await import('../core/io.ts');
          writeJsonAtomic(a.json, result);
          log(`written to ${a.json}`);
        }
      },
    )
    .command(
      'ship',
      'copy the cached simulators of --env (default settings) into the shipped pre-trained folder and rewrite its manifest',
      (y) => common(y).option('dir', { type: 'string', describe: "the folder (default: the package's simulators/pretrained/)" }),
      async (a) => {
        const p = plan(a);
        for (const env of p.envs) {
          const dataset = await datasetFor(env, a.fraction, log);
          for (const model of p.models) {
            const file = checkpointPath({ dataset, model, seed: a.seed, config: p.config, train: p.train, cacheDir: a.cacheDir });
            if (!existsSync(file))
              throw new ConfigError(
                `no cached checkpoint ${file}: train it first (${commandLine('sim', `train --env ${env} --model ${model} --seed ${a.seed}`)})`,
              );
            const entry = shipCheckpoint(file, a.dir ?? PRETRAINED_DIR);
            console.log(`shipped ${entry.file} (${(entry.bytes / 1e6).toFixed(2)} MB, test HR@10 ${fmt(entry.testHr10)} NDCG@10 ${fmt(entry.testNdcg10)})`);
          }
        }
      },
    )
    .command(
      'info <file>',
      'print a checkpoint header (config, dataset, metrics)',
      (y) => y.positional('file', { type: 'string', demandOption: true }),
      (a) => {
        const { header } = readCheckpoint(a.file);
        const { tensors, ...rest } = header;
        console.log(JSON.stringify({ ...rest, tensors: tensors.length }, null, 2));
      },
    )
    .demandCommand(1, 'give a command: train, eval, fidelity, ship or info')
    .strict()
    .help()
    // Return instead of exiting, so the exit code is ours (usage errors: 2).
    .exitProcess(false)
    .fail((msg, e) => {
      if (e) throw e;
      process.stderr.write(`sim: ${msg}\nrun with --help for usage\n`);
      exitCode(2);
    })
    .parseAsync();
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) simMain(hideBin(process.argv)).then((code) => (process.exitCode = code));
