/**
 * ProactiveRecEnv (docs/design.md §2): a case is a 10-item history h and a target T; at step t the agent
 * recommends an item a_t or STOP. The user simulator scores how the path changes the user's
 * interest in T:
 *   IoI_t = log p(T | s_t ⊕ a_t) − log p(T | s_t)
 *   IoR_t = rank(T | s_t) − rank(T | s_t ⊕ a_t)
 *   CTR_t = sigmoid(u(s_t) · e_{a_t})
 *   r_t   = w_ioi·IoI_t + w_ior·IoR_t + w_ctr·CTR_t
 * The batched class is the implementation; the single environment is a batch of one.
 */
import { ConfigError, ContractError, ProrecError } from '../core/errors.ts';
import { Type, type Static } from '@sinclair/typebox';
import type { ActionSpace, ArraySpec, Env, ResetArgs, StepResult, VectorEnv, VectorStepResult } from '../core/api.ts';
import { HISTORY_LENGTH, shareAttribute, type Case, type Dataset, type ItemTable, type Split } from '../data/dataset.ts';
import { episodeSeed, replicasOf, Rng, stepStream, type EpisodeKey } from '../core/rng.ts';
import type { SimulatorBatch, UserSimulator } from '../simulators/simulator.ts';
import { StringEnum, validate } from '../core/validate.ts';

export const RewardWeightsSchema = Type.Object(
  { ioi: Type.Number({ default: 1 }), ior: Type.Number({ default: 1 }), ctr: Type.Number({ default: 1 }) },
  { additionalProperties: false, default: {}, description: 'reward weights w_ioi, w_ior, w_ctr (r_t = w·(IoI_t, IoR_t, CTR_t))' },
);

