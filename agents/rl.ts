/**
 * Stage 2: policy-gradient fine-tuning of the supervised policy (docs/design.md §4.10; the maths §4.1–§4.8), one trainer for
 * every estimator:
 *
 *   reinforce            A_t = R                                   (path return, every term)
 *   reinforce-baseline   A_t = R − b,  b = mean R of the group (leave-one-out by default)
 *   grpo                 A_t = (R − mean_g R) / (std_g R + ε)
 *   prorl                SRC (stepwiseCentering, statistics of the first epoch, then frozen)
 *                        + PSAE (positionAdvantages: reward-to-go minus the mean over the
 *                        group's rollouts active at t) + KL to the frozen supervised policy
 *   prorl-no-src         PSAE on raw rewards
 *   prorl-no-psae        SRC + path-level group baseline
 *
 * The advantages come from agents/estimators.ts; this file only samples, computes log-probs and
 * applies the loss. It reads top to bottom like a CleanRL script: `train()` is the loop.
 *
 *   loss = −(1/N) Σ_paths Σ_t A_t ℓ_t  +  β · (1/N) Σ_paths Σ_t KL(π(·|s_t) ‖ π_ref(·|s_t))
 *
 * with ℓ_t = log π(a_t | s_t) over the path items and the STOP term, N the number of paths. The
 * KL is the exact per-step KL over the action distribution at the visited states (one softmax per
 * state): its gradient is a real regulariser, unlike the official code's β(ℓ_t − ℓ_ref,t) on
 * sampled actions, whose gradient has zero mean. `kl: 'penalty'` instead subtracts β(ℓ_t − ℓ_ref,t)
 * from the step rewards before the advantages (a reward-side KL: E[Σ_t ℓ_t − ℓ_ref,t] is the
 * sequence KL); the STOP term has no reward slot, so its log-ratio is not penalised there.
 *
 * One on-policy update per batch: a batch is `casesPerBatch` train cases × G sampled paths. An
 * epoch is `casesPerEpoch` train cases (a subset, so epochs fit a small machine).
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Type, type Static } from '@sinclair/typebox';
import { canonicalJson } from '../core/hash.ts';
import type { Split } from '../data/dataset.ts';
import { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { deriveSeed, Rng } from '../core/rng.ts';
import { StringEnum, validate } from '../core/validate.ts';
import type { AgentFactory, TrainBudget, TrainCallbacks } from './agent.ts';
import {
  CenteringStats,
  estimateAdvantages,
  type Advantages,
  type CenteringSpec,
  type ComponentValues,
  type EstimatorName,
  type Rollout,
} from './estimators.ts';
import { AdamW, decodeMap, encodeMap, ensureBackend } from './nn.ts';
import { chunkGradient, type ChunkGradient } from './pg-loss.ts';
import { rlWorkers, UpdateWorker } from './pg-worker.ts';
import { loadPolicyWeights, PolicyAgent, policyCheckpoint, writeJson } from './policy-agent.ts';
import { packPaths, PolicyConfigSchema, PolicyNetwork, trainingTerms, type Trajectories } from './policy.ts';
import { runEpisodes, summarise } from './rollout.ts';
import { SupervisedConfigSchema, SupervisedResultSchema, trainSupervisedCached, type SupervisedResult } from './supervised.ts';

export const RL_ESTIMATORS = ['reinforce', 'reinforce-baseline', 'grpo', 'prorl', 'prorl-no-src', 'prorl-no-psae'] as const satisfies readonly EstimatorName[];
export type RlEstimator = (typeof RL_ESTIMATORS)[number];

const Weights = Type.Object({ ioi: Type.Number(), ior: Type.Number(), ctr: Type.Number() }, { additionalProperties: false });

export const RlConfigSchema = Type.Object(
  {
    /** G: sampled paths per case (the group). */
    groupSize: Type.Integer({ minimum: 1, default: 16 }),
    /** Cases per update (the batch has casesPerBatch × G paths). */
    casesPerBatch: Type.Integer({ minimum: 1, default: 16 }),
    /** Train cases per epoch (a random subset each epoch). */
    casesPerEpoch: Type.Integer({ minimum: 1, default: 256 }),
    epochs: Type.Integer({ minimum: 0, default: 5 }),
    /**
     * 1e-3 on synthetic-v0: with the short default budget (5 epochs × 16 updates) the paper's 1e-4
     * (ML-1M, 50 epochs over all prompts) leaves the policy next to the supervised one.
     */
    lr: Type.Number({ exclusiveMinimum: 0, default: 1e-3 }),
    weightDecay: Type.Number({ minimum: 0, default: 0.01 }),
    clipNorm: Type.Number({ minimum: 0, default: 0 }),
    /** β of the KL to the frozen supervised policy. */
    beta: Type.Number({ minimum: 0, default: 0.01 }),
    kl: StringEnum(['exact', 'penalty', 'none'] as const, { default: 'exact' }),
    /** Reward weights; default: the environment's. */
    weights: Type.Optional(Weights),
    /** SRC: 'zscore' (official code: per-component z-score, CTR / L_max) or 'plain' (r − μ). */
    centering: StringEnum(['zscore', 'plain'] as const, { default: 'zscore' }),
    /**
     * SRC means: 'pooled' over all steps (the paper: one price μ per step) or 'per-position'
     * (μ_t, beyond the paper: a price per position, for rewards with diminishing returns).
     */
    centeringMean: StringEnum(['pooled', 'per-position'] as const, { default: 'pooled' }),
    /** Baseline of PSAE and of prorl-no-psae / reinforce-baseline. */
    baseline: StringEnum(['leave-one-out', 'group-mean'] as const, { default: 'leave-one-out' }),
    /** Chunks the batch is split into for the gradient-variance estimate (≥ 2 to log it). */
    gradChunks: Type.Integer({ minimum: 1, default: 4 }),
    /** Valid cases evaluated (greedy) at the end of each epoch, for the logs (0: none). */
    validCases: Type.Integer({ minimum: 0, default: 128 }),
    /**
     * Targets of the training cases: 'case' keeps each train case's own target (the end of its
     * real coherent run: a target the user is already close to); 'random' pairs each train history
     * with a uniformly random target outside it, re-drawn every epoch, which is how test cases are
     * built (docs/design.md §6.3). Validation logs use the same rule on valid histories.
     */
    targets: StringEnum(['random', 'case'] as const, { default: 'random' }),
  },
  { additionalProperties: false, default: {} },
);
export type RlConfig = Static<typeof RlConfigSchema>;

