/**
 * Next-item training of a simulator on its own leave-one-out split of `Dataset.simulatorSequences`
 * (simulators/evaluate.ts): every sequence minus its last two items is cut, from its newest end, into
 * windows of at most maxLen + 1 items overlapping by one, so every transition is a target exactly
 * once and the newest window is the full context the model reads at inference. Loss: full-softmax
 * cross-entropy over all N items at every position; Adam (compute/nn/adam.ts); early stopping on the
 * valid items' NDCG@10 (ties broken by their log-likelihood), keeping the best epoch's weights,
 * which are then scored on the test items beside popularity.
 *
 * Resumable: with a `statePath`, the training state is written after every epoch
 * (simulators/resume.ts) and read back on the next call. Epoch e shuffles with the stream
 * `simulator-train/<model>/epoch-<e>/shuffle` of the seed and draws dropout masks from
 * `.../epoch-<e>/dropout`, so a resumed run needs no generator state and ends with the same
 * weights as an uninterrupted one.
 */
import { tf, ensureBackend } from './runtime.ts';
import type { Dataset } from '../data/dataset.ts';
import { itemCounts } from '../data/dataset.ts';
import { Rng } from '../core/rng.ts';
import { progress as progressBar } from '../core/progress.ts';
import { backendInfo } from '../compute/backend.ts';
import { existsSync } from 'node:fs';
import { resolveModelConfig, resolveTrainConfig, type ModelConfig, type ModelKind, type TrainConfig } from './config.ts';
import { assignParams, createModel, mm, paramValues, type SequenceModel } from './model.ts';
import { TfSimulator } from './batch.ts';
import { compareWithPopularity, leaveOneOut, limitHeldOut, metricsFromRanks, popularityRanks, simulatorTargetStatsInterruptible } from './evaluate.ts';
import { onInterrupt, yieldToEventLoop } from '../core/interrupt.ts';
import type { CheckpointDescription, TrainingRecord } from './checkpoint.ts';
import { Adam } from '../compute/nn/index.ts';
import { readTrainingState, writeTrainingState, type TrainingState } from './resume.ts';
import { ConfigError, RunFailure } from '../core/errors.ts';

export interface TrainOptions {
  dataset: Dataset;
  model: ModelKind;
  seed: number;
  /** Overrides of the architecture's defaults (validated). */
  config?: Partial<ModelConfig>;
  /** Overrides of the training defaults (validated). */
  train?: Partial<TrainConfig>;
  /** Where progress lines and notices go (default: stderr). */
  log?: (line: string) => void;
  /** Show a progress bar (TTY) or periodic lines (CI); default true. */
  progress?: boolean;
  /**
   * Training-state file: written (atomically) after every epoch and, when it exists at the start,
   * read to resume from its last epoch. Without it the training cannot resume.
   */
  statePath?: string;
  /** Called after each epoch, once its state is written. */
  onEpoch?: (epoch: number, record: TrainingRecord['history'][number]) => void | Promise<void>;
}

export interface TrainResult {
  simulator: TfSimulator;
  /** Everything a checkpoint header needs besides the tensors. */
  description: CheckpointDescription;
}

export function simulatorId(model: ModelKind, datasetName: string, seed: number): string {
  return `${model}@${datasetName}#seed${seed}`;
}

/**
 * The complete configs of `model`: the schema-wide defaults, then the per-dataset defaults of
 * `datasetName` (SIMULATOR_DEFAULTS_BY_DATASET), then `config` / `train` (validated).
 */
export function resolveConfigs(
  model: ModelKind,
  config?: Partial<ModelConfig>,
  train?: Partial<TrainConfig>,
  datasetName?: string,
): { config: ModelConfig; train: TrainConfig } {
  return {
    config: resolveModelConfig(model, config as Record<string, unknown> | undefined, `${model} config`, datasetName),
    train: resolveTrainConfig(train, 'simulator training config', datasetName, model),
  };
}

/** Windows of at most maxLen + 1 items cut from each sequence's newest end, overlapping by one. */
export function trainingWindows(sequences: readonly (readonly number[])[], maxLen: number): number[][] {
  const windows: number[][] = [];
  for (const s of sequences) {
    for (let end = s.length; end >= 2; end -= maxLen) windows.push(s.slice(Math.max(0, end - maxLen - 1), end));
  }
  return windows;
}

