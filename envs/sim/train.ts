/**
 * Next-item training of a simulator on a Dataset's train sequences: each sequence is cut, from its
 * newest end, into windows of at most maxLen + 1 items overlapping by one, so every transition is a
 * target exactly once and the newest window is the full context the model reads at inference. Loss:
 * full-softmax cross-entropy over all N items at every position; Adam; early stopping on valid
 * NDCG@10 (held-out last item of each valid sequence), keeping the best epoch's weights.
 */
import { tf, ensureBackend } from './runtime.ts';
import type { Dataset } from '../dataset.ts';
import { Rng } from '../rng.ts';
import { progress as progressBar } from '../progress.ts';
import { backendInfo } from '../backend.ts';
import {
  resolveModelConfig,
  resolveTrainConfig,
  type ModelConfig,
  type ModelKind,
  type TrainConfig,
} from './config.ts';
import { assignParams, createModel, mm, paramValues, type SequenceModel } from './model.ts';
import { TfSimulator } from './batch.ts';
import { heldOutNextItems, metricsFromRanks, popularityRanks, simulatorTargetStats } from './evaluate.ts';
import type { CheckpointDescription, TrainingRecord } from './checkpoint.ts';

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
}

export interface TrainResult {
  simulator: TfSimulator;
  /** Everything a checkpoint header needs besides the tensors. */
  description: CheckpointDescription;
}

export function simulatorId(model: ModelKind, datasetName: string, seed: number): string {
  return `${model}@${datasetName}#seed${seed}`;
}

export function resolveConfigs(model: ModelKind, config?: Partial<ModelConfig>, train?: Partial<TrainConfig>): { config: ModelConfig; train: TrainConfig } {
  return {
    config: resolveModelConfig(model, config as Record<string, unknown> | undefined),
    train: resolveTrainConfig(train),
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

export async function trainSimulator(opts: TrainOptions): Promise<TrainResult> {
  await ensureBackend({ quiet: true });
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const { dataset, model: kind, seed } = opts;
  const { config, train } = resolveConfigs(kind, opts.config, opts.train);
  const numItems = dataset.items.count;
  const windows = trainingWindows(dataset.sequences.train, config.maxLen);
  const trainTargets = windows.reduce((n, w) => n + w.length - 1, 0);
  if (trainTargets === 0) throw new Error(`dataset '${dataset.name}' has no train sequence of 2 or more items to train a simulator on`);
  const valid = heldOutNextItems(dataset.sequences.valid, train.validLimit);
  if (valid.targets.length === 0) throw new Error(`dataset '${dataset.name}' has no valid sequence of 2 or more items for early stopping`);
  const popularityValid = metricsFromRanks(popularityRanks(dataset.popularity, valid.targets));
  const id = simulatorId(kind, dataset.name, seed);
  log(
    `training ${id}: ${dataset.meta.trainInteractions} train interactions (${trainTargets} next-item targets in ${windows.length} windows), ` +
      `${numItems} items, ${valid.targets.length} valid sequences; backend ${backendInfo().name}`,
  );

  const model = createModel(config, numItems, seed);
  const simulator = new TfSimulator(model, id);
  const optimizer = tf.train.adam(train.learningRate);
  const shuffleRng = Rng.stream(seed, `simulator-train/${kind}/shuffle`);
  const dropoutRng = Rng.stream(seed, `simulator-train/${kind}/dropout`);
  const seeds = () => dropoutRng.seed32() >>> 0;
  const order = windows.map((_, i) => i);
  const batches = Math.ceil(windows.length / train.batchSize);
  const history: TrainingRecord['history'] = [];
  let best = { epoch: 0, ndcg10: -1, hr10: 0, logLikelihood: -Infinity, values: paramValues(model.params) };
  const start = performance.now();
  let epoch = 0;
  try {
    for (epoch = 1; epoch <= train.maxEpochs; epoch++) {
      const epochStart = performance.now();
      shuffleRng.shuffle(order);
      const bar = progressBar(`${id} epoch ${epoch}`, batches, { enabled: opts.progress !== false });
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const chunk = order.slice(b * train.batchSize, (b + 1) * train.batchSize).map((i) => windows[i]);
        const loss = optimizer.minimize(() => batchLoss(model, chunk, seeds), true);
        const value = loss ? loss.dataSync()[0] : NaN;
        loss?.dispose();
        if (!Number.isFinite(value)) {
          bar.stop();
          throw new Error(`training ${id} diverged: loss ${value} at epoch ${epoch}, batch ${b + 1}`);
        }
        lossSum += value;
        bar.update(b + 1, `loss ${(lossSum / (b + 1)).toFixed(4)}`);
      }
      bar.stop();
      simulator.refresh();
      const stats = simulatorTargetStats(simulator, valid);
      const metrics = metricsFromRanks(stats.rank);
      const logLikelihood = stats.logProb.reduce((a, b) => a + b, 0) / stats.logProb.length;
      const seconds = (performance.now() - epochStart) / 1000;
      history.push({ epoch, loss: lossSum / batches, validNdcg10: metrics.ndcg10, validHr10: metrics.hr10, validLogLikelihood: logLikelihood, seconds });
      // NDCG@10 decides; on a tie (small valid sets often score 0 for many epochs) the valid
      // log-likelihood of the held-out items does, so training does not stop on a flat zero.
      const improved = metrics.ndcg10 > best.ndcg10 || (metrics.ndcg10 === best.ndcg10 && logLikelihood > best.logLikelihood);
      if (improved) best = { epoch, ndcg10: metrics.ndcg10, hr10: metrics.hr10, logLikelihood, values: paramValues(model.params) };
      log(
        `${id} epoch ${epoch}: loss ${(lossSum / batches).toFixed(4)}, valid HR@10 ${metrics.hr10.toFixed(4)} NDCG@10 ${metrics.ndcg10.toFixed(4)} log-lik ${logLikelihood.toFixed(3)}` +
          ` (popularity ${popularityValid.hr10.toFixed(4)} / ${popularityValid.ndcg10.toFixed(4)}), ${seconds.toFixed(1)}s${improved ? ' *' : ''}`,
      );
      if (epoch - best.epoch >= train.patience) break;
    }
  } catch (e) {
    simulator.dispose();
    optimizer.dispose();
    throw e;
  }
  optimizer.dispose();
  const epochs = Math.min(epoch, train.maxEpochs);
  assignParams(model.params, best.values);
  simulator.refresh();
  const trainSeconds = (performance.now() - start) / 1000;
  const description: CheckpointDescription = {
    model: kind,
    config,
    train,
    seed,
    dataset: { name: dataset.name, hash: dataset.meta.hash, source: dataset.meta.source, numItems, trainInteractions: dataset.meta.trainInteractions },
    metrics: {
      epochs,
      bestEpoch: best.epoch,
      valid: { hr10: best.hr10, ndcg10: best.ndcg10, count: valid.targets.length },
      popularityValid,
      trainSeconds,
      secondsPerEpoch: history.reduce((s, h) => s + h.seconds, 0) / Math.max(1, history.length),
      trainTargets,
      history,
    },
    backend: backendInfo().name,
    createdAt: new Date().toISOString(),
  };
  log(`${id}: best epoch ${best.epoch} of ${epochs}, valid HR@10 ${best.hr10.toFixed(4)} NDCG@10 ${best.ndcg10.toFixed(4)}, ${trainSeconds.toFixed(0)}s`);
  return { simulator, description };
}
