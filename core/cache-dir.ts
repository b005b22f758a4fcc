/**
 * The cache folder of everything trained or built once and reused (datasets, simulators, pre-trained
 * policies): an explicit folder, else PRORL_CACHE_DIR, else ~/.cache/prorec-gym. What is cached is
 * keyed by a hash of everything that produced it, so a cache hit gives exactly what a recomputation
 * would.
 */
import os from 'node:os';
import path from 'node:path';

export function cacheDir(explicit?: string): string {
  return path.resolve(explicit ?? (process.env.PRORL_CACHE_DIR || path.join(os.homedir(), '.cache', 'prorec-gym')));
}
