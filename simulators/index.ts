/**
 * Learned user simulators (SASRec, GRU4Rec) for the environment: train on a Dataset, cache a
 * versioned checkpoint, load it back as a `UserSimulator`.
 *
 *   const reward = await loadOrTrainSimulator({ dataset, model: 'sasrec', seed: 1 });
 *   const { reward, evaluator } = await loadSimulatorPair({ dataset, reward: { model: 'sasrec', seed: 1 }, evaluator: { model: 'gru4rec', seed: 1 } });
 *
 * Checkpoints live in `<cacheDir>/sim/` (cacheDir: option, else PRORL_CACHE_DIR, else
 * ~/.cache/prorec-gym). The file name carries the dataset name and hash, model, seed, a hash of the
 * hyperparameters and the format version, so changed data or settings never load a stale model.
 * When the cache has none, a shipped pre-trained checkpoint of the same name is used if it passes
 * its checks, including a recomputation of its test metrics (simulators/pretrained.ts).
 */
import { cacheDir } from '../core/cache-dir.ts';
import { commandLine } from '../core/launcher.ts';
import { ConfigError, UsageError } from '../core/errors.ts';
import { stableHash } from '../core/hash.ts';
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import { ensureBackend } from './runtime.ts';
import { createModel, paramValues } from './model.ts';
import { TfSimulator } from './batch.ts';
import { ShardedSimulator } from './shard.ts';
import type { UserSimulator } from './simulator.ts';
import type { SequenceModel } from './model.ts';
import {
  CheckpointError,
  CHECKPOINT_VERSION,
  readCheckpoint,
  writeCheckpoint,
  type CheckpointHeader,
  type LoadedCheckpoint,
  type TensorEntry,
} from './checkpoint.ts';
import { resolveConfigs, simulatorId, trainSimulator, type TrainOptions } from './train.ts';
import { trainingStatePath } from './resume.ts';
import type { ModelConfig, ModelKind, TrainConfig } from './config.ts';
import { explainPretrainedMiss, findPretrained, PRETRAINED_DIR, verifyPretrained, VERIFY_TOLERANCE } from './pretrained.ts';
import { writeFileAtomic, WriteError } from '../core/io.ts';

export { trainSimulator, type TrainOptions, type TrainResult } from './train.ts';
export { evaluateSimulator, leaveOneOut, type EvaluationReport } from './evaluate.ts';
export { trainingStatePath } from './resume.ts';
export {
  PRETRAINED_DIR,
  VERIFY_TOLERANCE,
  readPretrainedManifest,
  shipCheckpoint,
  findPretrained,
  explainPretrainedMiss,
  verifyPretrained,
  type PretrainedEntry,
  type PretrainedManifest,
  type PretrainedCheck,
  type PretrainedRequest,
} from './pretrained.ts';
export { TfSimulator, NonFiniteScoresError } from './batch.ts';
export { ShardedSimulator } from './shard.ts';

/** A trained simulator: the UserSimulator contract plus access to its model and item vectors. */
export interface LearnedSimulator extends UserSimulator {
  readonly model: SequenceModel;
  /** e'_i = [e_i, b_i] row-major [numItems × stateDim]: CTR_i = sigmoid(u(s)·e'_i). */
  itemVectors(): Float32Array;
  /** Releases tensors (and stops shard workers). */
  dispose(): void | Promise<void>;
}

/**
 * Worker threads per simulator for batches of 256 rows or more: option, else PRORL_SIM_WORKERS,
 * else one when the machine has a second core (wasm in Node is single-threaded).
 */
export function defaultWorkers(vars: NodeJS.ProcessEnv = process.env): number {
  const env = vars.PRORL_SIM_WORKERS;
  if (env !== undefined && env !== '') {
    const n = /^\s*\d+\s*$/.test(env) ? Number(env) : NaN;
    if (!Number.isSafeInteger(n)) throw new UsageError(`PRORL_SIM_WORKERS must be a non-negative integer, got '${env}'`);
    return n;
  }
  return os.availableParallelism() >= 2 ? 1 : 0;
}