export const EnvConfigSchema = Type.Object(
  {
    split: StringEnum(['train', 'valid', 'test'] as const, { default: 'test' }),
    /** L_max: the episode is truncated after this many actions (recommended items, and invalid actions in 'penalize' mode). */
    maxLength: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
    weights: RewardWeightsSchema,
    /** 'always': every item is accepted (the paper's setting); 'sample': accepted with probability CTR_t. */
    accept: StringEnum(['always', 'sample'] as const, { default: 'always' }),
    /** Allow recommending an item twice in one path. */
    allowRepeats: Type.Boolean({ default: false }),
    /** Also forbid the history's items. */
    maskHistory: Type.Boolean({ default: false }),
    /** 'error' throws an InvalidActionError; 'penalize' pays `invalidPenalty`, appends nothing and counts the action. */
    invalidAction: StringEnum(['error', 'penalize'] as const, { default: 'error' }),
    invalidPenalty: Type.Number({ default: -1 }),
    /** Success: the target is in the simulator's top-k after the path. */
    successTopK: Type.Integer({ minimum: 1, default: 10 }),
    /**
     * Step the evaluator simulator beside the reward model, so that episode summaries and step
     * infos carry its metrics. Rewards never depend on it: training rollouts, which read only the
     * reward model, turn it off (on a real environment that halves the simulator work).
     */
    stepEvaluator: Type.Boolean({ default: true }),
    /**
     * Worlds where long paths cost something (both off by default; docs/design.md §2.9). Patience: the user leaves after `patience.rejections` rejected
     * recommendations (accept: 'sample'), ending the episode and paying `patience.penalty`
     * (a lost session), as session-based simulators model abandonment.
     */
    patience: Type.Object(
      {
        /** Rejections after which the user leaves (0: never). */
        rejections: Type.Integer({ minimum: 0, default: 0 }),
        /** Reward paid when the user leaves (added to that step's reward). */
        penalty: Type.Number({ default: 0 }),
        /**
         * A user who leaves does not go on to the target: the steering rewards of the episode so far
         * (w_ioi·ΣIoI + w_ior·ΣIoR) are paid back on that step (the CTR terms are kept).
         */
        forfeit: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * Satiation: an item sharing an attribute with n of the user's last `window` accepted path
     * items is accepted with probability CTR·(1 − strength)^n; its CTR reward and metric are that
     * satiated CTR. Under accept: 'sample' a rejected item does not move the user, so the interest
     * shift of repeating what the user just consumed falls too.
     */
    satiation: Type.Object(
      {
        strength: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
        window: Type.Integer({ minimum: 1, default: 3 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type EnvConfig = Static<typeof EnvConfigSchema>;

/** Validates a partial config, filling the schema's defaults; errors name `source` and the bad field. */
export function resolveEnvConfig(overrides: unknown, source = 'environment config'): EnvConfig {
  return validate(EnvConfigSchema, overrides ?? {}, source);
}

export interface ProactiveObservation {
  /** The case's 10 history items, oldest first. */
  readonly history: Int32Array;
  /** Items accepted so far (appended to the user's sequence). */
  readonly path: Int32Array;
  /** Items recommended so far, accepted or not. */
  readonly proposed: Int32Array;
  /** Per proposed item: 1 if the user accepted it (it is then in `path`), else 0. Same length as `proposed`. */
  readonly accepted: Uint8Array;
  readonly target: number;
  /** Number of actions taken in this episode. */
  readonly step: number;
  /** 1 where the action is allowed; the last entry is STOP. Length N + 1. */
  readonly actionMask: Uint8Array;
}

/** Step reward components under one simulator. */
export interface RewardComponents {
  ioi: number;
  ior: number;
  ctr: number;
}

/**
 * Why an episode ended, one cause each: the agent chose STOP ('stop'), it reached L_max
 * ('maxLength', truncated), or the user left, patience exhausted ('left'). A user who leaves on the
 * L_max-th item left.
 */
export type EpisodeEnd = 'stop' | 'maxLength' | 'left';

export const EPISODE_ENDS: readonly EpisodeEnd[] = ['stop', 'maxLength', 'left'];

export interface EpisodeSummary {
  /** Items recommended (STOP and invalid actions excluded). */
  length: number;
  /** Items accepted (= length when accept is 'always'). */
  accepted: number;
  /** Invalid actions (in 'penalize' mode; each paid `invalidPenalty` and appended nothing). */
  invalid: number;
  /** The user left (patience exhausted): the episode ended there (`end` is 'left'). */
  left: boolean;
  /** Why the episode ended (exactly one cause). */
  end: EpisodeEnd;
  /** Sum of the rewards step() paid in the episode, invalid-action penalties included. */
  return: number;
  /** Path totals and mean CTR under the reward simulator. */
  ioi: number;
  ior: number;
  ctr: number;
  /** The same under the evaluator simulator, when the environment has one. */
  evaluator: { ioi: number; ior: number; ctr: number; success: boolean } | null;
  /** Fraction of adjacent pairs in (a_1..a_L, T) sharing an attribute; null when L = 0. */
  coherence: number | null;
  /** Fraction of path items already in the history. */
  duplicateRate: number;
  /** Target in the reward simulator's top-k after the path. */
  success: boolean;
  /** rank(T) after the path (mid-rank for ties: simulators/simulator.ts). */
  finalRank: number;
  /** The agent ended the episode with STOP (`end` is 'stop'); not when the user left or L_max was reached. */
  stopped: boolean;
  /** Items recommended, in order (accepted or not). */
  path: number[];
  /** Items the user accepted, in order: what was appended to the user's sequence. */
  acceptedPath: number[];
  /** Per item of `path`: 1 if the user accepted it, else 0 (how an extra evaluator replays the episode: envs/extra-evaluators.ts). */
  acceptedFlags: number[];
}

/** An action the environment refuses (in invalidAction: 'error' mode): out of range, the target, a repeat, a history item. */
export class InvalidActionError extends ProrecError {
  readonly kind = 'failure';
  constructor(message: string) {
    super(message);
  }
}

export interface ProactiveStepInfo {
  /** False for a sub-environment whose episode had already ended (its action was ignored). */
  active: boolean;
  caseIndex: number;
  action: number;
  stop: boolean;
  accepted: boolean;
  invalid: boolean;
  ioi: number;
  ior: number;
  ctr: number;
  reward: number;
  /** The user left after this step (patience exhausted; its penalty is in `reward`). */
  left: boolean;
  logProbBefore: number;
  logProbAfter: number;
  rankBefore: number;
  rankAfter: number;
  /** Shares an attribute with the previous path item; null for the first item or STOP. */
  coherent: boolean | null;
  /** The item is already in the history. */
  duplicate: boolean;
  /** Components under the evaluator simulator, when there is one. */
  evaluator: RewardComponents | null;
  /** Set on the step that ends the episode. */
  episode: EpisodeSummary | null;
}

export const STEP_INFO_KEYS: readonly (keyof ProactiveStepInfo)[] = [
  'active',
  'caseIndex',
  'action',
  'stop',
  'accepted',
  'invalid',
  'ioi',
  'ior',
  'ctr',
  'reward',
  'left',
  'logProbBefore',
  'logProbAfter',
  'rankBefore',
  'rankAfter',
  'coherent',
  'duplicate',
  'evaluator',
  'episode',
];

export interface VectorResetOptions {
  split?: Split;
  /** Case index (into the split) of each sub-environment; otherwise drawn uniformly with the seed. */
  caseIndices?: readonly number[];
}

/** What reset() tells about each sub-environment's episode. */
export interface ProactiveResetInfo {
  caseIndex: number;
  split: Split;
  /** The episode's key (case and replica): the random streams of the episode hang off it. */
  key: EpisodeKey;
  logProb: number;
  rank: number;
  /** The real continuation of the case, where the data has one. */
  realPath: readonly number[] | null;
}

export interface ResetOptions {
  split?: Split;
  caseIndex?: number;
}

/** See ProactiveRecVectorEnv.recipe. */
export interface EnvRecipe {
  readonly id: string;
  readonly world: Record<string, unknown>;
  readonly randomTargets: { readonly split: Split; readonly seed: number } | null;
}

export interface ProactiveWorld {
  readonly dataset: Dataset;
  /** The reward model: step rewards come from it. */
  readonly simulator: UserSimulator;
  /** An independently trained simulator that evaluation also reports under (or null). */
  readonly evaluator: UserSimulator | null;
  /** Further simulators that re-score evaluated paths after the episodes (world option extraEvaluators); step() never reads them. */
  readonly extraEvaluators?: readonly { readonly id: string; readonly simulator: UserSimulator }[];
}

interface RowState {
  caseIndex: number;
  key: EpisodeKey;
  /** Seed of the episode's acceptance draws (keyed by the reset seed and the episode key). */
  acceptSeed: number;
  /** How the episode ended, reported again (unchanged) by every later step. */
  ended: 'terminated' | 'truncated' | null;
  invalid: number;
  rejected: number;
  left: boolean;
  history: Int32Array;
  target: number;
  path: number[];
  proposed: number[];
  /** 1 per proposed item the user accepted. */
  acceptedFlags: number[];
  mask: Uint8Array;
  historySet: Set<number>;
  step: number;
  done: boolean;
  logProb: number;
  rank: number;
  evalLogProb: number;
  evalRank: number;
  // Running totals for the episode summary.
  ret: number;
  ioi: number;
  ior: number;
  ctrSum: number;
  evalIoi: number;
  evalIor: number;
  evalCtrSum: number;
  accepted: number;
  duplicates: number;
}

/** An agent reset or read a split its environment is not open to (see ProactiveRecVectorEnv.restrictSplits). */
export class SplitAccessError extends ProrecError {
  readonly kind = 'failure';
}

export class ProactiveRecVectorEnv implements VectorEnv<ProactiveObservation, ProactiveStepInfo, VectorResetOptions, ProactiveResetInfo> {
  readonly actionSpace: ActionSpace;
  readonly observationSpec: Readonly<Record<string, ArraySpec>>;
  readonly infoKeys = STEP_INFO_KEYS;
  readonly config: EnvConfig;
  private rows: RowState[] = [];
  private batch: SimulatorBatch | null = null;
  private evalBatch: SimulatorBatch | null = null;
  /**
   * The evaluator is the reward model itself (synthetic-v0's exact dynamics): its batch would
   * repeat the reward batch's computation on the same input, so the reward batch's results are
   * used for both (evalBatch === batch).
   */
  private evalShared = false;
  private caseRng: Rng;
  private split: Split;
  /** Seed of the last seeded reset and the resets since it: the acceptance streams hang off both. */
  private resetSeed = 0;
  private resetsSinceSeed = 0;

  constructor(
    readonly id: string,
    readonly world: ProactiveWorld,
    readonly numEnvs: number,
    config: Partial<EnvConfig> = {},
  ) {
    if (!(Number.isInteger(numEnvs) && numEnvs >= 1)) throw new ContractError(`numEnvs must be a positive integer, got ${numEnvs}`);
    this.config = resolveEnvConfig(config, `${id} config`);
    const N = world.dataset.items.count;
    if (world.simulator.numItems !== N)
      throw new ConfigError(`simulator ${world.simulator.id} has ${world.simulator.numItems} items, dataset ${world.dataset.name} has ${N}`);
    if (world.evaluator && world.evaluator.numItems !== N)
      throw new ConfigError(`evaluator ${world.evaluator.id} has ${world.evaluator.numItems} items, dataset has ${N}`);
    this.actionSpace = { n: N + 1, stop: N };
    this.observationSpec = {
      history: { dtype: 'int32', length: HISTORY_LENGTH, low: 0, high: N - 1 },
      path: { dtype: 'int32', length: this.config.maxLength, variable: true, low: 0, high: N - 1 },
      proposed: { dtype: 'int32', length: this.config.maxLength, variable: true, low: 0, high: N - 1 },
      accepted: { dtype: 'uint8', length: this.config.maxLength, variable: true, low: 0, high: 1 },
      target: { dtype: 'int32', length: 1, low: 0, high: N - 1 },
      step: { dtype: 'int32', length: 1, low: 0, high: this.config.maxLength },
      actionMask: { dtype: 'uint8', length: N + 1, low: 0, high: 1 },
    };
    this.split = this.config.split;
    this.caseRng = Rng.stream(0, 'cases');
  }

  get numItems(): number {
    return this.actionSpace.stop;
  }

  cases(split: Split = this.split): readonly Case[] {
    this.checkSplit(split);
    return this.world.dataset.cases[split];
  }

  /** The splits this environment may reset on and list (null: every split); see restrictSplits. */
  private allowedSplits: { splits: readonly Split[]; holder: string } | null = null;

  /**
   * Restricts the environment to `splits`: reset or cases() on another split throws a
   * SplitAccessError naming `holder`. The harness hands an agent's `train` environments restricted
   * to the splits other than the evaluation split (RecBole #620: split leakage); environments
   * derived from this one (withoutEvaluator, withRandomTargets) carry the restriction over.
   */
  restrictSplits(splits: readonly Split[], holder: string): this {
    this.allowedSplits = { splits: [...splits], holder };
    return this;
  }

  /**
   * How to build this environment's world again in another thread (RL training workers roll out
   * there): its registered id and complete world options, and the random targets drawn over a
   * split (agents/rl-harness.ts withRandomTargets). Set by `makeVec` and carried by the
   * environments derived from it; null for a world built by hand (it cannot be rebuilt elsewhere).
   */
  recipe: EnvRecipe | null = null;

  /** The restriction set by restrictSplits, to carry over to a derived environment. */
  get splitRestriction(): { splits: readonly Split[]; holder: string } | null {
    return this.allowedSplits;
  }

  private checkSplit(split: Split): void {
    const a = this.allowedSplits;
    if (a && !a.splits.includes(split))
      throw new SplitAccessError(
        `${a.holder}: the ${split} split is not open to it (this environment allows ${a.splits.join(', ')}): agents train on train/valid cases, never on the evaluation split`,
      );
  }

  active(): Uint8Array {
    return Uint8Array.from(this.rows, (r) => (r.done ? 0 : 1));
  }

  /** The episode key (case, replica) of each sub-environment of the current batch. */
  episodeKeys(): EpisodeKey[] {
    return this.rows.map((r) => r.key);
  }

  /**
   * Starts one episode per sub-environment. With `seed`, the environment's streams restart from it;
   * without, they continue (a further reset draws other acceptances). Each episode's acceptance
   * draws come from a stream keyed by (seed, resets since it, split, case, replica, step), so an
   * episode's outcome does not depend on the other rows of the batch.
   */
  reset(args: ResetArgs<VectorResetOptions> = {}): { observations: ProactiveObservation[]; infos: ProactiveResetInfo[] } {
    const split = args.options?.split ?? this.config.split;
    this.checkSplit(split);
    if (args.seed !== undefined) {
      this.resetSeed = args.seed;
      this.resetsSinceSeed = 0;
      this.caseRng = Rng.stream(args.seed, 'cases');
    } else {
      this.resetsSinceSeed += 1;
    }
    const pool = this.world.dataset.cases[split];
    if (pool.length === 0) throw new ConfigError(`${this.id}: the ${split} split has no cases`);
    let indices = args.options?.caseIndices;
    if (indices) {
      if (indices.length !== this.numEnvs) throw new ContractError(`${this.id}: ${indices.length} case indices for ${this.numEnvs} environments`);
      for (const i of indices)
        if (!(Number.isInteger(i) && i >= 0 && i < pool.length))
          throw new ContractError(`${this.id}: case index ${i} is not in [0, ${pool.length}) of the ${split} split`);
    } else {
      indices = Array.from({ length: this.numEnvs }, () => this.caseRng.int(pool.length));
    }
    this.split = split;
    this.disposeBatches();
    const N = this.numItems;
    const replicas = replicasOf(indices);
    const streamSeed = this.resetsSinceSeed === 0 ? this.resetSeed : Rng.stream(this.resetSeed, `reset-${this.resetsSinceSeed}`).seed32();
    this.rows = indices.map((caseIndex, k) => {
      const c = pool[caseIndex];
      const mask = new Uint8Array(N + 1).fill(1);
      mask[c.target] = 0;
      if (this.config.maskHistory) for (const i of c.history) mask[i] = 0;
      const key: EpisodeKey = { split, caseIndex, replica: replicas[k] };
      return {
        caseIndex,
        key,
        acceptSeed: episodeSeed(streamSeed, key, 'accept'),
        ended: null,
        invalid: 0,
        rejected: 0,
        left: false,
        history: Int32Array.from(c.history),
        target: c.target,
        path: [],
        proposed: [],
        acceptedFlags: [],
        mask,
        historySet: new Set(c.history),
        step: 0,
        done: false,
        logProb: 0,
        rank: 0,
        evalLogProb: 0,
        evalRank: 0,
        ret: 0,
        ioi: 0,
        ior: 0,
        ctrSum: 0,
        evalIoi: 0,
        evalIor: 0,
        evalCtrSum: 0,
        accepted: 0,
        duplicates: 0,
      };
    });
    const histories = this.rows.map((r) => Array.from(r.history));
    const targets = Int32Array.from(this.rows, (r) => r.target);
    this.batch = this.world.simulator.open(histories);
    const stats = this.batch.targetStats(targets);
    const evaluator = this.config.stepEvaluator ? this.world.evaluator : null;
    this.evalShared = evaluator !== null && evaluator === this.world.simulator;
    this.evalBatch = evaluator === null ? null : this.evalShared ? this.batch : evaluator.open(histories);
    const evalStats = this.evalBatch === null ? undefined : this.evalShared ? stats : this.evalBatch.targetStats(targets);
    this.rows.forEach((r, k) => {
      r.logProb = stats.logProb[k];
      r.rank = stats.rank[k];
      if (evalStats) {
        r.evalLogProb = evalStats.logProb[k];
        r.evalRank = evalStats.rank[k];
      }
    });
    return {
      observations: this.rows.map((r) => this.observe(r)),
      infos: this.rows.map((r) => ({ caseIndex: r.caseIndex, split, key: r.key, logProb: r.logProb, rank: r.rank, realPath: pool[r.caseIndex].path ?? null })),
    };
  }

  /** Why `action` is not allowed for row r now, or null when it is. */
  private invalidReason(r: RowState, action: number): string | null {
    const N = this.numItems;
    if (!Number.isInteger(action) || action < 0 || action > N) return `action ${action} is not an item in [0, ${N}) or STOP (${N})`;
    if (action === N) return null;
    if (action === r.target) return `action ${action} is the target (the target is not a path item)`;
    if (!r.mask[action])
      return r.historySet.has(action) && this.config.maskHistory
        ? `item ${action} is in the history (maskHistory is set)`
        : `item ${action} was already recommended (allowRepeats is off)`;
    return null;
  }

  /**
   * One action per sub-environment. A sub-environment whose episode has ended ignores its action:
   * reward 0, and the flags it ended with (terminated or truncated) reported again unchanged.
   * In 'error' mode an invalid action throws an InvalidActionError and changes nothing.
   */
  step(actions: Int32Array | readonly number[]): VectorStepResult<ProactiveObservation, ProactiveStepInfo> {
    const batch = this.batch;
    if (!batch) throw new ContractError(`${this.id}: step() before reset()`);
    if (actions.length !== this.numEnvs) throw new ContractError(`${this.id}: ${actions.length} actions for ${this.numEnvs} environments`);
    const B = this.numEnvs;
    const N = this.numItems;
    const stop = N;
    // Validate everything before changing anything: an error leaves the environment as it was.
    const invalid = new Uint8Array(B);
    for (let k = 0; k < B; k++) {
      const r = this.rows[k];
      if (r.done) continue;
      const reason = this.invalidReason(r, actions[k]);
      if (reason === null) continue;
      if (this.config.invalidAction === 'error') throw new InvalidActionError(`${this.id}: environment ${k}: ${reason}`);
      invalid[k] = 1;
    }

    // Which rows recommend an item, and which of those the user accepts.
    const items = new Int32Array(B);
    const recommends = new Uint8Array(B);
    for (let k = 0; k < B; k++) {
      const r = this.rows[k];
      if (r.done || invalid[k] || actions[k] === stop) continue;
      items[k] = actions[k];
      recommends[k] = 1;
    }
    const targets = Int32Array.from(this.rows, (r) => r.target);
    let accepts = recommends;
    // Satiation: the CTR of an item like what the user just accepted falls (factor 1 without satiation).
    const satiated = this.satiationFactors(items, recommends);
    // Under 'sample' acceptance the CTRs are read before the draw (advance only appends accepted rows).
    const sampling = this.config.accept === 'sample';
    const ctrBefore = sampling ? scaled(batch.ctr(items), satiated) : null;
    const evalCtrBefore = sampling && this.evalBatch ? (this.evalShared ? ctrBefore : scaled(this.evalBatch.ctr(items), satiated)) : null;
    if (ctrBefore) {
      accepts = new Uint8Array(B);
      // Each row's draw comes from its own episode's stream at this step.
      for (let k = 0; k < B; k++) if (recommends[k]) accepts[k] = stepStream(this.rows[k].acceptSeed, this.rows[k].step).float() < ctrBefore[k] ? 1 : 0;
    }
    const result = batch.advance(items, targets, accepts);
    const evalResult = this.evalBatch ? (this.evalShared ? result : this.evalBatch.advance(items, targets, accepts)) : null;
    const ctr = ctrBefore ?? scaled(result.ctr, satiated);
    const evalCtr = evalCtrBefore ?? (evalResult ? scaled(evalResult.ctr, satiated) : null);

    const w = this.config.weights;
    const rewards = new Float64Array(B);
    const terminated = new Uint8Array(B);
    const truncated = new Uint8Array(B);
    const infos: ProactiveStepInfo[] = new Array(B);
    for (let k = 0; k < B; k++) {
      const r = this.rows[k];
      const action = actions[k];
      if (r.done) {
        terminated[k] = r.ended === 'terminated' ? 1 : 0;
        truncated[k] = r.ended === 'truncated' ? 1 : 0;
        infos[k] = this.inactiveInfo(r, action);
        continue;
      }
      const before = { logProb: r.logProb, rank: r.rank };
      let info: ProactiveStepInfo;
      if (invalid[k]) {
        r.step += 1;
        r.invalid += 1;
        rewards[k] = this.config.invalidPenalty;
        r.ret += rewards[k];
        info = { ...this.inactiveInfo(r, action), active: true, invalid: true, reward: rewards[k] };
      } else if (action === stop) {
        terminated[k] = 1;
        info = { ...this.inactiveInfo(r, action), active: true, stop: true };
      } else {
        r.step += 1;
        const accepted = accepts[k] === 1;
        const ioi = accepted ? result.logProb[k] - r.logProb : 0;
        const ior = accepted ? r.rank - result.rank[k] : 0;
        const c = ctr[k];
        rewards[k] = w.ioi * ioi + w.ior * ior + w.ctr * c;
        // Patience: the user leaves after too many rejections; the lost session costs `penalty`.
        if (!accepted) r.rejected += 1;
        const patience = this.config.patience;
        if (patience.rejections > 0 && r.rejected >= patience.rejections) {
          r.left = true;
          rewards[k] += patience.penalty;
          if (patience.forfeit) rewards[k] -= w.ioi * (r.ioi + ioi) + w.ior * (r.ior + ior);
          terminated[k] = 1;
        }
        const previous = r.proposed.length > 0 ? r.proposed[r.proposed.length - 1] : -1;
        const coherent = previous >= 0 ? shareAttribute(this.world.dataset.items, previous, action) : null;
        const duplicate = r.historySet.has(action);
        r.proposed.push(action);
        r.acceptedFlags.push(accepted ? 1 : 0);
        if (!this.config.allowRepeats) r.mask[action] = 0;
        if (accepted) {
          r.path.push(action);
          r.logProb = result.logProb[k];
          r.rank = result.rank[k];
          r.accepted += 1;
        }
        let evaluator: RewardComponents | null = null;
        if (evalResult) {
          const eIoi = accepted ? evalResult.logProb[k] - r.evalLogProb : 0;
          const eIor = accepted ? r.evalRank - evalResult.rank[k] : 0;
          const eCtr = evalCtr![k];
          evaluator = { ioi: eIoi, ior: eIor, ctr: eCtr };
          if (accepted) {
            r.evalLogProb = evalResult.logProb[k];
            r.evalRank = evalResult.rank[k];
          }
          r.evalIoi += eIoi;
          r.evalIor += eIor;
          r.evalCtrSum += eCtr;
        }
        r.ret += rewards[k];
        r.ioi += ioi;
        r.ior += ior;
        r.ctrSum += c;
        if (duplicate) r.duplicates += 1;
        info = {
          active: true,
          caseIndex: r.caseIndex,
          action,
          stop: false,
          accepted,
          invalid: false,
          ioi,
          ior,
          ctr: c,
          reward: rewards[k],
          left: r.left,
          logProbBefore: before.logProb,
          logProbAfter: r.logProb,
          rankBefore: before.rank,
          rankAfter: r.rank,
          coherent,
          duplicate,
          evaluator,
          episode: null,
        };
      }
      if (!terminated[k] && r.step >= this.config.maxLength) truncated[k] = 1;
      if (terminated[k] || truncated[k]) {
        r.done = true;
        r.ended = terminated[k] ? 'terminated' : 'truncated';
        info.episode = this.summary(r, r.left ? 'left' : terminated[k] ? 'stop' : 'maxLength');
      }
      infos[k] = info;
    }
    return { observations: this.rows.map((r) => this.observe(r)), rewards, terminated, truncated, infos };
  }

  /** Per row, the satiation factor of the item it recommends (`satiationFactors`). */
  private satiationFactors(items: Int32Array, recommends: Uint8Array): Float64Array | null {
    return satiationFactors(this.world.dataset.items, this.config.satiation, items, recommends, (k) => this.rows[k].path);
  }

  private inactiveInfo(r: RowState, action: number): ProactiveStepInfo {
    return {
      active: false,
      caseIndex: r.caseIndex,
      action,
      stop: false,
      accepted: false,
      invalid: false,
      ioi: 0,
      ior: 0,
      ctr: 0,
      reward: 0,
      left: false,
      logProbBefore: r.logProb,
      logProbAfter: r.logProb,
      rankBefore: r.rank,
      rankAfter: r.rank,
      coherent: null,
      duplicate: false,
      evaluator: null,
      episode: null,
    };
  }

  private summary(r: RowState, end: EpisodeEnd): EpisodeSummary {
    const items = this.world.dataset.items;
    const L = r.proposed.length;
    const chain = [...r.proposed, r.target];
    let coherentPairs = 0;
    for (let i = 0; i + 1 < chain.length; i++) if (shareAttribute(items, chain[i], chain[i + 1])) coherentPairs++;
    const k = this.config.successTopK;
    return {
      length: L,
      accepted: r.accepted,
      invalid: r.invalid,
      left: r.left,
      end,
      return: r.ret,
      ioi: r.ioi,
      ior: r.ior,
      ctr: L > 0 ? r.ctrSum / L : 0,
      evaluator: this.evalBatch ? { ioi: r.evalIoi, ior: r.evalIor, ctr: L > 0 ? r.evalCtrSum / L : 0, success: r.evalRank <= k } : null,
      coherence: L > 0 ? coherentPairs / L : null,
      duplicateRate: L > 0 ? r.duplicates / L : 0,
      success: r.rank <= k,
      finalRank: r.rank,
      stopped: end === 'stop',
      path: [...r.proposed],
      acceptedPath: [...r.path],
      acceptedFlags: [...r.acceptedFlags],
    };
  }

  private observe(r: RowState): ProactiveObservation {
    const mask = r.mask.slice();
    if (r.done || r.step >= this.config.maxLength) mask.fill(0, 0, this.numItems);
    return {
      history: r.history,
      path: Int32Array.from(r.path),
      proposed: Int32Array.from(r.proposed),
      accepted: Uint8Array.from(r.acceptedFlags),
      target: r.target,
      step: r.step,
      actionMask: mask,
    };
  }

  /** The current simulator batch (reward model), for agents that plan with simulator access. */
  simulatorBatch(): SimulatorBatch {
    if (!this.batch) throw new ContractError(`${this.id}: no episode (call reset first)`);
    return this.batch;
  }

  private disposeBatches(): void {
    this.batch?.dispose();
    if (!this.evalShared) this.evalBatch?.dispose();
    this.batch = null;
    this.evalBatch = null;
    this.evalShared = false;
  }

  close(): void {
    this.disposeBatches();
  }
}

/**
 * Per row k of a step, the satiation factor (1 − strength)^n of the item `items[k]` it recommends,
 * n = how many of the row's last `window` accepted items (`acceptedOf(k)`) share an attribute with
 * it; 1 for rows not recommending; null without satiation (strength 0). Used by step() and by the
 * replay of recorded episodes under other simulators (envs/extra-evaluators.ts).
 */
export function satiationFactors(
  table: ItemTable,
  satiation: { readonly strength: number; readonly window: number },
  items: Int32Array,
  recommends: Uint8Array,
  acceptedOf: (k: number) => readonly number[],
): Float64Array | null {
  const { strength, window } = satiation;
  if (strength === 0) return null;
  return Float64Array.from(recommends, (r, k) => {
    if (!r) return 1;
    const path = acceptedOf(k);
    let n = 0;
    for (let j = Math.max(0, path.length - window); j < path.length; j++) if (shareAttribute(table, path[j], items[k])) n++;
    return (1 - strength) ** n;
  });
}

/** `values` times `factors` element-wise (values as they are when factors is null): how CTRs are scaled by satiation. */
export function scaled(values: Float64Array, factors: Float64Array | null): Float64Array {
  return factors ? values.map((v, k) => v * factors[k]) : values;
}

/** The single environment: a batch of one, with Gymnasium's scalar signatures. */
export class ProactiveRecEnv implements Env<ProactiveObservation, ProactiveStepInfo, ResetOptions, ProactiveResetInfo> {
  readonly vector: ProactiveRecVectorEnv;

  constructor(id: string, world: ProactiveWorld, config: Partial<EnvConfig> = {}) {
    this.vector = new ProactiveRecVectorEnv(id, world, 1, config);
  }

  get id(): string {
    return this.vector.id;
  }
  get actionSpace(): ActionSpace {
    return this.vector.actionSpace;
  }
  get observationSpec(): Readonly<Record<string, ArraySpec>> {
    return this.vector.observationSpec;
  }
  get infoKeys(): readonly string[] {
    return this.vector.infoKeys;
  }
  get config(): EnvConfig {
    return this.vector.config;
  }
  get world(): ProactiveWorld {
    return this.vector.world;
  }

  reset(args: ResetArgs<ResetOptions> = {}): { observation: ProactiveObservation; info: ProactiveResetInfo } {
    const o = args.options ?? {};
    const { observations, infos } = this.vector.reset({
      seed: args.seed,
      options: { split: o.split, caseIndices: o.caseIndex === undefined ? undefined : [o.caseIndex] },
    });
    return { observation: observations[0], info: infos[0] };
  }

  step(action: number): StepResult<ProactiveObservation, ProactiveStepInfo> {
    const r = this.vector.step([action]);
    if (!r.infos[0].active) throw new ContractError(`${this.id}: step() after the episode ended; call reset()`);
    return { observation: r.observations[0], reward: r.rewards[0], terminated: r.terminated[0] === 1, truncated: r.truncated[0] === 1, info: r.infos[0] };
  }

  close(): void {
    this.vector.close();
  }
}
