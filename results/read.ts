/** Reading result folders: DIR/results/*.json, each validated against the result-file schema. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { stableHash } from '../core/hash.ts';
import { nonFiniteFields } from '../core/io.ts';
import { checkDepth, readJsonFile, ValidationError, validate } from '../core/validate.ts';
import { RESULT_SCHEMA_VERSION, ResultFileSchema, type ResultFile } from './schema.ts';

/**
 * Parses and validates one result file; errors name the file (and the field). The one reader of
 * result files: every tool (leaderboard, merge, gate, report, specificity, fidelity) reads through
 * it, so they agree on which files count. Besides the schema (numbers finite: a hand-edited 1e999 is
 * refused, not read as Infinity), it checks that `run.configHash` is the hash of `run.config`: a
 * file whose config was edited is not the run its hash names.
 */
export function readResult(file: string): ResultFile {
  const raw = readJsonFile(file);
  const version = (raw as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== RESULT_SCHEMA_VERSION) {
    throw new ValidationError(file, [
      `schemaVersion: ${JSON.stringify(version)}; this code reads version ${RESULT_SCHEMA_VERSION} (rerun the benchmark to regenerate it)`,
    ]);
  }
  // Before the recursive walk below: a deeply nested file is refused here, not a stack overflow there.
  checkDepth(raw, file);
  // Everywhere, the typed fields and the free-form ones (configs) alike: JSON.parse reads 1e999 as Infinity.
  const bad = nonFiniteFields(raw);
  if (bad.length)
    throw new ValidationError(
      file,
      bad.map((f) => `${f.replace(/ = (.*)$/, ': $1')} is not a finite number (a value too large for a double, e.g. 1e999)`),
    );
  const result = validate(ResultFileSchema, raw, file);
  checkConfigHash(result, file);
  return result;
}

/** Throws a ValidationError naming `source` when `run.configHash` is not the hash of `run.config`. */
export function checkConfigHash(result: ResultFile, source: string): void {
  const hash = stableHash(result.run.config);
  if (hash !== result.run.configHash) {
    throw new ValidationError(source, [
      `run.configHash: ${result.run.configHash.slice(0, 12)}… is not the hash of run.config (${hash.slice(0, 12)}…): the file was edited after the run wrote it (rerun it, or restore the file)`,
    ]);
  }
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
