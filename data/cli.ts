/**
 * `npm run data -- <command>`: what data is available, its statistics, and downloading it.
 *   list                 where each dataset would be loaded from (and every place searched)
 *   stats <name>         users, items, interactions, cases per split, path lengths, attribute coverage
 *   fetch <name>         download the public source files into the cache, verified
 *   fetch prorl-release  download the official ProRL release's data files (pinned commit) into the cache
 * Exit codes: 0 success, 1 failure (missing data, bad file, failed download), 2 usage error.
 */
import { describeError, exitCodeOf, UsageError } from '../core/errors.ts';
import { checkCacheDirEnv } from '../core/cache-dir.ts';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  DATASETS,
  DATASET_NAMES,
  PRORL_RELEASE,
  PRORL_RELEASE_FILES,
  datasetStats,
  formatStats,
  isDatasetName,
  listDatasets,
  loadDataset,
  resolveCacheDir,
  SIMULATOR_DATA_CHOICES,
  type DatasetName,
  type SimulatorDataChoice,
} from './index.ts';
import { rawCacheDir } from './cache.ts';
import { fetchAll, HostUnreachableError } from './fetch.ts';
import { commandLine } from '../core/launcher.ts';

/** Adds the ways to get the data without the unreachable host to its error. */
function withAlternatives(e: unknown, others: string): never {
  if (e instanceof HostUnreachableError) e.message += `; ${others}`;
  throw e;
}

function datasetName(value: unknown): DatasetName {
  const s = String(value);
  if (!isDatasetName(s)) throw new UsageError(`unknown dataset '${s}'; known datasets: ${DATASET_NAMES.join(', ')}`);
  return s;
}

