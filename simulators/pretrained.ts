/**
 * Pre-trained simulator checkpoints shipped with the package, so that a first run on a real
 * environment does not spend an hour training its user models (ml-1m's SASRec took 72 minutes on
 * 2 cores). They are the checkpoints `loadOrTrainSimulator` would write to its cache, under the same
 * file names (dataset name and data hash, model, seed, settings hash, format version), listed in
 * `simulators/pretrained/manifest.json` with each file's size and sha256.
 *
 * A shipped checkpoint is used only when the cache has none and it passes every check, in order:
 * 1. the manifest lists the exact file name the cache would use (same data hash and settings hash);
 * 2. the file's size and sha256 are the manifest's;
 * 3. its header names the same dataset (name and content hash) and model, its weights' checksum
 *    holds (readCheckpoint), and its model and training configs equal, field by field, the ones this
 *    run resolves (not only their 8-character hash);
 * 4. the weights, loaded on this machine's backend, score the simulator's own held-out test items
 *    (the last item of every simulator sequence) to the HR@10 and NDCG@10 recorded at training, within
 *    `VERIFY_TOLERANCE` (ranks may move by a few items across backends' float round-off).
 * Its bytes are then written into the cache (so later runs load it directly). Any failed check is reported
 * with its reason and the simulator is trained as before: a shipped file never silently replaces a
 * model that this run's data or settings would not have produced.
 *
 * `npm run sim -- ship --env all` copies the cached default simulators into the folder and rewrites
 * the manifest (simulators/cli.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Type, type Static } from '@sinclair/typebox';
import { readJsonFile, validate } from '../core/validate.ts';
import { writeFileAtomic, writeJsonAtomic } from '../core/io.ts';
import { withFolderLock } from '../core/lock.ts';
import type { Dataset } from '../data/dataset.ts';
import { decodeCheckpoint, type CheckpointHeader, type LoadedCheckpoint } from './checkpoint.ts';
import { ModelKindSchema, type ModelConfig, type ModelKind, type TrainConfig } from './config.ts';
import { leaveOneOut, metricsFromRanks, simulatorTargetStatsInterruptible } from './evaluate.ts';
import type { UserSimulator } from './simulator.ts';
import { simulatorTrainSequences } from './train.ts';

/** The folder of shipped checkpoints (beside this module, in the sources and in the built package). */
export const PRETRAINED_DIR = fileURLToPath(new URL('./pretrained/', import.meta.url));
export const PRETRAINED_MANIFEST = 'manifest.json';
export const PRETRAINED_FORMAT = 'prorec-gym/pretrained-simulators';

/**
 * Largest accepted difference, in HR@10 and in NDCG@10, between the test metrics recomputed on load
 * and the ones recorded at training (0.002 is about 10 of ml-1m's 5,248 test items changing side of
 * rank 10; the same backend reproduces them exactly).
 */
export const VERIFY_TOLERANCE = 0.002;

