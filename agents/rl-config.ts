/**
 * The configuration of the policy-gradient agents (agents/rl.ts): the estimators, the RL section and
 * the agent's whole config (policy, RL, pre-training, checkpoints). Defaults live in the schemas and
 * are applied on validation (core/validate.ts), so a run records every value it used.
 */
import { CloneType, Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../core/validate.ts';
import { ESTIMATOR_NAMES, type EstimatorName } from './estimators.ts';
import { PolicyConfigSchema } from './policy.ts';
import { SupervisedConfigSchema } from './supervised.ts';

/** The built-in estimators' names (agents/estimators.ts BUILT_IN_ESTIMATORS), one RL agent each. */
export const RL_ESTIMATORS: readonly EstimatorName[] = ESTIMATOR_NAMES;
export type RlEstimator = EstimatorName;

const Weights = Type.Object(
  {
    ioi: Type.Number({ description: 'weight of the IoI reward (gain in log p(target))' }),
    ior: Type.Number({ description: 'weight of the IoR reward (gain in the rank of the target)' }),
    ctr: Type.Number({ description: 'weight of the CTR reward (acceptance probability)' }),
  },
  { additionalProperties: false },
);

export const RlConfigSchema = Type.Object(
  {
    groupSize: Type.Integer({ minimum: 1, default: 16, description: 'G: sampled paths per case (the group)' }),
    casesPerBatch: Type.Integer({ minimum: 1, default: 16, description: 'cases per update (the batch has casesPerBatch × G paths)' }),
    casesPerEpoch: Type.Integer({ minimum: 1, default: 256, description: 'train cases per epoch (a random subset each epoch)' }),
    epochs: Type.Integer({ minimum: 0, default: 5, description: "RL epochs of casesPerEpoch cases (a budget's epochs override it)" }),
    /**
     * 1e-3 on synthetic-v0: with the short default budget (5 epochs × 16 updates) the paper's 1e-4
     * (ML-1M, 50 epochs over all prompts) leaves the policy next to the supervised one.
     */
    lr: Type.Number({ exclusiveMinimum: 0, default: 1e-3, description: 'learning rate (AdamW)' }),
    weightDecay: Type.Number({ minimum: 0, default: 0.01, description: 'AdamW weight decay' }),
    clipNorm: Type.Number({ minimum: 0, default: 0, description: 'global gradient-norm clip (0: no clipping)' }),
    beta: Type.Number({ minimum: 0, default: 0.01, description: 'β: weight of the KL to the frozen supervised policy' }),
    kl: StringEnum(['exact', 'penalty', 'none'] as const, {
      default: 'exact',
      description: 'KL to the supervised policy: exact (per-step KL in the loss), penalty (β·log-ratio off the rewards), none',
    }),
    weights: Type.Optional(CloneType(Weights, { description: "reward weights (default: the environment's)" })),
    centering: StringEnum(['zscore', 'plain'] as const, {
      default: 'zscore',
      description: 'SRC: zscore (official code: per-component z-score, CTR / L_max) or plain (r − μ)',
    }),
    /**
     * SRC means: 'pooled' over all steps (the paper: one price μ per step) or 'per-position'
     * (μ_t, beyond the paper: a price per position, for rewards with diminishing returns).
     */
    centeringMean: StringEnum(['pooled', 'per-position'] as const, {
      default: 'pooled',
      description: 'SRC means: pooled over all steps (the paper) or per-position (μ_t, a price per position)',
    }),
    baseline: StringEnum(['leave-one-out', 'group-mean'] as const, {
      default: 'leave-one-out',
      description: 'baseline of PSAE and of prorl-no-psae / reinforce-baseline',
    }),
    gradChunks: Type.Integer({ minimum: 1, default: 4, description: 'chunks of the batch for the gradient-variance estimate (≥ 2 to log it)' }),
    validCases: Type.Integer({ minimum: 0, default: 128, description: 'valid cases evaluated (greedy) after each epoch, for the logs (0: none)' }),
    /**
     * Targets of the training cases: 'case' keeps each train case's own target (the end of its
     * real coherent run: a target the user is already close to); 'random' pairs each train history
     * with a uniformly random target outside it, re-drawn every epoch, which is how test cases are
     * built (docs/design.md §6.3). Validation logs use the same rule on valid histories.
     */
    targets: StringEnum(['random', 'case'] as const, {
      default: 'random',
      description: "train targets: random (outside the history, re-drawn every epoch) or case (the case's own)",
    }),
    /**
     * Linear learning-rate warm-up over this fraction of the run's updates (epochs × updates per
     * epoch), then constant: update u (0-based) uses lr·min(1, u / W), W = ⌊warmup × updates⌋, so
     * the first update of a warm-up has lr 0. The official code's `constant_with_warmup` schedule
     * with `prorl_warmup_steps: 0.05`. 0: no warm-up.
     */
    warmup: Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'linear lr warm-up over this fraction of the updates (0: none)' }),
    /**
     * Empty paths (STOP as the first action: no item). 'train': the STOP term is trained like any
     * other (advantage −b_0, the path counts in the baselines and in N). 'drop': as the official
     * code, an empty path has no term (no policy-gradient and no KL term), takes no part in any
     * baseline or centring statistic and no share of N (the loss is divided by the number of
     * non-empty paths, at least 1).
     */
    emptyPaths: StringEnum(['train', 'drop'] as const, {
      default: 'train',
      description: 'empty paths (STOP first): train their STOP term, or drop them from loss and baselines',
    }),
    /**
     * SRC statistics window: 'first-epoch' accumulates over the first epoch's updates, then
     * freezes; an integer n freezes them after the first n updates whatever the epoch size (the
     * official code freezes after its first epoch: 153 updates on Steam).
     */
    centeringWindow: Type.Union([Type.Literal('first-epoch'), Type.Integer({ minimum: 1 })], {
      default: 'first-epoch',
      description: 'SRC statistics freeze after the first epoch, or after the first n updates',
    }),
  },
  { additionalProperties: false, default: {}, description: 'the RL stage: policy-gradient updates' },
);
export type RlConfig = Static<typeof RlConfigSchema>;

export const RlAgentConfigSchema = Type.Object(
  {
    policy: PolicyConfigSchema,
    rl: RlConfigSchema,
    pretrain: CloneType(SupervisedConfigSchema, { description: 'stage 1: supervised pre-training, run first when init is not given' }),
    init: Type.Optional(Type.String({ description: 'policy checkpoint to start from instead of pre-training' })),
    checkpoint: Type.Optional(Type.String({ description: "checkpoint file for resuming (written every checkpointEvery updates and at each epoch's end)" })),
    checkpointEvery: Type.Integer({ minimum: 0, default: 0, description: 'updates between checkpoints (0: at epoch ends only)' }),
    resume: Type.Boolean({ default: true, description: 'continue from checkpoint when it exists' }),
    decode: StringEnum(['greedy', 'sample'] as const, { default: 'greedy', description: 'evaluation decoding: greedy (argmax) or sample' }),
  },
  { additionalProperties: false, default: {} },
);
export type RlAgentConfig = Static<typeof RlAgentConfigSchema>;
