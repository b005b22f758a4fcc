/** Reading result folders: DIR/results/*.json, each validated against the result-file schema. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile, ValidationError, validate } from '../core/validate.ts';
import { RESULT_SCHEMA_VERSION, ResultFileSchema, type ResultFile } from './schema.ts';

/** Parses and validates one result file; errors name the file (and the field). */
export function readResult(file: string): ResultFile {
  const raw = readJsonFile(file);
  const version = (raw as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== RESULT_SCHEMA_VERSION) {
    throw new ValidationError(file, [
      `schemaVersion: ${JSON.stringify(version)}; this code reads version ${RESULT_SCHEMA_VERSION} (rerun the benchmark to regenerate it)`,
    ]);
  }
  return validate(ResultFileSchema, raw, file);
}

/** The result files of a run folder (DIR/results/*.json, sorted by name), as [relative file, result]. */
export function readResultEntries(dir: string): [string, ResultFile][] {
  const folder = path.join(dir, 'results');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [path.join('results', f), readResult(path.join(folder, f))]);
}

export function readResults(dir: string): ResultFile[] {
  return readResultEntries(dir).map(([, r]) => r);
}

/**
 * Every readable result file of DIR/results, and one line per file that is not (another schema
 * version, invalid JSON, ...): for rebuilding a leaderboard after a run without failing on an old
 * file that the run did not write.
 */
export function readResultsLenient(dir: string): { results: ResultFile[]; unreadable: string[] } {
  const folder = path.join(dir, 'results');
  if (!existsSync(folder)) return { results: [], unreadable: [] };
  const results: ResultFile[] = [];
  const unreadable: string[] = [];
  for (const f of readdirSync(folder)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    try {
      results.push(readResult(path.join(folder, f)));
    } catch (e) {
      unreadable.push(`${path.join(folder, f)}: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`);
    }
  }
  return { results, unreadable };
}

/** A result without its timings: what two runs of the same config must agree on. */
export function withoutTimings(r: ResultFile): Omit<ResultFile, 'timings'> {
  const { timings: _t, ...rest } = r;
  return rest;
}