export const RlAgentConfigSchema = Type.Object(
  {
    policy: PolicyConfigSchema,
    rl: RlConfigSchema,
    /** Stage 1, run first when `init` is not given. */
    pretrain: SupervisedConfigSchema,
    /** A supervised (or any policy) checkpoint to start from instead of pre-training. */
    init: Type.Optional(Type.String()),
    /** Checkpoint file for resuming: written every `checkpointEvery` updates and at each epoch's end. */
    checkpoint: Type.Optional(Type.String()),
    checkpointEvery: Type.Integer({ minimum: 0, default: 0 }),
    /** Continue from `checkpoint` when it exists. */
    resume: Type.Boolean({ default: true }),
    decode: StringEnum(['greedy', 'sample'] as const, { default: 'greedy' }),
  },
  { additionalProperties: false, default: {} },
);
export type RlAgentConfig = Static<typeof RlAgentConfigSchema>;

export interface UpdateStats {
  loss: number;
  klPerPath: number;
  klPerStep: number;
  entropy: number;
  /** ‖g‖ before clipping. */
  gradNorm: number;
  /** Mean and variance over chunks c of ‖C·g_c‖ (each C·g_c estimates g from 1/C of the batch). */
  chunkNormMean: number;
  chunkNormVar: number;
  /** (1/(C−1)) Σ_c ‖C·g_c − g‖²: C × the trace of the covariance of the batch gradient. */
  gradVarTrace: number;
}

const NumberMatrix = Type.Array(Type.Array(Type.Number()));

