/** What code produced a result: the package name and version, and the git commit of a checkout. */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../data/paths.ts';

export interface CodeVersion {
  package: string;
  version: string;
  /** The commit of the checkout the code runs from; null for an installed package (or no git). */
  commit: string | null;
  /** In a checkout: whether tracked files differed from `commit` (the run's code is the commit plus local changes). */
  modified?: boolean;
}

/**
 * The package's name and version (its package.json) and, when the package root is itself the top
 * of a git work tree (a checkout), its HEAD commit and whether tracked files had local changes. An installed package inside somebody's git
 * repository records null, not that repository's commit.
 */
export function codeVersion(): CodeVersion {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  let commit: string | null = null;
  let modified: boolean | undefined;
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    if (realpathSync(git('rev-parse', '--show-toplevel')) === realpathSync(repoRoot)) {
      commit = git('rev-parse', 'HEAD') || null;
      if (commit) modified = git('status', '--porcelain', '--untracked-files=no').length > 0;
    }
  } catch {
    commit = null; // no git, or not a work tree
    modified = undefined;
  }
  return { package: pkg.name, version: pkg.version, commit, ...(modified !== undefined ? { modified } : {}) };
}
