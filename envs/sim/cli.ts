/**
 * npm run sim -- train --env ml-1m --model sasrec --seed 1
 * npm run sim -- eval  --env ml-1m --model sasrec --seed 1
 * npm run sim -- info  <checkpoint file>
 *
 * `train` trains (or, with a cached checkpoint, reports) a simulator; `eval` prints HR@10 and
 * NDCG@10 on held-out next items of the valid and test sequences beside a popularity baseline
 * (training first if no checkpoint is cached).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Dataset } from '../dataset.ts';
import { ensureBackend } from './runtime.ts';
import { MODEL_KINDS, type ModelKind, type TrainConfig } from './config.ts';
import { checkpointPath, evaluateSimulator, loadOrTrainSimulator, readCheckpoint } from './index.ts';

const ENVS = ['ml-1m', 'steam', 'books', 'synthetic'] as const;

async function datasetFor(env: string, log: (line: string) => void): Promise<Dataset> {
  if (env === 'synthetic') {
    const { generateSyntheticWorld } = await import('../synthetic/world.ts');
    return generateSyntheticWorld().dataset;
  }
  // Imported lazily so that `info` and the synthetic env work without the data layer.
  const data = (await import('../data/index.ts')) as { loadDataset: (name: string, opts: { log?: (s: string) => void }) => Promise<Dataset> };
  return data.loadDataset(env, { log });
}

function fmt(x: number): string {
  return x.toFixed(4);
}

/** Runs the command line `args` (without node and script); resolves to the exit code (0 done, 1 failed, 2 usage error). */
export async function simMain(args: string[]): Promise<number> {
  let code = 0;
  try {
    await simCommands(args, (c) => (code = c));
  } catch (e) {
    process.stderr.write(`sim: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return code;
}

async function simCommands(args: string[], exitCode: (code: number) => void): Promise<void> {
  const log = (line: string) => process.stderr.write(line + '\n');
  const common = (y: ReturnType<typeof yargs>) =>
    y
      .option('env', { choices: ENVS, demandOption: true, describe: 'dataset to train on' })
      .option('model', { choices: MODEL_KINDS, default: 'sasrec' as ModelKind })
      .option('seed', { type: 'number', default: 1 })
      .option('cache-dir', { type: 'string', describe: 'default: PRORL_CACHE_DIR, else ~/.cache/prorec-gym' })
      .option('backend', { type: 'string', describe: 'tensorflow | wasm | cpu (default: PRORL_BACKEND, else automatic)' })
      .option('max-epochs', { type: 'number' })
      .option('patience', { type: 'number' })
      .option('batch-size', { type: 'number' })
      .option('lr', { type: 'number' })
      .option('progress', { type: 'boolean', default: true });
  const trainOverrides = (a: { maxEpochs?: number; patience?: number; batchSize?: number; lr?: number }): Partial<TrainConfig> => {
    const t: Partial<TrainConfig> = {};
    if (a.maxEpochs !== undefined) t.maxEpochs = a.maxEpochs;
    if (a.patience !== undefined) t.patience = a.patience;
    if (a.batchSize !== undefined) t.batchSize = a.batchSize;
    if (a.lr !== undefined) t.learningRate = a.lr;
    return t;
  };

  await yargs(args)
    .scriptName('sim')
    .command(
      'train',
      'train a simulator (or report the cached one) and write its checkpoint',
      (y) => common(y).option('retrain', { type: 'boolean', default: false, describe: 'ignore a cached checkpoint' }),
      async (a) => {
        await ensureBackend({ backend: a.backend });
        const dataset = await datasetFor(a.env, log);
        const spec = { dataset, model: a.model as ModelKind, seed: a.seed, train: trainOverrides(a), cacheDir: a.cacheDir };
        const sim = await loadOrTrainSimulator({ ...spec, retrain: a.retrain, progress: a.progress, log });
        const { header } = readCheckpoint(checkpointPath(spec));
        const m = header.metrics;
        console.log(
          `${sim.id}: valid HR@10 ${fmt(m.valid.hr10)} NDCG@10 ${fmt(m.valid.ndcg10)} (popularity ${fmt(m.popularityValid.hr10)} / ${fmt(m.popularityValid.ndcg10)}), ` +
            `best epoch ${m.bestEpoch}/${m.epochs}, ${m.trainSeconds.toFixed(0)}s (${m.secondsPerEpoch.toFixed(1)}s/epoch) on ${header.backend}; ` +
            `trained on ${header.dataset.trainInteractions} interactions`,
        );
        await sim.dispose();
      },
    )
    .command(
      'eval',
      'HR@10 and NDCG@10 on held-out next items, beside popularity',
      (y) => common(y),
      async (a) => {
        await ensureBackend({ backend: a.backend });
        const dataset = await datasetFor(a.env, log);
        const sim = await loadOrTrainSimulator({ dataset, model: a.model as ModelKind, seed: a.seed, train: trainOverrides(a), cacheDir: a.cacheDir, progress: a.progress, log });
        console.log(`${sim.id} (trained on ${dataset.meta.trainInteractions} interactions of ${dataset.meta.source})`);
        console.log('split   sequences   HR@10   NDCG@10   popularity HR@10   NDCG@10');
        for (const split of ['valid', 'test'] as const) {
          const r = evaluateSimulator({ simulator: sim, dataset, split });
          if (r.simulator.count === 0) continue;
          console.log(
            `${split.padEnd(7)} ${String(r.simulator.count).padStart(9)}   ${fmt(r.simulator.hr10)}  ${fmt(r.simulator.ndcg10)}    ${fmt(r.popularity.hr10)}           ${fmt(r.popularity.ndcg10)}`,
          );
        }
        await sim.dispose();
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
    .demandCommand(1, 'give a command: train, eval or info')
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
