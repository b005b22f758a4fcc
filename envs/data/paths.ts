/** Where things are: the repository root and the ProRL release snapshot next to it. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is envs/data/paths.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The ProRL release snapshot: `PRORL_SNAPSHOT_DIR`, else the `shared/datasets/prorl-snapshot` folder
 * that sits next to the repository checkout.
 */
export function snapshotDir(): string {
  return path.resolve(process.env.PRORL_SNAPSHOT_DIR ?? path.resolve(repoRoot, '../shared/datasets/prorl-snapshot'));
}