/** Everything a resumed run needs to continue exactly where the saved one was. */
const TrainStateSchema = Type.Object(
  {
    seed: Type.Integer(),
    /** Next epoch (1-based) and batch within it to run. */
    epoch: Type.Integer({ minimum: 1 }),
    batch: Type.Integer({ minimum: 0 }),
    update: Type.Integer({ minimum: 0 }),
    /** Rollouts observed by CenteringStats before it froze, replayed on resume (per batch). */
    centeringBatches: Type.Array(
      Type.Object(
        { rewards: NumberMatrix, ioi: NumberMatrix, ior: NumberMatrix, ctr: NumberMatrix, stopped: Type.Array(Type.Boolean()) },
        { additionalProperties: false },
      ),
    ),
    centeringFrozen: Type.Boolean(),
    pretrain: Type.Union([SupervisedResultSchema, Type.Null()]),
    /** Wall seconds spent so far (informative; never read by the algorithm). */
    seconds: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
type TrainState = Static<typeof TrainStateSchema>;

/** The `training` block of an RL checkpoint (validated on read). */
const TrainingCheckpointSchema = Type.Object(
  {
    estimator: StringEnum(RL_ESTIMATORS),
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

export class RlAgent extends PolicyAgent {
  /** π_ref: the frozen pre-trained policy the KL term pulls toward. */
  readonly ref: PolicyNetwork;
  readonly rl: RlConfig;
  private state: TrainState | null = null;
  private optimizer: AdamW | null = null;
  private stats = new CenteringStats();

  constructor(
    readonly estimator: RlEstimator,
    net: PolicyNetwork,
    readonly config: RlAgentConfig,
  ) {
    super(estimator, net, config.decode);
    this.ref = new PolicyNetwork(net.numItems, net.config, 0, false, 'reference', net.items);
    this.rl = config.rl;
  }

  // -------------------------------------------------------------------------------------------
  // The training loop
  // -------------------------------------------------------------------------------------------

  async train(makeEnv: (numEnvs: number) => Promise<ProactiveRecVectorEnv>, budget: TrainBudget, ctx: { rng: Rng; callbacks?: TrainCallbacks }): Promise<void> {
    const cfg = this.rl;
    const cb = ctx.callbacks;
    const epochs = budget.epochs ?? cfg.epochs;
    const G = cfg.groupSize;
    const P = cfg.casesPerBatch;
    // Training reads only the reward model: its rollouts (and validation logs) skip the evaluator.
    const baseEnv = withoutEvaluator(await makeEnv(P * G));
    let env = baseEnv;
    const baseValid = cfg.validCases > 0 ? withoutEvaluator(await makeEnv(Math.min(cfg.validCases, baseEnv.cases('valid').length))) : null;
    let validEnv = baseValid;
    // The second core for the updates (opt-in: PRORL_RL_WORKERS=1; results do not depend on it).
    const worker = P * G >= MIN_WORKER_PATHS && rlWorkers() > 0 ? await UpdateWorker.start(this.net) : null;
    try {
      const L_max = env.config.maxLength;
      const w: ComponentValues = cfg.weights ?? env.config.weights;
      if (env.config.maskHistory && !this.net.config.maskHistory) {
        throw new Error(`${this.name}: the environment masks history items; set policy.maskHistory so that sampling and training use the same masks`);
      }
      const seed = ctx.rng.seed32();

      // 0. Start: resume from the checkpoint, or load/pre-train the supervised policy.
      if (this.config.checkpoint && this.config.resume && existsSync(this.config.checkpoint)) {
        await this.restoreTraining(this.config.checkpoint);
      } else {
        let pretrain: SupervisedResult | null = null;
        if (this.config.init) await loadPolicyWeights(this.net, this.config.init);
        else {
          // The `supervised` agent's seed: at one run seed every RL agent starts from the checkpoint
          // the supervised row evaluates (same network init, same data order), so estimators are
          // compared from one starting point.
          pretrain = await trainSupervisedCached(this.net, env.world.dataset, this.config.pretrain, {
            seed,
            callbacks: cb,
            maxLength: L_max,
            progressScale: [0, 0.3],
          });
        }
        this.ref.params.copyFrom(this.net.params);
        this.optimizer = this.makeOptimizer();
        this.stats = new CenteringStats();
        this.state = { seed, epoch: 1, batch: 0, update: 0, centeringBatches: [], centeringFrozen: false, pretrain, seconds: 0 };
        if (this.config.checkpoint) await this.saveTraining(this.config.checkpoint);
      }
      const st = this.state!;
      const optimizer = this.optimizer!;
      const trainCases = env.cases('train').length;
      const batchesPerEpoch = Math.ceil(cfg.casesPerEpoch / P);
      const progress0 = this.config.init ? 0 : 0.3;

      for (; st.epoch <= epochs; st.epoch++, st.batch = 0) {
        // The epoch's cases: a fixed-seed shuffle of the train split, cut to casesPerEpoch.
        const order = Rng.stream(st.seed, `rl/epoch-${st.epoch}`).shuffle(Array.from({ length: trainCases }, (_, i) => i));
        if (cfg.targets === 'random') {
          env.close();
          env = withRandomTargets(baseEnv, 'train', P * G, deriveSeed(st.seed, `rl/targets-${st.epoch}`));
        }
        for (; st.batch < batchesPerEpoch; st.batch++) {
          const t0 = performance.now();
          const prompts = Array.from({ length: P }, (_, j) => order[(st.batch * P + j) % order.length]);

          // 1. Rollouts: G paths per case, sampled from π in the environment (train split).
          const caseIndices = prompts.flatMap((c) => new Array<number>(G).fill(c));
          const sampleSeed = deriveSeed(st.seed, `rl/sample-${st.epoch}-${st.batch}`);
          const paths = runEpisodes(this.net, env, 'train', caseIndices, sampleSeed, deriveSeed(st.seed, `rl/env-${st.epoch}-${st.batch}`));
          const t1 = performance.now();

          // 2. Step rewards r_t = w·(IoI_t, IoR_t, CTR_t), one Rollout per path, grouped by case.
          const rollouts: Rollout[] = paths.map((p, i) => ({
            group: Math.floor(i / G),
            rewards: p.ioi.map((_, t) => w.ioi * p.ioi[t] + w.ior * p.ior[t] + w.ctr * p.ctr[t]),
            components: { ioi: p.ioi, ior: p.ior, ctr: p.ctr },
            stopped: p.stopped,
          }));

          // 3. SRC statistics: accumulated over the first epoch, frozen afterwards (CenteringStats).
          if (!this.stats.frozen) {
            this.stats.observe(rollouts);
            st.centeringBatches.push(serialiseRollouts(rollouts));
          }
          const perPosition = cfg.centeringMean === 'per-position';
          const centering: CenteringSpec = cfg.centering === 'zscore' ? this.stats.zscoreSpec(w, L_max, perPosition) : this.stats.plainSpec(perPosition);

          // 4. Log-probabilities of the sampled terms under π and π_ref (no gradient), for the
          //    KL penalty and the logs.
          const traj = packPaths(paths);
          const terms = trainingTerms(traj, this.net.stop);
          const logRatio = cfg.kl === 'penalty' ? this.termLogRatios(traj, terms) : null;

          // 5. Advantages A_t (agents/estimators.ts).
          const advantages = this.advantages(rollouts, centering, logRatio);

          // 6. Loss and gradient, in chunks of whole groups: the gradient is the sum over chunks;
          //    the spread of the chunk gradients estimates the estimator's variance.
          const update = policyGradientStep(this.net, this.ref, traj, advantages, optimizer, {
            groupSize: G,
            chunks: cfg.gradChunks,
            beta: cfg.kl === 'exact' ? cfg.beta : 0,
            worker,
          });

          // 7. Bookkeeping: logs, checkpoint.
          st.update += 1;
          const t2 = performance.now();
          st.seconds += (t2 - t0) / 1000;
          cb?.onTime?.('rollout', (t1 - t0) / 1000);
          cb?.onTime?.('update', (t2 - t1) / 1000);
          const s = summarise(paths, w);
          const advFlat = advantages.flatMap((a) => Array.from(a));
          const advMean = advFlat.reduce((x, y) => x + y, 0) / Math.max(1, advFlat.length);
          const advStd = Math.sqrt(advFlat.reduce((x, y) => x + (y - advMean) ** 2, 0) / Math.max(1, advFlat.length));
          const nextBatch = st.batch + 1;
          if (this.config.checkpoint && this.config.checkpointEvery && st.update % this.config.checkpointEvery === 0 && nextBatch < batchesPerEpoch) {
            await this.saveTraining(this.config.checkpoint, { epoch: st.epoch, batch: nextBatch });
          }
          cb?.onLog?.(st.update, {
            epoch: st.epoch,
            return: s.return,
            trainReturn: s.trainReturn,
            length: s.length,
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
            centeringMu: this.stats.meanReward(),
          });
          cb?.onProgress?.(
            progress0 + (1 - progress0) * ((st.epoch - 1 + nextBatch / batchesPerEpoch) / Math.max(1, epochs)),
            `${this.name} epoch ${st.epoch}/${epochs}`,
          );
          await new Promise<void>((r) => setImmediate(r));
        }
        // End of epoch: freeze the SRC statistics after the first; validation; checkpoint.
        this.stats.endEpoch();
        // The observed batches stay in the state: replaying them rebuilds the frozen statistics.
        st.centeringFrozen = this.stats.frozen;
        if (validEnv && baseValid) {
          if (cfg.targets === 'random' && validEnv === baseValid)
            validEnv = withRandomTargets(baseValid, 'valid', baseValid.numEnvs, deriveSeed(st.seed, 'rl/valid-targets'));
          const n = validEnv.numEnvs;
          const v = summarise(
            runEpisodes(
              this.net,
              validEnv,
              'valid',
              Array.from({ length: n }, (_, i) => i),
              null,
              deriveSeed(st.seed, 'rl/valid'),
            ),
            w,
          );
          cb?.onLog?.(st.update, Object.fromEntries(Object.entries(v).map(([k, x]) => [`valid/${k}`, x])));
        }
        if (this.config.checkpoint) await this.saveTraining(this.config.checkpoint, { epoch: st.epoch + 1, batch: 0 });
      }
      cb?.onProgress?.(1, `${this.name} done`);
    } finally {
      for (const e of new Set([env, baseEnv, validEnv, baseValid])) e?.close();
      await worker?.terminate();
    }
  }

  /** Step 5: the estimator's advantages (agents/estimators.ts, the entry point the exact tests check). */
  private advantages(rollouts: Rollout[], centering: CenteringSpec, logRatio: Float64Array[] | null): Advantages {
    return estimateAdvantages(this.estimator, rollouts, {
      centering,
      baseline: this.rl.baseline,
      klPenalty: logRatio ? { beta: this.rl.beta, logRatio } : undefined,
    });
  }

  /** ℓ_t − ℓ_ref,t of each path item (STOP excluded: it has no reward slot). */
  private termLogRatios(traj: ReturnType<typeof packPaths>, terms: ReturnType<typeof trainingTerms>): Float64Array[] {
    const mask = this.net.buildMask(traj, terms);
    const t = tf.tidy(() =>
      tf.sub(
        this.net.chosenLogProbs(this.net.termLogProbs(traj, terms, mask), terms),
        this.ref.chosenLogProbs(this.ref.termLogProbs(traj, terms, mask), terms),
      ),
    );
    const d = t.dataSync();
    t.dispose();
    const out = Array.from({ length: traj.size }, (_, b) => new Float64Array(traj.lengths[b]));
    for (let i = 0; i < terms.count; i++) if (terms.t[i] < traj.lengths[terms.row[i]]) out[terms.row[i]][terms.t[i]] = d[i];
    return out;
  }

  private makeOptimizer(): AdamW {
    const c = this.rl;
    return new AdamW(this.net.params, { lr: c.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.weightDecay, clipNorm: c.clipNorm });
  }

  // -------------------------------------------------------------------------------------------
  // Checkpoints: weights, π_ref, optimiser state, counters, SRC statistics (as replayable rollouts)
  // -------------------------------------------------------------------------------------------

  private async saveTraining(file: string, next?: { epoch: number; batch: number }): Promise<void> {
    const st = this.state!;
    const snapshot = { ...st, ...(next ?? {}) };
    const opt = this.optimizer!.state();
    await writeJson(
      file,
      policyCheckpoint(this.name, this.net, {
        training: {
          estimator: this.estimator,
          config: this.rl,
          state: snapshot,
          ref: encodeMap(this.ref.params.snapshot()),
          optimizer: { step: opt.step, m: encodeMap(opt.m), v: encodeMap(opt.v) },
        },
      }),
    );
  }

  private async restoreTraining(file: string): Promise<void> {
    const json = await loadPolicyWeights(this.net, file);
    if (json.training === undefined) throw new Error(`${file}: a policy checkpoint without training state (use 'init' to start from it)`);
    const tr = validate(TrainingCheckpointSchema, json.training, `RL checkpoint ${file}: training`);
    if (tr.estimator !== this.estimator) throw new Error(`${file}: checkpoint of '${tr.estimator}', this agent is '${this.estimator}'`);
    if (canonicalJson(tr.config) !== canonicalJson(this.rl))
      throw new Error(`${file}: the checkpoint's RL config differs from this run's; resume with the same config`);
    this.ref.params.restore(decodeMap(tr.ref));
    this.optimizer?.dispose();
    this.optimizer = this.makeOptimizer();
    this.optimizer.setState({ step: tr.optimizer.step, m: decodeMap(tr.optimizer.m), v: decodeMap(tr.optimizer.v) });
    this.state = tr.state;
    // Rebuild the SRC statistics exactly by replaying the batches they observed.
    this.stats = new CenteringStats();
    for (const b of tr.state.centeringBatches) this.stats.observe(deserialiseRollouts(b));
    if (tr.state.centeringFrozen) this.stats.endEpoch();
  }

  /** The full training state (weights, π_ref, optimiser, counters): resumable by `train`. */
  override async save(file: string): Promise<void> {
    if (this.state && this.optimizer) await this.saveTraining(file);
    else await super.save(file);
  }

  override dispose(): void {
    super.dispose();
    this.ref.dispose();
    this.optimizer?.dispose();
  }
}

/** Updates of fewer paths run on the main thread only (a worker's start-up and messages would cost more). */
const MIN_WORKER_PATHS = 128;

/** The same environment (world, size, config) with `stepEvaluator: false`; closes `env`. */
function withoutEvaluator(env: ProactiveRecVectorEnv): ProactiveRecVectorEnv {
  if (!env.config.stepEvaluator) return env;
  env.close();
  return new ProactiveRecVectorEnv(env.id, env.world, env.numEnvs, { ...env.config, stepEvaluator: false });
}

/**
 * A vector environment over the same world whose `split` cases keep their histories but get a
 * uniformly random target outside the history (as test cases are built). Case i's target comes
 * from its own stream under `seed`, so it does not depend on the other cases.
 */
export function withRandomTargets(env: ProactiveRecVectorEnv, split: Split, numEnvs: number, seed: number): ProactiveRecVectorEnv {
  const world = env.world;
  const N = world.dataset.items.count;
  const cases = world.dataset.cases[split].map((c, i) => {
    const rng = Rng.stream(seed, `targets/${split}/${i}`);
    let target: number;
    do target = rng.int(N);
    while (c.history.includes(target));
    return { history: c.history, target, user: c.user };
  });
  const dataset = { ...world.dataset, cases: { ...world.dataset.cases, [split]: cases } };
  return new ProactiveRecVectorEnv(env.id, { ...world, dataset }, numEnvs, env.config);
}

/**
 * Step 6 of the loop: one update on −(1/N) Σ A_t ℓ_t + β·(1/N) Σ KL_t (β = 0 unless kl = 'exact'),
 * the gradient summed over chunks of whole groups (rows [c·G·groups/C, ...)), so that the spread of
 * the chunk gradients estimates the estimator's variance at no extra cost. Terms are those of
 * `trainingTerms(traj)`; advantages[i] has one entry per term of row i. Returns the logged numbers.
 * The logits-wide part of the loss (log-softmax, ℓ, exact KL, entropy) is one op with its
 * closed-form gradient (agents/pg-loss.ts); `fusedLoss: false` differentiates it op by op instead
 * (the reference the fused op is tested against; equal up to float round-off). With `worker`
 * (agents/pg-worker.ts), the last half of the chunks run on a second thread meanwhile (with one
 * chunk, its second half); the chunks are the same computation wherever they run.
 */
export function policyGradientStep(
  net: PolicyNetwork,
  ref: PolicyNetwork,
  traj: Trajectories,
  advantages: Advantages,
  optimizer: AdamW,
  opts: { groupSize: number; chunks: number; beta: number; fusedLoss?: boolean; worker?: UpdateWorker | null },
): UpdateStats {
  const terms = trainingTerms(traj, net.stop);
  const N = traj.size;
  const G = opts.groupSize;
  const groups = Math.ceil(N / G);
  const C = Math.max(1, Math.min(opts.chunks, groups));
  const beta = opts.beta;
  const fused = opts.fusedLoss ?? true;
  const worker = opts.worker ?? null;
  const A = new Float32Array(terms.count);
  {
    const next = new Int32Array(N);
    for (let i = 0; i < terms.count; i++) A[i] = advantages[terms.row[i]][next[terms.row[i]]++];
  }
  // Chunk c holds the rows of whole groups [g_c·G, g_{c+1}·G). Work units are the chunks, or, with
  // one chunk and a worker, its two halves (their gradients summed), so that both cores work.
  const units: { chunk: number; r0: number; r1: number }[] = [];
  for (let c = 0; c < C; c++) {
    const r0 = Math.floor((c * groups) / C) * G;
    const r1 = Math.min(N, Math.floor(((c + 1) * groups) / C) * G);
    if (C === 1 && worker && groups >= 2) {
      const half = Math.floor(groups / 2) * G;
      units.push({ chunk: c, r0, r1: half }, { chunk: c, r0: half, r1 });
    } else units.push({ chunk: c, r0, r1 });
  }
  // Terms are ordered by row: a unit's terms are a contiguous range.
  const firstTerm = new Int32Array(N + 1);
  for (let b = 0, i = 0; b <= N; b++) {
    while (i < terms.count && terms.row[i] < b) i++;
    firstTerm[b] = i;
  }
  const work = units
    .map((u) => ({ ...u, sub: subTrajectories(traj, u.r0, u.r1), adv: A.slice(firstTerm[u.r0], firstTerm[u.r1]) }))
    .filter((u) => u.adv.length > 0);
  // The worker takes the last half of the units (it starts on them at once), the main thread the rest.
  const remoteFrom = worker && work.length >= 2 ? work.length - Math.floor(work.length / 2) : work.length;
  const ticket =
    worker && remoteFrom < work.length
      ? worker.send(
          net.params.snapshot(),
          ref.params.snapshot(),
          work.slice(remoteFrom).map(({ sub, adv }) => ({ sub, adv })),
          N,
          beta,
          fused,
        )
      : null;
  const results: { chunk: number; g: ChunkGradient }[] = work
    .slice(0, remoteFrom)
    .map((u) => ({ chunk: u.chunk, g: chunkGradient(net, ref, u.sub, u.adv, N, beta, fused) }));
  if (ticket !== null) {
    worker!.wait(ticket).forEach((part, k) => {
      const grads: Record<string, tf.Tensor> = {};
      for (const key of net.params.keys) grads[key] = tf.tensor(part.grads[key], net.params.get(key).shape, 'float32');
      results.push({ chunk: work[remoteFrom + k].chunk, g: { grads, loss: part.loss, kl: part.kl, entropy: part.entropy } });
    });
  }
  let loss = 0;
  let kl = 0;
  let ent = 0;
  const chunkGrads: Record<string, tf.Tensor>[] = [];
  for (let c = 0; c < C; c++) {
    const parts = results.filter((r) => r.chunk === c);
    if (parts.length === 0) continue;
    for (const { g } of parts) {
      loss += g.loss;
      kl += g.kl;
      ent += g.entropy;
    }
    if (parts.length === 1) chunkGrads.push(parts[0].g.grads);
    else {
      const sum: Record<string, tf.Tensor> = {};
      for (const key of net.params.keys) sum[key] = tf.tidy(() => tf.addN(parts.map((p) => p.g.grads[key])));
      for (const p of parts) tf.dispose(Object.values(p.g.grads));
      chunkGrads.push(sum);
    }
  }
  // g = Σ_c g_c; each C·g_c is an estimate of g from 1/C of the batch.
  const keys = net.params.keys;
  const total: Record<string, tf.Tensor> = {};
  for (const k of keys) total[k] = tf.tidy(() => tf.addN(chunkGrads.map((g) => g[k])));
  const Cn = chunkGrads.length;
  const stats = tf.tidy(() => {
    const norms = chunkGrads.map((g) => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(tf.mul(g[k], Cn)))))));
    const dev = chunkGrads.map((g) => tf.addN(keys.map((k) => tf.sum(tf.square(tf.sub(tf.mul(g[k], Cn), total[k]))))));
    return tf.concat([tf.stack(norms), tf.stack(dev)]);
  });
  const sv = stats.dataSync();
  stats.dispose();
  const norms = Array.from(sv.slice(0, Cn));
  const devs = Array.from(sv.slice(Cn));
  const mean = norms.reduce((a, b) => a + b, 0) / Cn;
  const gradNorm = optimizer.apply(total);
  for (const g of chunkGrads) tf.dispose(Object.values(g));
  tf.dispose(Object.values(total));
  return {
    loss,
    klPerPath: kl / N,
    klPerStep: kl / Math.max(1, terms.count),
    entropy: ent / Math.max(1, terms.count),
    gradNorm,
    chunkNormMean: mean,
    chunkNormVar: Cn > 1 ? norms.reduce((a, b) => a + (b - mean) ** 2, 0) / (Cn - 1) : 0,
    gradVarTrace: Cn > 1 ? devs.reduce((a, b) => a + b, 0) / (Cn - 1) : 0,
  };
}

