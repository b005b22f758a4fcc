/**
 * `bench merge DIR... [--out DIR]`: combines the result folders of shards (a CI matrix's artifacts,
 * or the volumes of a Kubernetes indexed job's pods) into one folder with one leaderboard.
 *
 * - Every result file is validated. A file present in several folders must be the same run
 *   (timings aside); otherwise merge stops with a conflict.
 * - Each shard writes a manifest (DIR/manifests/*.json) naming its matrix (hash), its shard i/n
 *   and its runs. For every matrix seen, merge checks that shards 1..n are all there and that each
 *   listed run has its result file; a missing shard or run is an error unless --allow-partial.
 */
import { ProrecError, type ErrorKind } from '../core/errors.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import yargs from 'yargs';
import { StringEnum, validate } from '../core/validate.ts';
import { writeJsonAtomic } from '../core/io.ts';
import { withFolderLock } from '../core/lock.ts';
import { buildLeaderboard, leaderboardMarkdown, leaderboardTerminal } from '../results/leaderboard.ts';
import { readResultEntries, withoutTimings } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';
import { writeFileAtomic } from '../core/io.ts';

export class MergeError extends ProrecError {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
  get kind(): ErrorKind {
    return this.usage ? 'usage' : 'failure';
  }
}

export const ManifestSchema = Type.Object(
  {
    suite: Type.String(),
    budget: Type.String(),
    matrixHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    matrixSize: Type.Integer({ minimum: 0 }),
    shard: Type.Object({ index: Type.Integer({ minimum: 1 }), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    runs: Type.Array(
      Type.Object(
        {
          index: Type.Integer({ minimum: 0 }),
          file: Type.String(),
          configHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          /** pending: planned (the shard may have been killed); done/skipped: a result file; failed: see error. */
          status: StringEnum(['pending', 'done', 'skipped', 'failed'] as const),
          error: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof ManifestSchema>;

export interface MergeSummary {
  results: ResultFile[];
  files: number;
  matrices: { suite: string; budget: string; matrixHash: string; shards: number[]; count: number; missingShards: number[]; missingRuns: string[] }[];
}

function readManifests(dir: string): Manifest[] {
  const folder = path.join(dir, 'manifests');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(folder, f);
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new MergeError(`${file}: not valid JSON (${(e as Error).message})`, true);
      }
      try {
        return validate(ManifestSchema, raw, file);
      } catch (e) {
        throw new MergeError((e as Error).message, true);
      }
    });
}

/** Merges result folders into `out`; throws MergeError on a conflict or (unless allowPartial) a missing shard. */
export function mergeDirs(dirs: readonly string[], out: string, opts: { allowPartial?: boolean } = {}): MergeSummary {
  if (dirs.length === 0) throw new MergeError('give at least one result folder', true);
  const byFile = new Map<string, { dir: string; result: ResultFile }>();
  const manifests: Manifest[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new MergeError(`${dir}: no such folder`, true);
    const entries = readResultEntries(dir);
    const ms = readManifests(dir);
    if (entries.length === 0 && ms.length === 0) throw new MergeError(`${dir}: no result files (${path.join(dir, 'results')}) and no manifests`, true);
    for (const [rel, result] of entries) {
      const key = rel.split(path.sep).join('/');
      const seen = byFile.get(key);
      if (seen && !isDeepStrictEqual(withoutTimings(seen.result), withoutTimings(result))) {
        const why =
          seen.result.run.configHash !== result.run.configHash
            ? `config hashes ${seen.result.run.configHash.slice(0, 12)} and ${result.run.configHash.slice(0, 12)}`
            : 'same config, different results (another backend or code version?)';
        throw new MergeError(`conflict: ${path.join(seen.dir, rel)} and ${path.join(dir, rel)} differ (${why})`);
      }
      if (!seen) byFile.set(key, { dir, result });
    }
    manifests.push(...ms);
  }

  // Completeness per matrix.
  const matrices = new Map<string, Manifest[]>();
  for (const m of manifests) matrices.set(m.matrixHash, [...(matrices.get(m.matrixHash) ?? []), m]);
  const summary: MergeSummary['matrices'] = [];
  for (const [hash, ms] of matrices) {
    const count = ms[0].shard.count;
    if (ms.some((m) => m.shard.count !== count))
      throw new MergeError(
        `matrix ${hash.slice(0, 12)} (suite ${ms[0].suite}): shards of different counts (${[...new Set(ms.map((m) => m.shard.count))].join(', ')}); shard it the same way everywhere`,
      );
    const shards = [...new Set(ms.map((m) => m.shard.index))].sort((a, b) => a - b);
    const missingShards = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !shards.includes(i));
    const missing = ms.flatMap((m) => m.runs).filter((r) => byFile.get(r.file)?.result.run.configHash !== r.configHash);
    const missingRuns = missing.map((r) =>
      r.status === 'failed' ? `${r.file} (failed: ${r.error ?? 'no message'})` : r.status === 'pending' ? `${r.file} (never finished)` : r.file,
    );
    summary.push({ suite: ms[0].suite, budget: ms[0].budget, matrixHash: hash, shards, count, missingShards, missingRuns: [...new Set(missingRuns)] });
  }
  const incomplete = summary.filter((m) => m.missingShards.length > 0 || m.missingRuns.length > 0);
  if (incomplete.length > 0 && !opts.allowPartial) {
    throw new MergeError(
      incomplete
        .map(
          (m) =>
            `suite ${m.suite} (budget ${m.budget}, matrix ${m.matrixHash.slice(0, 12)}): ${m.missingShards.length ? `missing shard${m.missingShards.length > 1 ? 's' : ''} ${m.missingShards.map((i) => `${i}/${m.count}`).join(', ')}` : ''}${m.missingShards.length && m.missingRuns.length ? '; ' : ''}${m.missingRuns.length ? `${m.missingRuns.length} listed run(s) without a result, e.g. ${m.missingRuns[0]}` : ''}`,
        )
        .join('\n') + '\n(--allow-partial merges what is there)',
    );
  }

  // Written under the output folder's lock (core/lock.ts): a bench or another merge writing into
  // the same folder waits, and never renames a leaderboard over this one's with a stale listing.
  const files = [...byFile.keys()].sort();
  const results = files.map((f) => byFile.get(f)!.result);
  withFolderLock(out, () => {
    // Write the merged folder (sources that already are the output are left as they are).
    for (const key of files) {
      const { dir, result } = byFile.get(key)!;
      const target = path.join(out, key);
      if (path.resolve(dir, key) !== path.resolve(target)) writeJsonAtomic(target, result);
    }
    mkdirSync(path.join(out, 'manifests'), { recursive: true });
    for (const dir of dirs) {
      const folder = path.join(dir, 'manifests');
      if (!existsSync(folder)) continue;
      for (const f of readdirSync(folder).filter((x) => x.endsWith('.json'))) {
        const target = path.join(out, 'manifests', f);
        if (path.resolve(folder, f) !== path.resolve(target)) writeFileAtomic(target, readFileSync(path.join(folder, f)));
      }
    }
    const lb = buildLeaderboard(results);
    writeJsonAtomic(path.join(out, 'leaderboard.json'), lb);
    writeFileAtomic(path.join(out, 'leaderboard.md'), leaderboardMarkdown(lb));
  });
  return { results, files: files.length, matrices: summary };
}

export async function mergeMain(args: string[], io: { out(t: string): void; err(t: string): void }): Promise<number> {
  let argv;
  try {
    argv = await yargs(args)
      .scriptName('bench merge')
      .usage('$0 DIR... [--out DIR]\n\nCombines the result folders of shards (CI matrix jobs, Kubernetes indexed-job pods) and writes one leaderboard.')
      .option('out', { type: 'string', default: 'runs/merged', describe: 'merged output folder' })
      .option('allow-partial', { type: 'boolean', default: false, describe: 'merge even when shards or runs are missing' })
      .strictOptions()
      .help()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new MergeError(msg, true);
      })
      .parseAsync();
  } catch (e) {
    if (e instanceof MergeError) throw e;
    throw new MergeError((e as Error).message, true);
  }
  if ((argv as { help?: boolean }).help) return 0;
  const dirs = argv._.map(String);
  const s = mergeDirs(dirs, argv.out, { allowPartial: argv['allow-partial'] });
  for (const m of s.matrices) {
    io.err(
      `suite ${m.suite} (budget ${m.budget}): shards ${m.shards.join(', ')} of ${m.count}${m.missingShards.length ? ` (missing ${m.missingShards.join(', ')})` : ''}\n`,
    );
  }
  io.err(`merged ${s.files} result files from ${dirs.length} folders into ${argv.out}\n`);
  io.out(leaderboardTerminal(buildLeaderboard(s.results)));
  return 0;
}
