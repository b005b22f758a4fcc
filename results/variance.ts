/**
 * The estimator-variance result file (`npm run bench -- variance --out DIR/estimator-variance.json`):
 * per estimator, the norm of the mean gradient, the trace of the gradient covariance of one batch's
 * estimate, their signal-to-noise ratio and the mean gradient's cosine with REINFORCE's, exactly on
 * a small MDP and by Monte Carlo at a fixed checkpoint (docs/design.md §4.2, §4.6). The report reads
 * it from a run folder beside the result files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { readJsonFile, validate } from '../core/validate.ts';

/** Where a run folder keeps its variance study. */
export const VARIANCE_FILE = 'estimator-variance.json';

export const VarianceRowSchema = Type.Object(
  {
    label: Type.String(),
    /** ‖E g‖ */
    meanNorm: Type.Number(),
    /** tr Cov(g) of one batch's estimate */
    traceCov: Type.Number(),
    /** ‖E g‖² / tr Cov(g); null when tr Cov(g) is 0 (no variance: infinite, which JSON cannot hold) */
    snr: Type.Union([Type.Number(), Type.Null()]),
    /** cos(E g, E g_REINFORCE) */
    cosineToReinforce: Type.Number(),
  },
  { additionalProperties: false },
);
export type VarianceRow = Static<typeof VarianceRowSchema>;

export const VarianceStudySchema = Type.Object(
  {
    kind: Type.Literal('estimator-variance'),
    version: Type.Literal(1),
    exact: Type.Object({ description: Type.String(), groupSize: Type.Integer(), rows: Type.Array(VarianceRowSchema) }, { additionalProperties: false }),
    monteCarlo: Type.Union([
      Type.Object(
        {
          env: Type.String(),
          checkpoint: Type.String(),
          batches: Type.Integer({ minimum: 2 }),
          casesPerBatch: Type.Integer(),
          groupSize: Type.Integer(),
          seed: Type.Integer(),
          rows: Type.Array(VarianceRowSchema),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);
export type VarianceStudy = Static<typeof VarianceStudySchema>;

/** The variance study of run folder `dir` (DIR/estimator-variance.json), validated; null when there is none. */
export function readVarianceStudy(dir: string): VarianceStudy | null {
  const file = path.join(dir, VARIANCE_FILE);
  if (!existsSync(file)) return null;
  const raw = readJsonFile(file);
  return validate(VarianceStudySchema, raw, file);
}