function serialiseRollouts(rs: readonly Rollout[]): TrainState['centeringBatches'][number] {
  return {
    rewards: rs.map((r) => Array.from(r.rewards)),
    ioi: rs.map((r) => Array.from(r.components!.ioi)),
    ior: rs.map((r) => Array.from(r.components!.ior)),
    ctr: rs.map((r) => Array.from(r.components!.ctr)),
    stopped: rs.map((r) => r.stopped),
  };
}

function deserialiseRollouts(b: TrainState['centeringBatches'][number]): Rollout[] {
  return b.rewards.map((rw, i) => ({
    group: 0,
    rewards: Float64Array.from(rw),
    components: { ioi: Float64Array.from(b.ioi[i]), ior: Float64Array.from(b.ior[i]), ctr: Float64Array.from(b.ctr[i]) },
    stopped: b.stopped[i],
  }));
}

/** Rows [r0, r1) of a batch. */
function subTrajectories(t: ReturnType<typeof packPaths>, r0: number, r1: number): ReturnType<typeof packPaths> {
  const H = t.history.length / t.size;
  return {
    size: r1 - r0,
    history: t.history.slice(r0 * H, r1 * H),
    target: t.target.slice(r0, r1),
    width: t.width,
    items: t.items.slice(r0 * t.width, r1 * t.width),
    accepted: t.accepted.slice(r0 * t.width, r1 * t.width),
    lengths: t.lengths.slice(r0, r1),
    stopped: t.stopped.slice(r0, r1),
  };
}

