/**
 * The three real datasets (MovieLens-1M, Steam, Amazon Books) as the canonical `Dataset`
 * (data/dataset.ts), from whichever source is available: the ProRL release layout, RecBole atomic
 * files or the raw public files (see sources.ts for the search order). A built dataset is cached
 * under a hash of its inputs, so the second load of the same inputs is fast.
 */
import type { Dataset } from './dataset.ts';
import { compiledPath, inputHashes, readCacheEntry, resolveCacheDir, serializeDataset, writeFileAtomic } from './cache.ts';
import { MissingItemsError } from './errors.ts';
import { DATASETS, DATASET_NAMES, isDatasetName, type DatasetName } from './registry.ts';
import { detectSource, resolveReleaseWithLogs, resolveSource, searchPlaces, type SourceKind } from './sources.ts';
import { SIMULATOR_DATA_CHOICES, SIMULATOR_LOGS_VERSION, type SimulatorDataChoice } from './simulator-logs.ts';
import { ConfigError } from '../core/errors.ts';

export { DATASET_NAMES, DATASETS, PRORL_RELEASE, PRORL_RELEASE_FILES, isDatasetName, type DatasetName } from './registry.ts';
export { datasetStats, formatStats, type DatasetStats } from './stats.ts';
export { DataFormatError, DataNotFoundError, MissingItemsError, FetchError, SimulatorLogsNotFoundError } from './errors.ts';
export { SIMULATOR_DATA_CHOICES, SimulatorDataSchema, type SimulatorDataChoice } from './simulator-logs.ts';
export { resolveCacheDir } from './cache.ts';

export interface LoadOptions {
  /** A folder holding the dataset in one of the supported formats; when given, nothing else is searched. */
  readonly dataDir?: string;
  /** The cache folder (default: PRORL_CACHE_DIR, else ~/.cache/prorec-gym). */
  readonly cacheDir?: string;
  /** Seed of every random choice in the build (user splits, test targets of raw logs). Default 0. */
  readonly seed?: number;
  /** Fail when records refer to items missing from the item table, instead of dropping and reporting them. */
  readonly strict?: boolean;
  /** Progress and warnings. */
  readonly log?: (s: string) => void;
  /** Read and write the compiled cache (default true). */
  readonly useCache?: boolean;
  /**
   * What the user simulators learn from (data/simulator-logs.ts): 'release' (default: the loaded
   * data's own sequences, as always), or 'logs': the ProRL release's cases with the simulators'
   * sequences from the raw public logs, mapped to the release's items.
   */
  readonly simulatorData?: SimulatorDataChoice;
}

export const DEFAULT_SEED = 0;

export async function loadDataset(name: DatasetName, opts: LoadOptions = {}): Promise<Dataset> {
  if (!isDatasetName(name)) throw new ConfigError(`unknown dataset '${String(name)}'; known: ${DATASET_NAMES.join(', ')}`);
  const log = opts.log ?? (() => {});
  const cacheDir = resolveCacheDir(opts.cacheDir);
  const seed = opts.seed ?? DEFAULT_SEED;
  const strict = opts.strict ?? false;
  const simulatorData = opts.simulatorData ?? 'release';
  if (!(SIMULATOR_DATA_CHOICES as readonly string[]).includes(simulatorData))
    throw new ConfigError(`simulatorData must be one of ${SIMULATOR_DATA_CHOICES.join(', ')}, got ${JSON.stringify(simulatorData)}`);
  const logs = simulatorData === 'logs';
  const source = logs ? resolveReleaseWithLogs(name, { dataDir: opts.dataDir, cacheDir }) : resolveSource(name, { dataDir: opts.dataDir, cacheDir });
  log(`${name}: ${source.kind} files in ${source.dir} (${source.via})`);
  if (source.simulatorLogs) log(`${name}: the simulators learn from the raw logs ${source.simulatorLogs.file} (${source.simulatorLogs.via})`);
  // The dataset's hash names it to simulators and runs; the cache key also covers the builders' code.
  // 'release' hashes as it always did; 'logs' adds the choice (and the raw files): its simulators are never a release one's.
  const { identity: hash, cacheKey } = inputHashes({
    name,
    kind: source.kind,
    files: source.files,
    options: logs ? { seed, simulatorData, simulatorLogsVersion: SIMULATOR_LOGS_VERSION } : { seed },
  });
  const entry = compiledPath(cacheDir, name, cacheKey);
  if (opts.useCache !== false) {
    const cached = readCacheEntry(entry, log);
    if (cached) {
      if (strict && cached.droppedRecords > 0)
        throw new MissingItemsError(
          name,
          cached.dataset.meta.notes.filter((n) => n.startsWith('missing items: ')).map((n) => n.slice('missing items: '.length)),
        );
      log(`${name}: cached build ${entry}`);
      if (logs) log(`${name}: simulators learn from ${cached.dataset.meta.simulatorData}`);
      return cached.dataset;
    }
  }
  const { dataset, droppedRecords } = await source.build({ seed, strict, hash, log });
  if (opts.useCache !== false) {
    // Only a complete build reaches this point: a failed load leaves the cache untouched.
    try {
      writeFileAtomic(entry, serializeDataset(dataset, droppedRecords));
      log(`${name}: cached as ${entry}`);
    } catch (e) {
      log(`warning: could not write the cache entry ${entry}: ${(e as Error).message}`);
    }
  }
  return dataset;
}

export interface DatasetAvailability {
  readonly name: DatasetName;
  readonly title: string;
  /** The source loadDataset would use, or null. */
  readonly source: { readonly kind: SourceKind; readonly dir: string; readonly via: string } | null;
  /** Every place searched, with what was found there. */
  readonly places: readonly { readonly via: string; readonly dir: string; readonly found: SourceKind | null }[];
}

/** What is available for each dataset and where. */
export function listDatasets(opts: { dataDir?: string; cacheDir?: string } = {}): DatasetAvailability[] {
  const cacheDir = resolveCacheDir(opts.cacheDir);
  return DATASET_NAMES.map((name) => {
    const places = searchPlaces(name, { dataDir: opts.dataDir, cacheDir }).map((p) => {
      const s = detectSource(name, p.dir, p.via);
      return { via: p.via, dir: s?.dir ?? p.dir, found: s?.kind ?? null };
    });
    const first = places.find((p) => p.found !== null);
    return {
      name,
      title: DATASETS[name].title,
      source: first ? { kind: first.found!, dir: first.dir, via: first.via } : null,
      places,
    };
  });
}
