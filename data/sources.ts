/**
 * Finding a dataset's source. Places are searched in this order:
 *   1. `dataDir` (the `--data-dir` option): only this folder, when given; nothing else is tried,
 *      so a mistyped folder is an error rather than a silent switch to other data;
 *   2. `PRORL_DATA_DIR`;
 *   3. the cache (`<cacheDir>/raw/<name>`, filled by `npm run data -- fetch <name>`);
 *   4. the release in the cache (`<cacheDir>/raw/prorl-release`, filled by
 *      `npm run data -- fetch prorl-release`);
 *   5. the ProRL release snapshot (`PRORL_SNAPSHOT_DIR`, else the one next to the checkout).
 * Within a folder the formats are tried in this order: the ProRL release layout, RecBole atomic
 * files, the raw public files.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Dataset } from './dataset.ts';
import { buildFromLog } from './build.ts';
import { rawCacheDir } from './cache.ts';
import { DataNotFoundError, SimulatorLogsNotFoundError } from './errors.ts';
import { snapshotDir } from './paths.ts';
import { commandLine, runsFromSources } from '../core/launcher.ts';
import { findRawFiles, rawFileCandidates, rawInputFiles, readRaw } from './raw.ts';
import { findRecBoleFiles, readRecBole, recboleInputFiles } from './recbole.ts';
import type { DatasetName } from './registry.ts';
import { DATASETS, PRORL_RELEASE } from './registry.ts';
import { buildFromRelease, findReleaseFiles, releaseInputFiles } from './release.ts';
import { withLogSimulatorSequences } from './simulator-logs.ts';

export type SourceKind = 'release' | 'recbole' | 'raw';

export interface BuildContext {
  readonly seed: number;
  readonly strict: boolean;
  readonly hash: string;
  readonly log: (s: string) => void;
}

export interface Source {
  readonly name: DatasetName;
  readonly kind: SourceKind;
  /** The folder the files are in. */
  readonly dir: string;
  /** How the folder was chosen ('--data-dir', 'PRORL_DATA_DIR', 'cache', 'snapshot'). */
  readonly via: string;
  /** Every input file (hashed for the cache key). */
  readonly files: readonly string[];
  /** With simulatorData 'logs': the raw interaction file the simulators learn from, and how its folder was chosen. */
  readonly simulatorLogs?: { readonly file: string; readonly via: string };
  build(ctx: BuildContext): Promise<{ dataset: Dataset; droppedRecords: number }>;
}

function isDir(d: string): boolean {
  return existsSync(d) && statSync(d).isDirectory();
}

/** The source of `name` in `dir`, or null. */
export function detectSource(name: DatasetName, dir: string, via: string): Source | null {
  if (!isDir(dir)) return null;
  const release = findReleaseFiles(dir, name);
  if (release)
    return {
      name,
      kind: 'release',
      dir: release.dir,
      via,
      files: releaseInputFiles(release),
      build: async (ctx) => buildFromRelease(name, release, ctx),
    };
  const recbole = findRecBoleFiles(dir, name);
  if (recbole)
    return {
      name,
      kind: 'recbole',
      dir: recbole.dir,
      via,
      files: recboleInputFiles(recbole),
      build: async (ctx) => {
        const { log, notes } = await readRecBole(recbole);
        return {
          dataset: buildFromLog(name, log, {
            seed: ctx.seed,
            hash: ctx.hash,
            source: `recbole:${DATASETS[name].recboleName}`,
            readerNotes: notes,
            log: ctx.log,
          }),
          droppedRecords: 0,
        };
      },
    };
  const raw = findRawFiles(dir, name);
  if (raw)
    return {
      name,
      kind: 'raw',
      dir: raw.dir,
      via,
      files: rawInputFiles(raw),
      build: async (ctx) => {
        ctx.log(`reading ${raw.interactions}`);
        const { log, notes } = await readRaw(raw, ctx.log);
        return {
          dataset: buildFromLog(name, log, { seed: ctx.seed, hash: ctx.hash, source: `raw:${raw.variant}`, readerNotes: notes, log: ctx.log }),
          droppedRecords: 0,
        };
      },
    };
  return null;
}

export interface Place {
  readonly via: string;
  readonly dir: string;
}