// ---------------------------------------------------------------------------------------------
// Factories: one per estimator
// ---------------------------------------------------------------------------------------------

const DESCRIPTIONS: Record<RlEstimator, string> = {
  reinforce: 'Supervised policy fine-tuned by path-level REINFORCE (A = R on every term) + exact KL to the supervised policy',
  'reinforce-baseline': 'REINFORCE with a leave-one-out group-mean baseline on R',
  grpo: 'GRPO-style group-normalised advantage (R − mean_g R)/std_g R on every term',
  prorl: 'ProRL: stepwise reward centering (first-epoch z-scores, frozen) + position-specific advantages + exact KL to the supervised policy',
  'prorl-no-src': 'ProRL ablation: position-specific advantages on raw rewards (no stepwise centering)',
  'prorl-no-psae': 'ProRL ablation: stepwise centering with a path-level group baseline (no position-specific advantages)',
};

function rlFactory(estimator: RlEstimator): AgentFactory {
  return {
    name: estimator,
    description: DESCRIPTIONS[estimator],
    configSchema: RlAgentConfigSchema,
    async create(config, ctx) {
      await ensureBackend();
      const c = validate(RlAgentConfigSchema, config, `${estimator} config`);
      return new RlAgent(estimator, new PolicyNetwork(ctx.numItems, c.policy, ctx.seed, true, 'policy', ctx.items ?? null), c);
    },
  };
}

export const rlAgents: AgentFactory[] = RL_ESTIMATORS.map(rlFactory);
