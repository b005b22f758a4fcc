/**
 * Reference rows in a run folder: DIR/reference/results/*.json holds the reference results shown
 * beside the user's own (copied there by `bench` from the package's reference set, or computed
 * there by `bench reference`; benchmarks/reference.ts). They are never in DIR/results/: tables,
 * leaderboards and reports read them separately and mark them `(ref)`.
 */
import path from 'node:path';
import { readResultsLenient } from './read.ts';
import type { ResultFile } from './schema.ts';

/** The sub-folder of a run folder that holds its reference results. */
export const REFERENCE_FOLDER = 'reference';

/** The readable reference results of a run folder (DIR/reference/results), and one line per unreadable file. */
export function readReferenceResults(dir: string): { results: ResultFile[]; unreadable: string[] } {
  return readResultsLenient(path.join(dir, REFERENCE_FOLDER));
}
