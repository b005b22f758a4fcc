/**
 * `bench:check --base REF`: the same suite run on another commit, in the same job.
 *
 * A stored baseline goes stale, and a baseline of the previous commit is not the base of a pull
 * request; CI-benchmark tools are criticised for both. The robust practice is to measure the base
 * and the change on the same machine in the same job: this checks REF out in a temporary git
 * worktree (sharing this checkout's node_modules when both lock the same dependencies, else with
 * its own from `npm ci`), runs the suite there with the base's own command line, and returns the folder of its result files; the caller runs the suite here and
 * compares the two with the gate's rule.
 *
 * The suite: a suite *name* is the base's own file of that name (a suite the change edits is
 * compared entry by entry: entries only the change has are reported as new); a suite *path* is the
 * same file for both.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProrecError, UsageError } from '../core/errors.ts';

export class BaseRunError extends ProrecError {
  readonly kind = 'failure';
}

function git(cwd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new UsageError(`--base needs git on the PATH (${r.error.message})`);
  return { ok: r.status === 0, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The checkout that holds `cwd`, and the commit REF names there. */
export function resolveBase(cwd: string, ref: string): { root: string; commit: string } {
  const top = git(cwd, ['rev-parse', '--show-toplevel']);
  if (!top.ok) throw new UsageError(`--base ${ref}: ${cwd} is not inside a git checkout (${top.err})`);
  const c = git(top.out, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!c.ok || !c.out)
    throw new UsageError(`--base ${ref}: no such commit in ${top.out} (a branch, tag or commit; in CI fetch enough history, e.g. fetch-depth: 0)`);
  return { root: top.out, commit: c.out };
}

export interface BaseRunOptions {
  /** The checkout (any folder inside it). */
  cwd: string;
  ref: string;
  /** A suite name, or an absolute path to a suite file. */
  suite: string;
  jobs: number;
  backend?: string;
  runTimeout?: number;
  log: (line: string) => void;
}

export interface BaseRun {
  commit: string;
  /** Where the base's result files are (OUT/results/). */
  out: string;
  /** Removes the worktree and the results. */
  cleanup(): void;
}

/**
 * Runs the suite on commit REF in a temporary worktree. Resolves when the base's run has ended;
 * its failed runs are the base's business (their entries are missing from the comparison, and
 * the caller reports them), but a base that cannot run at all is a BaseRunError.
 */
export async function runSuiteAtBase(o: BaseRunOptions): Promise<BaseRun> {
  const { root, commit } = resolveBase(o.cwd, o.ref);
  const tmp = mkdtempSync(path.join(tmpdir(), 'prorec-base-'));
  const tree = path.join(tmp, 'tree');
  const out = path.join(tmp, 'out');
  const cleanup = () => {
    git(root, ['worktree', 'remove', '--force', tree]);
    rmSync(tmp, { recursive: true, force: true });
    git(root, ['worktree', 'prune']);
  };
  try {
    const add = git(root, ['worktree', 'add', '--detach', '--quiet', tree, commit]);
    if (!add.ok) throw new BaseRunError(`--base ${o.ref}: git worktree add failed: ${add.err}`);
    // Dependencies: this checkout's node_modules when the base locks the same ones, else its own
    // (`npm ci` in the worktree: a change that moves a dependency is measured against the base's).
    const modules = path.join(root, 'node_modules');
    const lock = (dir: string) => (existsSync(path.join(dir, 'package-lock.json')) ? readFileSync(path.join(dir, 'package-lock.json'), 'utf8') : '');
    if (existsSync(path.join(tree, 'node_modules'))) {
      // committed by the base (unusual): used as it is
    } else if (lock(root) === lock(tree)) {
      if (!existsSync(modules)) throw new UsageError(`--base: ${root} has no node_modules (run npm ci first)`);
      symlinkSync(modules, path.join(tree, 'node_modules'), 'dir');
    } else {
      o.log(`bench:check: the base locks other dependencies (package-lock.json differs): npm ci in its worktree`);
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const ci = spawnSync(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: tree, encoding: 'utf8' });
      if (ci.status !== 0)
        throw new BaseRunError(`--base ${o.ref}: npm ci of the base's dependencies failed:\n${(ci.stderr || ci.stdout || String(ci.error)).trim()}`);
    }
    const cli = path.join(tree, 'benchmarks', 'cli.ts');
    if (!existsSync(cli)) throw new BaseRunError(`--base ${o.ref}: commit ${commit.slice(0, 12)} has no benchmarks/cli.ts`);
    const supportsTimeout = readFileSync(cli, 'utf8').includes("'run-timeout'");
    const args = [
      '--conditions=prorec-gym-source',
      '--import',
      'tsx',
      cli,
      '--suite',
      o.suite,
      '--out',
      out,
      '--force',
      '--progress',
      'false',
      '--jobs',
      String(o.jobs),
      ...(o.backend ? ['--backend', o.backend] : []),
      ...(o.runTimeout !== undefined && supportsTimeout ? ['--run-timeout', String(o.runTimeout)] : []),
    ];
    o.log(`bench:check: running suite ${o.suite} at the base ${o.ref} (${commit.slice(0, 12)}) in a temporary worktree`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) o.log(`[base] ${line}`);
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    // Exit 1 is "some runs failed": their entries are missing and the comparison says so.
    if (code !== 0 && code !== 1)
      throw new BaseRunError(`--base ${o.ref}: the suite could not run at ${commit.slice(0, 12)} (exit ${code}; its output is above)`);
    return { commit, out, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}