/**
 * Mean softmax cross-entropy of logits [M, N] against one-hot targets, with the gradient written
 * out (softmax − onehot) / M: tfjs's composed log-sum-exp would run wasm's scalar exp over M × N
 * entries twice, where its vectorised softmax runs once. (The one-hot comes from scatterND:
 * wasm's OneHot writes the integer bits of 1 into float32 outputs, 1.4e-45.)
 */
const softmaxCrossEntropy = tf.customGrad(((logits: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
  const probs = tf.softmax(logits);
  const logSumExp = tf.max(logits, 1).sub(tf.log(tf.max(probs, 1)));
  const target = tf.sum(logits.mul(onehot), 1);
  save([probs, onehot]);
  return {
    value: tf.mean(logSumExp.sub(target)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [p, oh] = saved;
      return [p.sub(oh).mul(dy.div(p.shape[0] as number)), tf.zerosLike(oh)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

function batchLoss(model: SequenceModel, windows: number[][], seeds: () => number): tf.Scalar {
  const batch = windows.length;
  const length = windows.reduce((m, w) => Math.max(m, w.length - 1), 1);
  const tokens = new Int32Array(batch * length);
  const positions: number[] = [];
  const targets: number[] = [];
  windows.forEach((w, r) => {
    for (let p = 0; p < w.length - 1; p++) {
      tokens[r * length + p] = w[p];
      positions.push(r * length + p);
      targets.push(w[p + 1]);
    }
  });
  const hidden = model.forward(tf.tensor2d(tokens, [batch, length], 'int32'), seeds);
  const states = tf.gather(hidden.reshape([batch * length, model.outDim]), tf.tensor1d(positions, 'int32'));
  const logits = mm(states as tf.Tensor2D, tf.transpose(model.itemEmbedding())).add(model.itemBias());
  const coordinates = new Int32Array(2 * targets.length);
  targets.forEach((t, m) => {
    coordinates[2 * m] = m;
    coordinates[2 * m + 1] = t;
  });
  const onehot = tf.scatterND(tf.tensor2d(coordinates, [targets.length, 2], 'int32'), tf.ones([targets.length]), [targets.length, model.numItems]);
  return softmaxCrossEntropy(logits, onehot) as tf.Scalar;
}

function shapesOf(model: SequenceModel): Map<string, number[]> {
  return new Map([...model.params].map(([name, v]) => [name, v.shape.slice()]));
}

/** The simulator sequences a simulator learns from and is tested on: all, or the first `train.trainLimit`. */
export function simulatorTrainSequences(dataset: Dataset, train: TrainConfig): readonly (readonly number[])[] {
  return train.trainLimit > 0 ? dataset.simulatorSequences.slice(0, train.trainLimit) : dataset.simulatorSequences;
}

export async function trainSimulator(opts: TrainOptions): Promise<TrainResult> {
  await ensureBackend({ quiet: true });
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const { dataset, model: kind, seed } = opts;
  const { config, train } = resolveConfigs(kind, opts.config, opts.train, dataset.name);
  const numItems = dataset.items.count;
  const sequences = simulatorTrainSequences(dataset, train);
  const split = leaveOneOut(sequences);
  const windows = trainingWindows(split.train, config.maxLen);
  const trainTargets = windows.reduce((n, w) => n + w.length - 1, 0);
  if (trainTargets === 0)
    throw new ConfigError(
      `dataset '${dataset.name}' has no simulator sequence long enough to train on (a sequence needs 4 items: 2 to learn from, a valid and a test item)`,
    );
  const valid = limitHeldOut(split.valid, train.validLimit);
  if (valid.targets.length === 0) throw new ConfigError(`dataset '${dataset.name}' has no simulator sequence of 3 or more items for early stopping`);
  const popularity = itemCounts(numItems, split.train);
  const popularityValid = metricsFromRanks(popularityRanks(popularity, valid.targets));
  const id = simulatorId(kind, dataset.name, seed);
  const datasetKey = { name: dataset.name, hash: dataset.meta.hash };

  const model = createModel(config, numItems, seed);
  const simulator = new TfSimulator(model, id);
  const variables = [...model.params.values()];
  // tf.train.adam's defaults (ε: tfjs's float32 epsilon); moments start as zeros.
  const adam = new Adam(
    { vars: model.params },
    { lr: train.learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-7, weightDecay: 0, clipNorm: 0 },
    { zeroMoments: true, measureNorm: false },
  );
  const shapes = shapesOf(model);
  let history: TrainingRecord['history'] = [];
  let best = { epoch: 0, ndcg10: -1, hr10: 0, logLikelihood: -Infinity, values: new Map<string, Float32Array>() };
  let done = 0;
  try {
    if (opts.statePath && existsSync(opts.statePath)) {
      const state = readTrainingState(opts.statePath, { model: kind, config, train, seed, dataset: datasetKey });
      assignParams(model.params, state.params);
      adam.setState({ step: state.adam.step, m: Object.fromEntries(state.adam.m), v: Object.fromEntries(state.adam.v) });
      best = state.best;
      history = state.history;
      done = state.epoch;
      log(
        `${id}: resuming after epoch ${done} of at most ${train.maxEpochs} from ${opts.statePath} (best so far: epoch ${best.epoch}, valid NDCG@10 ${best.ndcg10.toFixed(4)})`,
      );
    }
  } catch (e) {
    simulator.dispose();
    adam.dispose();
    throw e;
  }
  log(
    `training ${id} for at most ${train.maxEpochs} epochs (patience ${train.patience}): ${dataset.meta.simulatorInteractions} interactions in ${dataset.simulatorSequences.length} sequences` +
      `${train.trainLimit > 0 ? ` (only the first ${sequences.length} used: trainLimit ${train.trainLimit})` : ''}, ` +
      `leave-one-out: ${trainTargets} next-item targets in ${windows.length} windows, ${valid.targets.length} valid and ${split.test.targets.length} test items; ` +
      `${numItems} items; backend ${backendInfo().name}`,
  );

  const batches = Math.ceil(windows.length / train.batchSize);
  const stopped = (epoch: number) => epoch >= train.maxEpochs || (epoch > 0 && epoch - best.epoch >= train.patience);
  const bar = progressBar(id, train.maxEpochs * batches, { enabled: opts.progress !== false, initial: done * batches });
  // Ctrl-C: the loop yields after every batch, so a handler runs within one batch; this one says what is kept.
  let current = done + 1;
  let saved = done;
  const interrupted = () =>
    `${id}: training interrupted in epoch ${current}; ` +
    (opts.statePath && saved > 0
      ? `the state after epoch ${saved} is kept in ${opts.statePath}: the next run with the same data and settings resumes from it`
      : opts.statePath
        ? 'no epoch was complete, nothing is kept'
        : 'nothing is kept (no training-state file)');
  const releaseInterrupt = onInterrupt(interrupted);
  try {
    for (let epoch = done + 1; !stopped(epoch - 1); epoch++) {
      current = epoch;
      const epochStart = performance.now();
      // Per-epoch streams: epoch e's batches and dropout masks depend on (seed, e) only.
      const order = Rng.stream(seed, `simulator-train/${kind}/epoch-${epoch}/shuffle`).shuffle(windows.map((_, i) => i));
      const dropoutRng = Rng.stream(seed, `simulator-train/${kind}/epoch-${epoch}/dropout`);
      const seeds = () => dropoutRng.seed32() >>> 0;
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const chunk = order.slice(b * train.batchSize, (b + 1) * train.batchSize).map((i) => windows[i]);
        const { value: loss, grads } = tf.variableGrads(() => batchLoss(model, chunk, seeds), variables);
        // tf.variableGrads keys gradients by the tfjs variable's name, the optimiser by the parameter's.
        adam.apply(Object.fromEntries([...model.params].map(([key, v]) => [key, grads[v.name]])));
        const value = loss.dataSync()[0];
        loss.dispose();
        tf.dispose(grads);
        if (!Number.isFinite(value)) throw new RunFailure(`training ${id} diverged: loss ${value} at epoch ${epoch}, batch ${b + 1}`);
        lossSum += value;
        bar.update((epoch - 1) * batches + b + 1, `epoch ${epoch}/${train.maxEpochs} loss ${(lossSum / (b + 1)).toFixed(4)}`);
        await yieldToEventLoop();
      }
      simulator.refresh();
      const stats = await simulatorTargetStatsInterruptible(simulator, valid);
      const metrics = metricsFromRanks(stats.rank);
      const logLikelihood = stats.logProb.reduce((a, b) => a + b, 0) / stats.logProb.length;
      const seconds = (performance.now() - epochStart) / 1000;
      const record = { epoch, loss: lossSum / batches, validNdcg10: metrics.ndcg10, validHr10: metrics.hr10, validLogLikelihood: logLikelihood, seconds };
      history.push(record);
      // NDCG@10 decides; on a tie (small valid sets can score 0 for many epochs) the valid
      // log-likelihood of the held-out items does, so training does not stop on a flat zero.
      const improved = metrics.ndcg10 > best.ndcg10 || (metrics.ndcg10 === best.ndcg10 && logLikelihood > best.logLikelihood);
      if (improved) best = { epoch, ndcg10: metrics.ndcg10, hr10: metrics.hr10, logLikelihood, values: paramValues(model.params) };
      log(
        `${id} epoch ${epoch}/${train.maxEpochs}: loss ${(lossSum / batches).toFixed(4)}, valid HR@10 ${metrics.hr10.toFixed(4)} NDCG@10 ${metrics.ndcg10.toFixed(4)} log-lik ${logLikelihood.toFixed(3)}` +
          ` (popularity ${popularityValid.hr10.toFixed(4)} / ${popularityValid.ndcg10.toFixed(4)}), ${seconds.toFixed(1)}s${improved ? ' *' : ''}`,
      );
      if (opts.statePath) {
        const state: TrainingState = {
          model: kind,
          config,
          train,
          seed,
          dataset: datasetKey,
          epoch,
          best,
          history,
          params: paramValues(model.params),
          adam: ((a) => ({ step: a.step, m: new Map(Object.entries(a.m)), v: new Map(Object.entries(a.v)) }))(adam.state()),
        };
        writeTrainingState(opts.statePath, state, shapes);
        saved = epoch;
      }
      await opts.onEpoch?.(epoch, record);
    }
  } catch (e) {
    releaseInterrupt();
    bar.stop();
    simulator.dispose();
    adam.dispose();
    throw e;
  }
  releaseInterrupt();
  bar.stop();
  adam.dispose();
  const epochs = history.length;
  assignParams(model.params, best.values);
  simulator.refresh();
  const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
  // The simulator's own test: the last item of every sequence, with the best epoch's weights.
  const testRanks = (await simulatorTargetStatsInterruptible(simulator, split.test)).rank;
  const popularityTestRanks = popularityRanks(popularity, split.test.targets);
  const test = metricsFromRanks(testRanks);
  const popularityTest = metricsFromRanks(popularityTestRanks);
  const versusPopularity = compareWithPopularity(testRanks, popularityTestRanks);
  const description: CheckpointDescription = {
    model: kind,
    config,
    train,
    seed,
    dataset: {
      name: dataset.name,
      hash: dataset.meta.hash,
      source: dataset.meta.source,
      numItems,
      simulatorInteractions: dataset.meta.simulatorInteractions,
      simulatorSequences: dataset.simulatorSequences.length,
      simulatorData: dataset.meta.simulatorData,
    },
    metrics: {
      epochs,
      bestEpoch: best.epoch,
      valid: { hr10: best.hr10, ndcg10: best.ndcg10, count: valid.targets.length },
      popularityValid,
      test,
      popularityTest,
      versusPopularity,
      trainSeconds,
      secondsPerEpoch: trainSeconds / Math.max(1, epochs),
      trainTargets,
      history,
    },
    backend: backendInfo().name,
    createdAt: new Date().toISOString(),
  };
  log(
    `${id}: best epoch ${best.epoch} of ${epochs}, valid HR@10 ${best.hr10.toFixed(4)} NDCG@10 ${best.ndcg10.toFixed(4)}; ` +
      `test HR@10 ${test.hr10.toFixed(4)} NDCG@10 ${test.ndcg10.toFixed(4)} (popularity ${popularityTest.hr10.toFixed(4)} / ${popularityTest.ndcg10.toFixed(4)}); ${trainSeconds.toFixed(0)}s of training`,
  );
  return { simulator, description };
}
