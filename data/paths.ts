/** Where things are: the package root and the ProRL release snapshot next to it. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../core/errors.ts';

/**
 * The package root: the nearest folder above this file holding a package.json. In a checkout that
 * is the repository root (this file is data/paths.ts); in the built package (dist/data/)
 * it is the installed package's folder.
 */
export const repoRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new InternalError(`no package.json above ${from}`);
  }
}

/**
 * The ProRL release snapshot: `PRORL_SNAPSHOT_DIR`, else the `shared/datasets/prorl-snapshot` folder
 * that sits next to the repository checkout.
 */
export function snapshotDir(): string {
  return path.resolve(process.env.PRORL_SNAPSHOT_DIR ?? path.resolve(repoRoot, '../shared/datasets/prorl-snapshot'));
}
