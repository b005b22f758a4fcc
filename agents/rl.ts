/**
 * Stage 2: policy-gradient fine-tuning of the supervised policy (docs/design.md §4.10; the maths §4.1–§4.8), one trainer for
 * every estimator (the built-ins below, or a user's `defineEstimator` through `rlAgentFactory`):
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
 * The advantages come from agents/estimators.ts (`estimateAdvantages`: SRC when the estimator needs
 * it, the reward-side KL penalty, then the estimator's own `advantages`; the entry point the exact
 * tests check); the update step is agents/rl-update.ts; resuming, checkpoints, pre-training, logs
 * and validation are the harness (agents/rl-harness.ts). This file is the algorithm and reads top
 * to bottom like a CleanRL script: `train()` is the loop.
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
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, Rng } from '../core/rng.ts';
import { validate } from '../core/validate.ts';
import type { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import type { AgentFactory, TrainBudget, TrainCallbacks } from './agent.ts';
import {
  builtInEstimator,
  defineEstimator,
  estimateAdvantages,
  type Advantages,
  type CenteringSpec,
  type ComponentValues,
  type EstimatorDefinition,
  type Rollout,
} from './estimators.ts';
import { ensureBackend } from './nn.ts';
import { PolicyAgent } from './policy-agent.ts';
import { packPaths, PolicyNetwork, trainingTerms } from './policy.ts';
import { RL_ESTIMATORS, RlAgentConfigSchema, type RlAgentConfig, type RlConfig } from './rl-config.ts';
import {
  beginRlTraining,
  saveRlTraining,
  startUpdateWorker,
  updateLog,
  validationLog,
  withoutEvaluator,
  withRandomTargets,
  type RlParts,
  type RlTraining,
} from './rl-harness.ts';
import { policyGradientStep } from './rl-update.ts';
import { runEpisodes } from './rollout.ts';
import { ConfigError } from '../core/errors.ts';

export { RL_ESTIMATORS, RlAgentConfigSchema, RlConfigSchema, type RlAgentConfig, type RlConfig, type RlEstimator } from './rl-config.ts';
export { withRandomTargets } from './rl-harness.ts';
export { policyGradientStep, type UpdateStats } from './rl-update.ts';

export class RlAgent extends PolicyAgent implements RlParts {
  /** π_ref: the frozen pre-trained policy the KL term pulls toward. */
  readonly ref: PolicyNetwork;
  readonly rl: RlConfig;
  private training: RlTraining | null = null;

  constructor(
    readonly estimator: EstimatorDefinition,
    net: PolicyNetwork,
    readonly config: RlAgentConfig,
  ) {
    super(estimator.name, net, config.decode);
    this.ref = new PolicyNetwork(net.numItems, net.config, {
      seed: 0,
      trainable: false,
      label: 'reference',
      items: net.items,
      trainSequences: net.trainSequences,
    });
    this.rl = config.rl;
  }

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
    const worker = await startUpdateWorker(this.net, P * G, cfg.gradChunks);
    try {
      const L_max = env.config.maxLength;
      const w: ComponentValues = cfg.weights ?? env.config.weights;
      if (env.config.maskHistory && !this.net.config.maskHistory) {
        throw new ConfigError(`${this.name}: the environment masks history items; set policy.maskHistory so that sampling and training use the same masks`);
      }

      // 0. Start: resume from the checkpoint, or load / pre-train the supervised policy (the harness).
      const training = await beginRlTraining(this, env, ctx.rng.seed32(), cb);
      this.training = training;
      const { state: st, optimizer, stats } = training;
      const trainCases = env.cases('train').length;
      const batchesPerEpoch = Math.ceil(cfg.casesPerEpoch / P);
      const progress0 = this.config.init ? 0 : 0.3;
      const warmupUpdates = Math.floor(cfg.warmup * epochs * batchesPerEpoch);

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
          //    Blocks of whole groups go to the training workers when there are any (the same paths).
          const envSeed = deriveSeed(st.seed, `rl/env-${st.epoch}-${st.batch}`);
          const paths =
            worker?.rollout(this.net, env, caseIndices, G, sampleSeed, envSeed) ?? runEpisodes(this.net, env, 'train', caseIndices, sampleSeed, envSeed);
          const t1 = performance.now();

          // 2. Step rewards r_t = w·(IoI_t, IoR_t, CTR_t), one Rollout per path, grouped by case.
          //    With emptyPaths 'drop' (the official code), paths without an item take no part in
          //    training: `kept` are the paths that do.
          const allRollouts: Rollout[] = paths.map((p, i) => ({
            group: Math.floor(i / G),
            rewards: p.ioi.map((_, t) => w.ioi * p.ioi[t] + w.ior * p.ior[t] + w.ctr * p.ctr[t]),
            components: { ioi: p.ioi, ior: p.ior, ctr: p.ctr },
            stopped: p.stopped,
          }));
          const kept = dropEmptyPaths(cfg, paths);
          const rollouts = kept ? kept.map((i) => allRollouts[i]) : allRollouts;

          // 3. SRC statistics: accumulated over the first epoch, frozen afterwards (CenteringStats).
          stats.observe(rollouts);
          const perPosition = cfg.centeringMean === 'per-position';
          const centering: CenteringSpec = cfg.centering === 'zscore' ? stats.zscoreSpec(w, L_max, perPosition) : stats.plainSpec(perPosition);

          // 4. Log-probabilities of the sampled terms under π and π_ref (no gradient), for the
          //    reward-side KL penalty. A dropped empty path keeps its row but has no term.
          const traj = packPaths(paths);
          if (kept) paths.forEach((p, b) => p.items.length === 0 && (traj.stopped[b] = 0));
          const logRatio = cfg.kl === 'penalty' ? this.termLogRatios(traj) : null;

          // 5. Advantages A_t (agents/estimators.ts), on the paths that train (none for a dropped one).
          const keptAdvantages = this.advantages(rollouts, centering, kept && logRatio ? kept.map((i) => logRatio[i]) : logRatio);
          const advantages: Advantages = kept ? paths.map(() => new Float64Array(0)) : keptAdvantages;
          if (kept) kept.forEach((i, j) => (advantages[i] = keptAdvantages[j]));

          const lrScale = learningRateScale(st.update, warmupUpdates);
          // 6. Loss and gradient, in chunks of whole groups: the gradient is the sum over chunks;
          //    the spread of the chunk gradients estimates the estimator's variance.
          const update = policyGradientStep(this.net, this.ref, traj, advantages, optimizer, {
            groupSize: G,
            chunks: cfg.gradChunks,
            beta: cfg.kl === 'exact' ? cfg.beta : 0,
            worker,
            normaliser: kept ? Math.max(1, kept.length) : paths.length,
            lrScale,
          });

          // 7. Bookkeeping: the SRC window when counted in updates, logs, checkpoint (the harness).
          st.update += 1;
          if (typeof cfg.centeringWindow === 'number' && !stats.frozen && st.update >= cfg.centeringWindow) {
            stats.freeze();
            st.centeringFrozen = true;
          }
          const t2 = performance.now();
          st.seconds += (t2 - t0) / 1000;
          cb?.onTime?.('rollout', (t1 - t0) / 1000);
          cb?.onTime?.('update', (t2 - t1) / 1000);
          const nextBatch = st.batch + 1;
          if (this.config.checkpoint && this.config.checkpointEvery && st.update % this.config.checkpointEvery === 0 && nextBatch < batchesPerEpoch) {
            await saveRlTraining(this, training, this.config.checkpoint, { epoch: st.epoch, batch: nextBatch });
          }
          cb?.onLog?.(st.update, { ...updateLog(st.epoch, paths, w, update, advantages, stats), lr: cfg.lr * lrScale });
          cb?.onProgress?.(
            progress0 + (1 - progress0) * ((st.epoch - 1 + nextBatch / batchesPerEpoch) / Math.max(1, epochs)),
            `${this.name} epoch ${st.epoch}/${epochs}`,
          );
          await new Promise<void>((r) => setImmediate(r));
        }
        // End of epoch: freeze the SRC statistics after the first (the observed batches stay in the
        // state: replaying them rebuilds the frozen statistics); validation; checkpoint.
        if (cfg.centeringWindow === 'first-epoch') stats.endEpoch();
        st.centeringFrozen = stats.frozen;
        if (validEnv && baseValid) {
          if (cfg.targets === 'random' && validEnv === baseValid)
            validEnv = withRandomTargets(baseValid, 'valid', baseValid.numEnvs, deriveSeed(st.seed, 'rl/valid-targets'));
          cb?.onLog?.(st.update, validationLog(this.net, validEnv, w, deriveSeed(st.seed, 'rl/valid')));
        }
        if (this.config.checkpoint) await saveRlTraining(this, training, this.config.checkpoint, { epoch: st.epoch + 1, batch: 0 });
      }
      cb?.onProgress?.(1, `${this.name} done`);
    } finally {
      for (const e of new Set([env, baseEnv, validEnv, baseValid])) e?.close();
      await worker?.terminate();
    }
  }

  /** Step 5: the estimator's advantages (agents/estimators.ts: SRC if it needs it, the KL penalty, its `advantages`). */
  private advantages(rollouts: Rollout[], centering: CenteringSpec, logRatio: Float64Array[] | null): Advantages {
    return estimateAdvantages(this.estimator, rollouts, {
      centering,
      baseline: this.rl.baseline,
      klPenalty: logRatio ? { beta: this.rl.beta, logRatio } : undefined,
    });
  }

  /** Step 4: ℓ_t − ℓ_ref,t of each path item (STOP excluded: it has no reward slot). */
  private termLogRatios(traj: ReturnType<typeof packPaths>): Float64Array[] {
    const terms = trainingTerms(traj, this.net.stop);
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

  /** The full training state (weights, π_ref, optimiser, counters): resumable by `train`. */
  override async save(file: string): Promise<void> {
    if (this.training) await saveRlTraining(this, this.training, file);
    else await super.save(file);
  }

  override dispose(): void {
    super.dispose();
    this.ref.dispose();
    this.training?.optimizer.dispose();
  }
}