export interface CliIO {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

const processIO: CliIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Checks PRORL_CACHE_DIR and PRORL_FETCH_BASE_URL (an http(s) URL when set): a UsageError naming the variable. */
export function checkDataEnv(env: NodeJS.ProcessEnv = process.env): void {
  checkCacheDirEnv(env);
  const base = env.PRORL_FETCH_BASE_URL;
  if (base !== undefined && base !== '') {
    let url: URL | null = null;
    try {
      url = new URL(base);
    } catch {
      // reported below
    }
    if (url === null || !/^https?:$/.test(url.protocol)) throw new UsageError(`PRORL_FETCH_BASE_URL=${base} is not an http(s) URL`);
  }
}

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const err = (s: string) => io.err(`${s}\n`);
  let code = 0;
  const run = (fn: () => Promise<void>) => async () => {
    try {
      checkDataEnv(); // the variables this command reads, before it writes anything (a bad one: exit 2)
      await fn();
    } catch (e) {
      io.err(describeError('data', e));
      code = exitCodeOf(e);
    }
  };
  await yargs(argv)
    .scriptName(commandLine('data'))
    .usage('$0 <command> [options]')
    .option('cache-dir', { type: 'string', describe: 'cache folder (default: PRORL_CACHE_DIR, else ~/.cache/prorec-gym)' })
    .command(
      'list',
      'show where each dataset would be loaded from',
      (y) =>
        y.option('data-dir', { type: 'string', describe: 'a folder holding the data (searched alone)' }).option('json', { type: 'boolean', default: false }),
      (args) =>
        run(async () => {
          const list = listDatasets({ dataDir: args['data-dir'], cacheDir: args['cache-dir'] });
          if (args.json) {
            io.out(`${JSON.stringify(list, null, 2)}\n`);
            return;
          }
          for (const d of list) {
            io.out(`${d.name.padEnd(6)} ${d.source ? `${d.source.kind} in ${d.source.dir} (${d.source.via})` : 'NOT AVAILABLE'}  [${d.title}]\n`);
            for (const p of d.places) io.out(`         ${p.found ? `found ${p.found}` : 'nothing'.padEnd(13)}  ${p.dir} (${p.via})\n`);
            if (!d.source) io.out(`         to get it: ${DATASETS[d.name].howToGet}\n`);
          }
        })(),
    )
    .command(
      'stats <name>',
      'statistics of a dataset (a table, or --json)',
      (y) =>
        y
          .positional('name', { type: 'string', describe: DATASET_NAMES.join(' | ') })
          .option('data-dir', { type: 'string', describe: 'a folder holding the data (searched alone)' })
          .option('seed', { type: 'number', default: 0, describe: 'seed of the splits' })
          .option('strict', { type: 'boolean', default: false, describe: 'fail on records naming unknown items' })
          .option('json', { type: 'boolean', default: false })
          .option('notes', { type: 'boolean', default: true, describe: 'print the dataset notes' })
          .option('cache', { type: 'boolean', default: true, describe: 'use the compiled cache (--no-cache to rebuild)' })
          .option('simulator-data', {
            choices: SIMULATOR_DATA_CHOICES,
            default: 'release' as SimulatorDataChoice,
            describe: "what the simulators learn from: the release's windows, or the raw logs mapped to the release's items",
          }),
      (args) =>
        run(async () => {
          const name = datasetName(args.name);
          if (!Number.isInteger(args.seed)) throw new UsageError(`--seed must be an integer, got ${args.seed}`);
          const t0 = performance.now();
          const ds = await loadDataset(name, {
            dataDir: args['data-dir'],
            cacheDir: args['cache-dir'],
            seed: args.seed,
            strict: args.strict,
            useCache: args.cache,
            simulatorData: args['simulator-data'],
            log: args.json ? () => {} : err,
          });
          const ms = performance.now() - t0;
          const stats = datasetStats(ds);
          if (args.json) {
            io.out(`${JSON.stringify({ ...stats, loadMs: Math.round(ms), notes: ds.meta.notes }, null, 2)}\n`);
            return;
          }
          io.out(`${formatStats(stats)}\n`);
          if (args.notes) io.out(`\nnotes:\n${ds.meta.notes.map((n) => `  - ${n}`).join('\n')}\n`);
          io.out(`\nloaded in ${Math.round(ms)} ms\n`);
        })(),
    )
    .command(
      'fetch <name>',
      `download the public source files into the cache (verified, resumable); ${PRORL_RELEASE.name}: the official release's data files`,
      (y) =>
        y
          .positional('name', { type: 'string', describe: `${PRORL_RELEASE.name} | ${DATASET_NAMES.join(' | ')}` })
          .option('allow-unverified', { type: 'boolean', default: false, describe: 'accept files with no recorded SHA-256 (the digest is printed and stored)' })
          .option('base-url', {
            type: 'string',
            describe: 'download from a mirror holding the same file names (default: PRORL_FETCH_BASE_URL, else the original hosts)',
          }),
      (args) =>
        run(async () => {
          if (args.name === PRORL_RELEASE.name) {
            const dir = rawCacheDir(resolveCacheDir(args['cache-dir']), PRORL_RELEASE.name);
            err(`${PRORL_RELEASE.name}: ${PRORL_RELEASE_FILES.length} files of ${PRORL_RELEASE.repository} at commit ${PRORL_RELEASE.commit}`);
            const files = await fetchAll(PRORL_RELEASE_FILES, dir, { baseUrl: args['base-url'] ?? process.env.PRORL_FETCH_BASE_URL, log: err }).catch(
              (e: unknown) =>
                withAlternatives(
                  e,
                  `or point --data-dir or PRORL_DATA_DIR at a copy of the release's datasets/ folder (data/README.md). synthetic-v0 needs no data files.`,
                ),
            );
            for (const f of files) io.out(`${f.file}  sha256 ${f.sha256}\n`);
            io.out(
              `${PRORL_RELEASE.name}: files are in ${dir}; loadDataset('ml-1m' | 'steam' | 'books') finds them there (after --data-dir, PRORL_DATA_DIR and fetched raw files).\n`,
            );
            return;
          }
          const name = datasetName(args.name);
          const dir = rawCacheDir(resolveCacheDir(args['cache-dir']), name);
          const files = await fetchAll(DATASETS[name].fetch, dir, {
            allowUnverified: args['allow-unverified'],
            baseUrl: args['base-url'] ?? process.env.PRORL_FETCH_BASE_URL,
            log: err,
          }).catch((e: unknown) => withAlternatives(e, `other ways to get ${name}: ${DATASETS[name].howToGet} synthetic-v0 needs no data files.`));
          for (const f of files) io.out(`${f.file}  sha256 ${f.sha256}${f.verified ? '' : '  (UNVERIFIED)'}\n`);
          io.out(`${name}: files are in ${dir}; loadDataset('${name}') finds them there.\n`);
        })(),
    )
    .demandCommand(1, 'name a command: list, stats <name> or fetch <name>')
    .strict()
    .help()
    // Return instead of exiting, so the exit code is ours and tests can run the CLI in-process.
    .exitProcess(false)
    .fail((msg, e) => {
      if (e) throw e;
      err(msg);
      err(`known datasets: ${DATASET_NAMES.join(', ')}; run with --help for usage`);
      code = 2;
    })
    .parseAsync();
  return code;
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly)
  runCli(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
