/**
 * The cache folder of everything trained or built once and reused (datasets, simulators, pre-trained
 * policies): an explicit folder, else PRORL_CACHE_DIR, else ~/.cache/prorec-gym. What is cached is
 * keyed by a hash of everything that produced it, so a cache hit gives exactly what a recomputation
 * would.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './errors.ts';

/** The environment variable that moves the cache folder. */
export const CACHE_DIR_ENV = 'PRORL_CACHE_DIR';

export function cacheDir(explicit?: string): string {
  return path.resolve(explicit ?? (process.env.PRORL_CACHE_DIR || path.join(os.homedir(), '.cache', 'prorec-gym')));
}

/**
 * Checks PRORL_CACHE_DIR before anything is written: set, it must name a folder or a path that does
 * not exist yet (created on first use), not a file, and not be empty (readers differ on what an
 * empty value means). A UsageError naming the variable otherwise.
 */
export function checkCacheDirEnv(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env[CACHE_DIR_ENV];
  if (raw === undefined) return;
  if (raw.trim() === '') throw new UsageError(`${CACHE_DIR_ENV} is set but empty; unset it (the cache is then ~/.cache/prorec-gym) or name a folder`);
  const stat = statSync(path.resolve(raw), { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isDirectory()) throw new UsageError(`${CACHE_DIR_ENV}=${raw} is not a folder (it is a file); name a folder for the cache`);
}
