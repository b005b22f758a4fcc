/**
 * A folder lock for files derived from a folder's contents (a leaderboard from DIR/results, a
 * manifest, a report, a merged folder, a shipped-checkpoint manifest). Several processes may write
 * into one folder at once (two `bench` processes on one --out, duplicate pods of one shard index):
 * each lists the folder, then renames what it derived into place, and without a lock the slower one
 * drops the other's entry. `withFolderLock` runs list-then-write as one critical section.
 *
 * The lock is a directory (`DIR/.prorec-gym.lock`, created with mkdir, which is atomic on local
 * disks and NFS) holding the owner's host, pid and start time. A waiter polls; a lock whose owner
 * is a dead process on this host, or which is older than `staleMs` (another host's), is removed.
 * Locks are re-entrant within a process. Synchronous on purpose: the writers it guards are.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { ProrecError } from './errors.ts';

export const LOCK_NAME = '.prorec-gym.lock';

/** The lock could not be taken in time: names the folder and the holder. */
export class LockTimeoutError extends ProrecError {
  readonly kind = 'failure';
}

interface Owner {
  host: string;
  pid: number;
  thread: number;
  since: string;
}

const held = new Set<string>();

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readOwner(lock: string): Owner | null {
  try {
    return JSON.parse(readFileSync(path.join(lock, 'owner.json'), 'utf8')) as Owner;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the lock at `lock` is stale, or null when its owner may still hold it. */
function staleReason(lock: string, staleMs: number): string | null {
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return null; // gone: the next mkdir decides
  }
  const owner = readOwner(lock);
  if (owner && owner.host === os.hostname() && owner.pid !== process.pid && !alive(owner.pid)) return `its owner (pid ${owner.pid}) has exited`;
  // No owner file yet: its creator is between mkdir and writing it (or died there).
  if (!owner && ageMs > Math.min(staleMs, 10_000)) return 'it has no owner';
  if (ageMs > staleMs) return `it is ${Math.round(ageMs / 1000)}s old`;
  return null;
}

export interface LockOptions {
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number;
  /** A lock older than this is taken over (default 10 minutes: the guarded sections take seconds). */
  staleMs?: number;
  /** Told once when the lock is busy, and when a stale lock is removed (default: standard error). */
  log?: (line: string) => void;
}

/** Runs `fn` holding the lock of folder `dir` (created if missing); see the file comment. */
export function withFolderLock<T>(dir: string, fn: () => T, opts: LockOptions = {}): T {
  const lock = path.join(path.resolve(dir), LOCK_NAME);
  if (held.has(lock)) return fn();
  const release = take(lock, opts);
  try {
    return fn();
  } finally {
    release();
  }
}

/** `withFolderLock` for an asynchronous section (e.g. rendering a report between listing and writing). */
export async function withFolderLockAsync<T>(dir: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = path.join(path.resolve(dir), LOCK_NAME);
  if (held.has(lock)) return fn();
  const release = take(lock, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Acquires `lock` and marks it held by this process; returns the function that releases it. */
function take(lock: string, opts: LockOptions): () => void {
  acquire(lock, opts);
  held.add(lock);
  return () => {
    held.delete(lock);
    rmSync(lock, { recursive: true, force: true });
  };
}

function acquire(lock: string, opts: LockOptions): void {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const staleMs = opts.staleMs ?? 600_000;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const started = Date.now();
  let told = false;
  let wait = 5;
  mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      const owner: Owner = { host: os.hostname(), pid: process.pid, thread: threadId, since: new Date().toISOString() };
      writeFileSync(path.join(lock, 'owner.json'), JSON.stringify(owner));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const stale = staleReason(lock, staleMs);
    if (stale) {
      // Move it aside first: of two processes removing one stale lock, only one rename succeeds.
      const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
      try {
        renameSync(lock, aside);
        rmSync(aside, { recursive: true, force: true });
        log(`removed the stale lock ${lock} (${stale})`);
      } catch {
        // someone else moved it
      }
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      const owner = readOwner(lock);
      throw new LockTimeoutError(
        `${path.dirname(lock)}: still locked after ${Math.round(timeoutMs / 1000)}s by ${owner ? `pid ${owner.pid} on ${owner.host} since ${owner.since}` : 'an unknown process'}; ` +
          `if no such process is running, remove ${lock}`,
      );
    }
    if (!told) {
      const owner = readOwner(lock);
      log(`waiting for ${path.dirname(lock)} (locked by ${owner ? `pid ${owner.pid} on ${owner.host}` : 'another process'})`);
      told = true;
    }
    sleepMs(wait);
    wait = Math.min(wait * 2, 200);
  }
}

/**
 * Tests only: with `PRORL_TEST_PAUSE_AFTER_LIST=FILE`, a writer pauses between listing a folder and
 * writing what it derived from it until FILE exists (at most a minute), so that a test can make two
 * writers overlap deterministically (test/concurrent-writers.test.ts).
 */
export function pauseAfterListing(): void {
  const file = process.env.PRORL_TEST_PAUSE_AFTER_LIST;
  if (!file) return;
  const until = Date.now() + 60_000;
  while (!existsSync(file) && Date.now() < until) sleepMs(20);
}