/** Wraps a simulator in row shards over `workers` threads (none: returned as is). */
export async function withWorkers(simulator: TfSimulator, seed: number, workers: number, log?: (line: string) => void): Promise<LearnedSimulator> {
  if (workers <= 0) return simulator;
  try {
    return await ShardedSimulator.create(simulator, { seed, workers });
  } catch (e) {
    log?.(`simulator ${simulator.id}: shard workers unavailable (${(e as Error).message}); running on one thread`);
    return simulator;
  }
}
export { CheckpointError, CHECKPOINT_VERSION, readCheckpoint, type CheckpointHeader } from './checkpoint.ts';
export {
  MODEL_KINDS,
  SIMULATOR_DEFAULTS_BY_DATASET,
  datasetDefaults,
  resolveModelConfig,
  resolveTrainConfig,
  type ModelKind,
  type ModelConfig,
  type TrainConfig,
} from './config.ts';

export function defaultCacheDir(): string {
  return cacheDir();
}

export interface SimulatorSpec {
  dataset: Dataset;
  model: ModelKind;
  seed: number;
  config?: Partial<ModelConfig>;
  train?: Partial<TrainConfig>;
  cacheDir?: string;
}

export function checkpointPath(spec: SimulatorSpec): string {
  const { config, train } = resolveConfigs(spec.model, spec.config, spec.train, spec.dataset.name);
  const settings = stableHash({ config, train }).slice(0, 8);
  const dataHash = stableHash(spec.dataset.meta.hash).slice(0, 12);
  const name = `${spec.dataset.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${spec.model}-seed${spec.seed}-${dataHash}-${settings}.v${CHECKPOINT_VERSION}.simckpt`;
  return path.join(spec.cacheDir ?? defaultCacheDir(), 'sim', name);
}

/** Loads a checkpoint file as a simulator, refusing one from another dataset or model. */
export async function loadSimulator(
  file: string,
  expect: { dataset?: Dataset; model?: ModelKind } = {},
): Promise<{ simulator: TfSimulator; header: CheckpointHeader }> {
  await ensureBackend({ quiet: true });
  const { header, values } = readCheckpoint(file, { datasetName: expect.dataset?.name, datasetHash: expect.dataset?.meta.hash, model: expect.model });
  if (expect.dataset && expect.dataset.items.count !== header.dataset.numItems)
    throw new ConfigError(`simulator checkpoint ${file}: has ${header.dataset.numItems} items, the dataset ${expect.dataset.items.count}`);
  return { simulator: simulatorFromCheckpoint({ header, values }), header };
}

/** The simulator a decoded checkpoint holds (the backend must be ready). */
function simulatorFromCheckpoint({ header, values }: LoadedCheckpoint): TfSimulator {
  const model = createModel(header.config, header.dataset.numItems, header.seed, values);
  return new TfSimulator(model, simulatorId(header.model, header.dataset.name, header.seed));
}

export function saveSimulator(file: string, simulator: TfSimulator, description: Parameters<typeof writeCheckpoint>[1]): void {
  const tensors = new Map<string, TensorEntry>();
  const values = paramValues(simulator.model.params);
  for (const [name, v] of simulator.model.params) tensors.set(name, { shape: v.shape.slice(), values: values.get(name)! });
  writeCheckpoint(file, description, tensors);
}

export interface LoadOrTrainOptions extends SimulatorSpec {
  log?: (line: string) => void;
  progress?: boolean;
  /** Shard worker threads (see defaultWorkers). */
  workers?: number;
  /** Retrain even if a checkpoint exists (cached or shipped). */
  retrain?: boolean;
  /**
   * The folder of shipped pre-trained checkpoints to look in when the cache has none
   * (simulators/pretrained.ts); default PRETRAINED_DIR, null: never use one.
   */
  pretrainedDir?: string | null;
}

/**
 * A loud warning when a simulator is not clearly better than popularity on its own test items
 * (CheckpointHeader.metrics.versusPopularity), or null when it is.
 */
export function popularityWarning(header: CheckpointHeader): string | null {
  const m = header.metrics;
  if (m.versusPopularity.clearlyBetter) return null;
  return (
    `WARNING: simulator ${simulatorId(header.model, header.dataset.name, header.seed)} is NOT clearly better than popularity on its test items ` +
    `(HR@10 ${m.test.hr10.toFixed(4)} vs ${m.popularityTest.hr10.toFixed(4)}, NDCG@10 ${m.test.ndcg10.toFixed(4)} vs ${m.popularityTest.ndcg10.toFixed(4)}; ` +
    `95% lower bounds of the differences ${m.versusPopularity.hr10DiffLow.toFixed(4)} / ${m.versusPopularity.ndcg10DiffLow.toFixed(4)}): rewards it gives are close to popularity's`
  );
}