export const PretrainedEntrySchema = Type.Object(
  {
    /** The checkpoint's file name in the folder: the cache's name for it (simulators/index.ts, checkpointPath). */
    file: Type.String({ pattern: '^[A-Za-z0-9_.-]+\\.simckpt$' }),
    bytes: Type.Integer({ minimum: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    dataset: Type.String(),
    /** The dataset's content hash (Dataset.meta.hash). */
    datasetHash: Type.String(),
    model: ModelKindSchema,
    seed: Type.Integer(),
    /** Test HR@10 / NDCG@10 as recorded in the checkpoint at training. */
    testHr10: Type.Number(),
    testNdcg10: Type.Number(),
    epochs: Type.Integer({ minimum: 0 }),
    trainSeconds: Type.Number(),
  },
  { additionalProperties: false },
);
export type PretrainedEntry = Static<typeof PretrainedEntrySchema>;

export const PretrainedManifestSchema = Type.Object(
  { format: Type.Literal(PRETRAINED_FORMAT), version: Type.Literal(1), checkpoints: Type.Array(PretrainedEntrySchema) },
  { additionalProperties: false },
);
export type PretrainedManifest = Static<typeof PretrainedManifestSchema>;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The manifest of `dir`, validated (an empty one when the folder has none). Throws naming the file when it is invalid. */
export function readPretrainedManifest(dir: string = PRETRAINED_DIR): PretrainedManifest {
  const file = path.join(dir, PRETRAINED_MANIFEST);
  if (!existsSync(file)) return { format: PRETRAINED_FORMAT, version: 1, checkpoints: [] };
  return validate(PretrainedManifestSchema, readJsonFile(file), file);
}

/** What `usePretrained` needs to know about the simulator being asked for. */
export interface PretrainedRequest {
  /** The checkpoint's file name in the cache (basename of checkpointPath). */
  file: string;
  dataset: Dataset;
  model: ModelKind;
  config: ModelConfig;
  train: TrainConfig;
}

/**
 * The outcome of checking a shipped checkpoint (null: none shipped): its bytes and decoded contents
 * (read once, for loading and for the cache), or why it is not used.
 */
export type PretrainedCheck =
  { ok: true; path: string; entry: PretrainedEntry; bytes: Uint8Array; checkpoint: LoadedCheckpoint } | { ok: false; reason: string } | null;

/**
 * Checks 1–3 of the module comment for the shipped checkpoint matching `req` (null when the folder
 * ships none under that name; `{ok: false, reason}` when one is shipped but fails a check).
 */
export function findPretrained(req: PretrainedRequest, dir: string = PRETRAINED_DIR): PretrainedCheck {
  const manifest = readPretrainedManifest(dir);
  const entry = manifest.checkpoints.find((c) => c.file === req.file);
  if (!entry) return null;
  const file = path.join(dir, entry.file);
  if (!existsSync(file)) return { ok: false, reason: `${file} is listed in the manifest but missing` };
  const bytes = readFileSync(file);
  if (bytes.length !== entry.bytes) return { ok: false, reason: `${file} has ${bytes.length} bytes, the manifest says ${entry.bytes}` };
  if (sha256(bytes) !== entry.sha256) return { ok: false, reason: `${file}: sha256 differs from the manifest's` };
  let checkpoint: LoadedCheckpoint;
  try {
    checkpoint = decodeCheckpoint(bytes, file, { datasetName: req.dataset.name, datasetHash: req.dataset.meta.hash, model: req.model });
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const { header } = checkpoint;
  if (header.dataset.numItems !== req.dataset.items.count)
    return { ok: false, reason: `${file} has ${header.dataset.numItems} items, the dataset ${req.dataset.items.count}` };
  if (!isDeepStrictEqual(header.config, req.config)) return { ok: false, reason: `${file}: its model config differs from this run's` };
  if (!isDeepStrictEqual(header.train, req.train)) return { ok: false, reason: `${file}: its training config differs from this run's` };
  return { ok: true, path: file, entry, bytes, checkpoint };
}

/** `a` and `b`'s fields that differ, as `prefix.field shipped → here` (compared as JSON). */
function fieldDiffs(prefix: string, shipped: object, here: object): string[] {
  const a = shipped as Record<string, unknown>;
  const b = here as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .filter((k) => !isDeepStrictEqual(a[k], b[k]))
    .map((k) => `${prefix}.${k} ${JSON.stringify(a[k]) ?? 'absent'} shipped, ${JSON.stringify(b[k]) ?? 'absent'} here`);
}

/**
 * When no shipped checkpoint has `req`'s file name (findPretrained returned null) but one is shipped
 * for the same dataset and model: which of the keys in its name differ (the dataset's hash, the seed,
 * model or training settings, field by field), so that a run that trains anyway says why. Null when
 * none is shipped for this dataset and model.
 */
export function explainPretrainedMiss(req: PretrainedRequest & { seed: number }, dir: string = PRETRAINED_DIR): string | null {
  const candidates = readPretrainedManifest(dir).checkpoints.filter((c) => c.dataset === req.dataset.name && c.model === req.model);
  if (candidates.length === 0) return null;
  const entry = candidates.find((c) => c.seed === req.seed) ?? candidates[0];
  const file = path.join(dir, entry.file);
  const differences: string[] = [];
  if (entry.datasetHash !== req.dataset.meta.hash)
    differences.push(
      `dataset hash ${entry.datasetHash} shipped, ${req.dataset.meta.hash} here (it covers the data files' contents, the build options and the builders' identity: data/cache.ts)`,
    );
  if (entry.seed !== req.seed) differences.push(`seed ${entry.seed} shipped, ${req.seed} here`);
  try {
    const { header } = decodeCheckpoint(readFileSync(file), file);
    differences.push(...fieldDiffs('config', header.config, req.config), ...fieldDiffs('train', header.train, req.train));
  } catch (e) {
    differences.push(`(its settings could not be read: ${(e as Error).message})`);
  }
  return `${entry.file} is shipped for ${req.dataset.name}/${req.model}, but ${differences.length ? differences.join('; ') : "its name differs from this run's"}`;
}

/**
 * Check 4: the loaded simulator's HR@10 / NDCG@10 on its own held-out test items (the sequences it
 * was trained on, as in simulators/train.ts) against those recorded in `header`. Returns the
 * recomputed metrics and whether they are within VERIFY_TOLERANCE.
 */
export async function verifyPretrained(
  simulator: UserSimulator,
  dataset: Dataset,
  header: CheckpointHeader,
): Promise<{ ok: boolean; hr10: number; ndcg10: number; count: number; recorded: { hr10: number; ndcg10: number } }> {
  // Yields between chunks: a Ctrl-C is handled during the seconds this takes (core/interrupt.ts).
  const stats = await simulatorTargetStatsInterruptible(simulator, leaveOneOut(simulatorTrainSequences(dataset, header.train)).test);
  const m = metricsFromRanks(stats.rank);
  const recorded = header.metrics.test;
  const ok = m.count === recorded.count && Math.abs(m.hr10 - recorded.hr10) <= VERIFY_TOLERANCE && Math.abs(m.ndcg10 - recorded.ndcg10) <= VERIFY_TOLERANCE;
  return { ok, hr10: m.hr10, ndcg10: m.ndcg10, count: m.count, recorded: { hr10: recorded.hr10, ndcg10: recorded.ndcg10 } };
}

/**
 * Adds (or replaces) checkpoint `file` in the folder `dir` and rewrites its manifest (sorted by file
 * name). The file must be a valid checkpoint; it is copied under its own name.
 */
export function shipCheckpoint(file: string, dir: string = PRETRAINED_DIR): PretrainedEntry {
  const bytes = readFileSync(file);
  const { header } = decodeCheckpoint(bytes, file);
  const name = path.basename(file);
  const entry: PretrainedEntry = {
    file: name,
    bytes: bytes.length,
    sha256: sha256(bytes),
    dataset: header.dataset.name,
    datasetHash: header.dataset.hash,
    model: header.model,
    seed: header.seed,
    testHr10: header.metrics.test.hr10,
    testNdcg10: header.metrics.test.ndcg10,
    epochs: header.metrics.epochs,
    trainSeconds: header.metrics.trainSeconds,
  };
  if (path.resolve(path.join(dir, name)) !== path.resolve(file)) writeFileAtomic(path.join(dir, name), bytes);
  // Read, changed and written under the folder's lock (core/lock.ts): two ships at once keep both entries.
  withFolderLock(dir, () => {
    const manifest = readPretrainedManifest(dir);
    const checkpoints = [...manifest.checkpoints.filter((c) => c.file !== name), entry].sort((a, b) => a.file.localeCompare(b.file));
    writeJsonAtomic(path.join(dir, PRETRAINED_MANIFEST), { format: PRETRAINED_FORMAT, version: 1, checkpoints });
  });
  return entry;
}
