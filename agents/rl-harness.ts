/**
 * The training harness around the RL algorithm (agents/rl.ts): how a run starts (resume from its
 * checkpoint, or load / pre-train the supervised policy), checkpoints that resume exactly (weights,
 * π_ref, optimiser state, counters and the SRC statistics' moments), the training
 * environments (reward model only; random targets), the training workers, and the log records. None of
 * it changes what the algorithm computes.
 */
import { existsSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { canonicalJson } from '../core/hash.ts';
import { validate } from '../core/validate.ts';
import { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import type { TrainCallbacks } from './agent.ts';
import { CenteringStats, type Advantages, type CenteringStatsState, type ComponentValues, type EstimatorDefinition, type Rollout } from './estimators.ts';
import { AdamW, decodeMap, encodeMap } from './nn.ts';
import { trainWorkers, TrainWorkers } from './pg-worker.ts';
import { loadPolicyWeights, policyCheckpoint, writeJson } from './policy-agent.ts';
import type { PolicyNetwork } from './policy.ts';
import { RlConfigSchema, type RlAgentConfig, type RlConfig } from './rl-config.ts';
import type { UpdateStats } from './rl-update.ts';
import { runEpisodes, summarise, type RolloutPath } from './rollout.ts';
import { SupervisedResultSchema, trainSupervisedCached, type SupervisedResult } from './supervised.ts';
import { ConfigError } from '../core/errors.ts';

const NumberMatrix = Type.Array(Type.Array(Type.Number()));
const Moments = Type.Object({ n: Type.Integer({ minimum: 0 }), mean: Type.Number(), m2: Type.Number({ minimum: 0 }) }, { additionalProperties: false });
const ComponentMoments = { ioi: Moments, ior: Moments, ctr: Moments };

/** CenteringStats.state(): the SRC statistics' moments (estimators.ts CenteringStatsState). */
const CenteringStatsStateSchema = Type.Object(
  {
    components: Type.Object(ComponentMoments, { additionalProperties: false }),
    fused: Moments,
    byPosition: Type.Array(Type.Object({ ...ComponentMoments, fused: Moments }, { additionalProperties: false })),
    frozen: Type.Boolean(),
  },
  { additionalProperties: false },
);

/** Everything a resumed run needs to continue exactly where the saved one was. */
const TrainStateSchema = Type.Object(
  {
    seed: Type.Integer(),
    /** Next epoch (1-based) and batch within it to run. */
    epoch: Type.Integer({ minimum: 1 }),
    batch: Type.Integer({ minimum: 0 }),
    update: Type.Integer({ minimum: 0 }),
    /** The SRC statistics (CenteringStats.state()), written with the checkpoint. */
    centering: Type.Optional(CenteringStatsStateSchema),
    /**
     * Checkpoints of earlier versions: the rollouts CenteringStats observed before it froze, per
     * batch, replayed on resume (read only).
     */
    centeringBatches: Type.Optional(
      Type.Array(
        Type.Object(
          { rewards: NumberMatrix, ioi: NumberMatrix, ior: NumberMatrix, ctr: NumberMatrix, stopped: Type.Array(Type.Boolean()) },
          { additionalProperties: false },
        ),
      ),
    ),
    centeringFrozen: Type.Boolean(),
    pretrain: Type.Union([SupervisedResultSchema, Type.Null()]),
    /** Wall seconds spent so far (informative; never read by the algorithm). */
    seconds: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type TrainState = Static<typeof TrainStateSchema>;

/** The `training` block of an RL checkpoint (validated on read). */
const TrainingCheckpointSchema = Type.Object(
  {
    estimator: Type.String(),
    config: RlConfigSchema,
    state: TrainStateSchema,
    ref: Type.Record(Type.String(), Type.String()),
    optimizer: Type.Object(
      { step: Type.Integer({ minimum: 0 }), m: Type.Record(Type.String(), Type.String()), v: Type.Record(Type.String(), Type.String()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** What the loop carries between updates and a checkpoint restores: counters, optimiser, SRC statistics. */
export interface RlTraining {
  state: TrainState;
  optimizer: AdamW;
  stats: CenteringStats;
}

/** The parts of an RL agent the harness reads and writes. */
export interface RlParts {
  name: string;
  estimator: EstimatorDefinition;
  net: PolicyNetwork;
  /** π_ref: the frozen pre-trained policy. */
  ref: PolicyNetwork;
  config: RlAgentConfig;
}

export function makeOptimizer(net: PolicyNetwork, c: RlConfig): AdamW {
  return new AdamW(net.params, { lr: c.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.weightDecay, clipNorm: c.clipNorm });
}

/**
 * Step 0: resume from the checkpoint when there is one (and `resume`), else start from `init` or
 * from the supervised pre-training (the `supervised` agent's run at the same seed: every RL agent
 * starts from the checkpoint the supervised row evaluates, so estimators are compared from one
 * starting point). π_ref is a frozen copy of the starting policy.
 */
export async function beginRlTraining(a: RlParts, env: ProactiveRecVectorEnv, seed: number, callbacks: TrainCallbacks | undefined): Promise<RlTraining> {
  const c = a.config;
  if (c.checkpoint && c.resume && existsSync(c.checkpoint)) return restoreRlTraining(a, c.checkpoint);
  let pretrain: SupervisedResult | null = null;
  if (c.init) await loadPolicyWeights(a.net, c.init);
  else
    pretrain = await trainSupervisedCached(a.net, env.world.dataset, c.pretrain, { seed, callbacks, maxLength: env.config.maxLength, progressScale: [0, 0.3] });
  a.ref.params.copyFrom(a.net.params);
  const training: RlTraining = {
    state: { seed, epoch: 1, batch: 0, update: 0, centeringFrozen: false, pretrain, seconds: 0 },
    optimizer: makeOptimizer(a.net, c.rl),
    stats: new CenteringStats(),
  };
  if (c.checkpoint) await saveRlTraining(a, training, c.checkpoint);
  return training;
}

/** Writes the full training state to `file`, with `next` as the position to resume at. */
export async function saveRlTraining(a: RlParts, t: RlTraining, file: string, next?: { epoch: number; batch: number }): Promise<void> {
  const opt = t.optimizer.state();
  await writeJson(
    file,
    policyCheckpoint(a.name, a.net, {
      training: {
        estimator: a.estimator.name,
        config: a.config.rl,
        state: { ...t.state, ...(next ?? {}), centering: t.stats.state() },
        ref: encodeMap(a.ref.params.snapshot()),
        optimizer: { step: opt.step, m: encodeMap(opt.m), v: encodeMap(opt.v) },
      },
    }),
  );
}

/**
 * Restores weights, π_ref, optimiser, counters and the SRC statistics from `file` (a checkpoint of an
 * earlier version, which kept the observed batches instead of the moments, is replayed).
 */
export async function restoreRlTraining(a: RlParts, file: string): Promise<RlTraining> {
  const json = await loadPolicyWeights(a.net, file);
  if (json.training === undefined) throw new ConfigError(`${file}: a policy checkpoint without training state (use 'init' to start from it)`);
  const tr = validate(TrainingCheckpointSchema, json.training, `RL checkpoint ${file}: training`);
  if (tr.estimator !== a.estimator.name) throw new ConfigError(`${file}: checkpoint of '${tr.estimator}', this agent is '${a.estimator.name}'`);
  if (canonicalJson(tr.config) !== canonicalJson(a.config.rl))
    throw new ConfigError(`${file}: the checkpoint's RL config differs from this run's; resume with the same config`);
  a.ref.params.restore(decodeMap(tr.ref));
  const optimizer = makeOptimizer(a.net, a.config.rl);
  optimizer.setState({ step: tr.optimizer.step, m: decodeMap(tr.optimizer.m), v: decodeMap(tr.optimizer.v) });
  const { centering, centeringBatches, ...state } = tr.state;
  let stats: CenteringStats;
  if (centering) stats = CenteringStats.fromState(centering as CenteringStatsState);
  else {
    stats = new CenteringStats();
    for (const b of centeringBatches ?? []) stats.observe(deserialiseRollouts(b));
    if (tr.state.centeringFrozen) stats.freeze();
  }
  return { state, optimizer, stats };
}

function deserialiseRollouts(b: NonNullable<TrainState['centeringBatches']>[number]): Rollout[] {
  return b.rewards.map((rw, i) => ({
    group: 0,
    rewards: Float64Array.from(rw),
    components: { ioi: Float64Array.from(b.ioi[i]), ior: Float64Array.from(b.ior[i]), ctr: Float64Array.from(b.ctr[i]) },
    stopped: b.stopped[i],
  }));
}

/** Step 7's log record of one update. */
export function updateLog(
  epoch: number,
  paths: readonly RolloutPath[],
  w: ComponentValues,
  update: UpdateStats,
  advantages: Advantages,
  stats: CenteringStats,
): Record<string, number> {
  const s = summarise(paths, w);
  const advFlat = advantages.flatMap((x) => Array.from(x));
  const advMean = advFlat.reduce((x, y) => x + y, 0) / Math.max(1, advFlat.length);
  const advStd = Math.sqrt(advFlat.reduce((x, y) => x + (y - advMean) ** 2, 0) / Math.max(1, advFlat.length));
  return {
    epoch,
    return: s.return,
    trainReturn: s.trainReturn,
    length: s.length,
    /** Share of the sampled paths without an item (STOP first). */
    emptyRate: paths.filter((p) => p.items.length === 0).length / Math.max(1, paths.length),
    stopRate: s.stopRate,
    ioi: s.ioi,
    ior: s.ior,
    ctr: s.ctr,
    coherence: s.coherence,
    kl: update.klPerPath,
    klPerStep: update.klPerStep,
    entropy: update.entropy,
    loss: update.loss,
    gradNorm: update.gradNorm,
    gradChunkNormMean: update.chunkNormMean,
    gradChunkNormVar: update.chunkNormVar,
    gradVarTrace: update.gradVarTrace,
    advMean,
    advStd,
    centeringMu: stats.meanReward(),
  };
}

/** The end-of-epoch validation record: greedy paths on the valid cases, keys prefixed `valid/`. */
export function validationLog(net: PolicyNetwork, validEnv: ProactiveRecVectorEnv, w: ComponentValues, seed: number): Record<string, number> {
  const n = validEnv.numEnvs;
  const cases = Array.from({ length: n }, (_, i) => i);
  const v = summarise(runEpisodes(net, validEnv, 'valid', cases, null, seed), w);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [`valid/${k}`, x]));
}

/** Updates of fewer paths run on the main thread only (a worker's start-up and messages would cost more). */
const MIN_WORKER_PATHS = 128;

/**
 * The training workers of the updates (agents/pg-worker.ts) when the batch is large enough: N =
 * `workers` (default `trainWorkers()`: PRORL_TRAIN_WORKERS, else every core), at most one per
 * gradient chunk; null when N = 1. Results do not depend on N.
 */
export async function startUpdateWorker(net: PolicyNetwork, paths: number, chunks = Infinity, workers = trainWorkers()): Promise<TrainWorkers | null> {
  const N = Math.min(workers, chunks);
  return paths >= MIN_WORKER_PATHS && N > 1 ? TrainWorkers.start(net, N - 1) : null;
}

export { withoutEvaluator, withRandomTargets } from './train-envs.ts';