/** The folders searched for `name`, in order. */
export function searchPlaces(name: DatasetName, opts: { dataDir?: string; cacheDir: string }): Place[] {
  if (opts.dataDir !== undefined) return [{ via: '--data-dir', dir: path.resolve(opts.dataDir) }];
  const places: Place[] = [];
  if (process.env.PRORL_DATA_DIR) places.push({ via: 'PRORL_DATA_DIR', dir: path.resolve(process.env.PRORL_DATA_DIR) });
  places.push({ via: 'cache', dir: rawCacheDir(opts.cacheDir, name) });
  places.push({ via: `cache (${PRORL_RELEASE.name})`, dir: rawCacheDir(opts.cacheDir, PRORL_RELEASE.name) });
  // The snapshot beside a clone; an installed package has no clone around it (only the variable counts there).
  if (process.env.PRORL_SNAPSHOT_DIR || runsFromSources())
    places.push({ via: process.env.PRORL_SNAPSHOT_DIR ? 'PRORL_SNAPSHOT_DIR' : 'release snapshot', dir: snapshotDir() });
  return places;
}

/** The first source found for `name`; throws a DataNotFoundError saying where it looked. */
export function resolveSource(name: DatasetName, opts: { dataDir?: string; cacheDir: string }): Source {
  const places = searchPlaces(name, opts);
  for (const p of places) {
    const s = detectSource(name, p.dir, p.via);
    if (s) return s;
  }
  throw new DataNotFoundError(
    name,
    places.map((p) => `${p.dir} (${p.via}${isDir(p.dir) ? ', no recognised files' : ', missing'})`),
    `To get it: ${DATASETS[name].howToGet}`,
  );
}

/**
 * The source for simulatorData 'logs': the first ProRL release found in the search order (its cases,
 * whatever raw or RecBole files an earlier place holds) and the first raw interaction logs found in
 * the same places, the simulators' data. Throws a DataNotFoundError without a release, and a
 * SimulatorLogsNotFoundError naming every file looked for without raw logs.
 */
export function resolveReleaseWithLogs(name: DatasetName, opts: { dataDir?: string; cacheDir: string }): Source {
  const places = searchPlaces(name, opts);
  const releasePlace = places.map((p) => ({ p, files: isDir(p.dir) ? findReleaseFiles(p.dir, name) : null })).find((x) => x.files !== null);
  if (!releasePlace?.files)
    throw new DataNotFoundError(
      name,
      places.map((p) => `${p.dir} (${p.via}${isDir(p.dir) ? ', no ProRL release files' : ', missing'})`),
      `simulatorData 'logs' keeps the ProRL release's cases, so it needs the release: ${commandLine('data', `fetch ${PRORL_RELEASE.name}`)}`,
    );
  const rawPlace = places.map((p) => ({ p, files: isDir(p.dir) ? findRawFiles(p.dir, name) : null })).find((x) => x.files !== null);
  if (!rawPlace?.files)
    throw new SimulatorLogsNotFoundError(
      name,
      places.flatMap((p) => rawFileCandidates(p.dir, name).map((f) => `${f} (${p.via})`)),
      `To get them (internet needed): ${commandLine('data', `fetch ${name}${DATASETS[name].fetch.some((f) => f.sha256 === null) ? ' --allow-unverified' : ''}`)} ` +
        `(into ${rawCacheDir(opts.cacheDir, name)}${opts.dataDir !== undefined ? ', which --data-dir / dataDir keeps out of the search: move them into that folder, or leave --data-dir out' : ', where they are found'}), ` +
        `or put them in one of the folders above; or use simulatorData 'release'.`,
    );
  const release = releasePlace.files;
  const raw = rawPlace.files;
  return {
    name,
    kind: 'release',
    dir: release.dir,
    via: releasePlace.p.via,
    files: [...releaseInputFiles(release), ...rawInputFiles(raw)],
    simulatorLogs: { file: raw.interactions, via: rawPlace.p.via },
    build: async (ctx) => {
      const built = await buildFromRelease(name, release, ctx);
      ctx.log(`reading ${raw.interactions} (the simulators' data)`);
      const { log } = await readRaw(raw, ctx.log);
      const dataset = withLogSimulatorSequences(built.dataset, log, { file: raw.interactions, variant: raw.variant, hash: ctx.hash, log: ctx.log });
      return { dataset, droppedRecords: built.droppedRecords };
    },
  };
}