/**
 * The cached simulator for (dataset, model, seed, settings), or, on first use, a newly trained one
 * (with a notice, progress and the checkpoint written atomically). Training writes its state after
 * every epoch (`<checkpoint>.simstate`); a later call resumes from it, so a stopped training loses
 * at most one epoch. A cached file that is corrupt or from another format version raises a
 * CheckpointError naming the file. A simulator that is not clearly better than popularity is
 * announced with a warning (`popularityWarning`).
 */
export async function loadOrTrainSimulator(opts: LoadOrTrainOptions): Promise<LearnedSimulator> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const workers = opts.workers ?? defaultWorkers();
  const file = checkpointPath(opts);
  const statePath = trainingStatePath(file);
  if (!opts.retrain && existsSync(file)) {
    let loaded: Awaited<ReturnType<typeof loadSimulator>>;
    try {
      loaded = await loadSimulator(file, { dataset: opts.dataset, model: opts.model });
    } catch (e) {
      if (e instanceof CheckpointError)
        e.message += ` (delete the file and it is trained anew on next use; or retrain it now: ${commandLine('sim', `train --env ${opts.dataset.name} --model ${opts.model} --seed ${opts.seed} --retrain`)}, with the same settings)`;
      throw e;
    }
    const { simulator, header } = loaded;
    log(
      `simulator ${simulator.id}: loaded ${file} (test HR@10 ${header.metrics.test.hr10.toFixed(4)} NDCG@10 ${header.metrics.test.ndcg10.toFixed(4)}, ` +
        `popularity ${header.metrics.popularityTest.hr10.toFixed(4)} / ${header.metrics.popularityTest.ndcg10.toFixed(4)}; trained ${header.metrics.epochs} epochs on ${header.backend})`,
    );
    const warning = popularityWarning(header);
    if (warning) log(warning);
    return withWorkers(simulator, opts.seed, workers, log);
  }
  if (!opts.retrain && opts.pretrainedDir !== null) {
    const shipped = await loadPretrained(opts, file, log);
    if (shipped) return withWorkers(shipped, opts.seed, workers, log);
  }
  if (opts.retrain) rmSync(statePath, { force: true });
  log(
    `simulator ${simulatorId(opts.model, opts.dataset.name, opts.seed)}: no checkpoint at ${file}; ` +
      (existsSync(statePath)
        ? `resuming its training from ${statePath}`
        : 'training it now (one-off; cached afterwards; progress is saved after every epoch, so it can be stopped and resumed)'),
  );
  const trainOpts: TrainOptions = {
    dataset: opts.dataset,
    model: opts.model,
    seed: opts.seed,
    config: opts.config,
    train: opts.train,
    log,
    progress: opts.progress,
    statePath,
  };
  let result: Awaited<ReturnType<typeof trainSimulator>>;
  try {
    result = await trainSimulator(trainOpts);
  } catch (e) {
    if (e instanceof CheckpointError) e.message += ` (delete ${statePath}, or pass retrain: true / --retrain, to train anew)`;
    throw e;
  }
  const { simulator, description } = result;
  try {
    saveSimulator(file, simulator, description);
  } catch (e) {
    if (!(e instanceof WriteError)) throw e;
    // The trained weights are in memory: use them; the training state stays for the next process.
    log(`warning: simulator ${simulator.id}: ${e.message}; using the trained simulator without caching it (its training state ${statePath} is kept)`);
    return withWorkers(simulator, opts.seed, workers, log);
  }
  rmSync(statePath, { force: true });
  log(`simulator ${simulator.id}: checkpoint written to ${file}`);
  const warning = popularityWarning(readCheckpoint(file).header);
  if (warning) log(warning);
  return withWorkers(simulator, opts.seed, workers, log);
}

/**
 * The shipped pre-trained checkpoint for `opts` (simulators/pretrained.ts), checked, loaded,
 * verified against its recorded test metrics and copied to the cache `file`; null (with the reason
 * logged) when none is shipped for these data and settings or one fails a check.
 */