/**
 * The learning-rate factor of update u (0-based) under a linear warm-up of W updates, constant
 * after: min(1, u / W), 1 when W = 0 (the official code's `constant_with_warmup`, whose first
 * update has lr 0).
 */
export function learningRateScale(u: number, W: number): number {
  return W > 0 && u < W ? u / W : 1;
}

/**
 * Under `emptyPaths: 'drop'`, the indices of the paths with at least one item (the official code's
 * `valid` sequences); null under 'train' (every path trains).
 */
function dropEmptyPaths(cfg: RlConfig, paths: readonly { items: readonly number[] }[]): number[] | null {
  if (cfg.emptyPaths === 'train') return null;
  const kept: number[] = [];
  paths.forEach((p, i) => p.items.length > 0 && kept.push(i));
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Factories: one per estimator
// ---------------------------------------------------------------------------------------------

/**
 * The agent factory of the RL trainer with `estimator`: a built-in's name or a user's definition
 * (`defineEstimator`), trained on the same policy, pre-training, config schema and budget as the
 * built-ins. The agent's name and description are the estimator's. A plug-in module makes one its
 * default export:
 *
 *     export default rlAgentFactory(defineEstimator({ name: 'my-estimator', description, needs, advantages }));
 *
 * Errors: ContractError for an unknown built-in name or a malformed definition.
 */
export function rlAgentFactory(estimator: string | EstimatorDefinition): AgentFactory<RlAgentConfig> {
  const def = typeof estimator === 'string' ? builtInEstimator(estimator) : defineEstimator(estimator);
  return {
    name: def.name,
    description: def.description,
    configSchema: RlAgentConfigSchema,
    async create(config, ctx) {
      await ensureBackend();
      const c = validate(RlAgentConfigSchema, config, `${def.name} config`);
      return new RlAgent(
        def,
        new PolicyNetwork(ctx.numItems, c.policy, { seed: ctx.seed, items: ctx.items ?? null, trainSequences: ctx.trainSequences ?? null }),
        c,
      );
    },
  };
}

export const rlAgents: AgentFactory[] = RL_ESTIMATORS.map((name) => rlAgentFactory(name) as AgentFactory);