async function loadPretrained(opts: LoadOrTrainOptions, file: string, log: (line: string) => void): Promise<TfSimulator | null> {
  const { config, train } = resolveConfigs(opts.model, opts.config, opts.train, opts.dataset.name);
  const id = simulatorId(opts.model, opts.dataset.name, opts.seed);
  const request = { file: path.basename(file), dataset: opts.dataset, model: opts.model, config, train };
  const found = findPretrained(request, opts.pretrainedDir ?? PRETRAINED_DIR);
  if (found === null) {
    const miss = explainPretrainedMiss({ ...request, seed: opts.seed }, opts.pretrainedDir ?? PRETRAINED_DIR);
    if (miss) log(`simulator ${id}: no shipped pre-trained checkpoint matches this run: ${miss}`);
    return null;
  }
  if (!found.ok) {
    log(`simulator ${id}: the shipped pre-trained checkpoint is not used: ${found.reason}`);
    return null;
  }
  const t0 = performance.now();
  await ensureBackend({ quiet: true });
  const simulator = simulatorFromCheckpoint(found.checkpoint);
  const { header } = found.checkpoint;
  const check = await verifyPretrained(simulator, opts.dataset, header);
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const figures =
    `test HR@10 ${check.hr10.toFixed(4)} NDCG@10 ${check.ndcg10.toFixed(4)} on ${check.count} items recomputed here, ` +
    `${check.recorded.hr10.toFixed(4)} / ${check.recorded.ndcg10.toFixed(4)} recorded at training`;
  if (!check.ok) {
    simulator.dispose();
    log(`simulator ${id}: the shipped pre-trained checkpoint ${found.path} is not used: ${figures} (tolerance ${VERIFY_TOLERANCE})`);
    return null;
  }
  // A cache that cannot take the copy (a full disk, a read-only folder) costs nothing here: the
  // verified shipped file is used in place, and the warning names the file and folder.
  let cached = `cached it as ${file}`;
  try {
    writeFileAtomic(file, found.bytes);
  } catch (e) {
    if (!(e instanceof WriteError)) throw e;
    cached = `used it in place: it could not be copied to the cache (${e.message})`;
    log(`warning: simulator ${id}: ${e.message}; using the verified shipped checkpoint ${found.path} in place`);
  }
  log(
    `simulator ${id}: loaded the shipped pre-trained checkpoint ${found.path} (same data and settings; ${figures}; ` +
      `trained ${header.metrics.epochs} epochs on ${header.backend}; verified in ${seconds}s) and ${cached}`,
  );
  const warning = popularityWarning(header);
  if (warning) log(warning);
  return simulator;
}

export interface SimulatorPairOptions {
  dataset: Dataset;
  /** The reward model (the environment's world options resolve these: envs/builtin.ts). */
  reward: { model: ModelKind; seed: number; config?: Partial<ModelConfig>; train?: Partial<TrainConfig> };
  /** The evaluator, trained independently: another architecture or another seed than the reward model. */
  evaluator: { model: ModelKind; seed: number; config?: Partial<ModelConfig>; train?: Partial<TrainConfig> };
  cacheDir?: string;
  log?: (line: string) => void;
  progress?: boolean;
  workers?: number;
  /** See LoadOrTrainOptions.pretrainedDir. */
  pretrainedDir?: string | null;
}

/** The reward model and an independently trained evaluator (docs/design.md §2.7). */
export async function loadSimulatorPair(opts: SimulatorPairOptions): Promise<{ reward: LearnedSimulator; evaluator: LearnedSimulator }> {
  const { reward: r, evaluator: e } = opts;
  if (e.model === r.model && e.seed === r.seed)
    throw new ConfigError(
      `the evaluator must be trained independently of the reward model: choose another architecture or seed than ${r.model} seed ${r.seed}`,
    );
  const common = {
    dataset: opts.dataset,
    cacheDir: opts.cacheDir,
    log: opts.log,
    progress: opts.progress,
    workers: opts.workers,
    pretrainedDir: opts.pretrainedDir,
  };
  const reward = await loadOrTrainSimulator({ ...common, ...r });
  const evaluator = await loadOrTrainSimulator({ ...common, ...e });
  return { reward, evaluator };
}
