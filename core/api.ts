/**
 * The gym core: a tiny interface in the manner of Gymnasium. Behaviour is chosen by the
 * environment's validated options (EnvConfig: maxLength, invalid-action mode, patience, satiation,
 * ...), recorded in every run's identity, not by subclassing. There are no wrappers yet: an option
 * is hashed with the run, a wrapper chain would have to be too.
 *
 * Actions are integers: an item id in [0, N) or STOP = N (the action space is Discrete(N + 1)).
 */

export interface ResetArgs<Options> {
  /** Reseeds the environment's streams; without it the environment continues its current streams. */
  seed?: number;
  options?: Options;
}

export interface StepResult<Obs, Info> {
  observation: Obs;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: Info;
}

export interface VectorStepResult<Obs, Info> {
  observations: Obs[];
  rewards: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  infos: Info[];
}

/** A declared array-valued field of an observation: what checkEnv verifies. */
export interface ArraySpec {
  readonly dtype: 'int32' | 'uint8' | 'float32' | 'float64';
  /** Fixed length, or the maximum length when `variable` is set. */
  readonly length: number;
  readonly variable?: boolean;
  /** Inclusive bounds of the values. */
  readonly low: number;
  readonly high: number;
}

export interface ActionSpace {
  /** Number of actions: N items plus STOP. */
  readonly n: number;
  /** The STOP action (= number of items). */
  readonly stop: number;
}

export interface Env<Obs, Info, Options = unknown, ResetInfo = Record<string, unknown>> {
  readonly id: string;
  readonly actionSpace: ActionSpace;
  /** Declared shapes of the observation's array fields (scalars are declared as length-1 arrays). */
  readonly observationSpec: Readonly<Record<string, ArraySpec>>;
  /** Keys every step info carries. */
  readonly infoKeys: readonly string[];
  reset(args?: ResetArgs<Options>): { observation: Obs; info: ResetInfo };
  step(action: number): StepResult<Obs, Info>;
  close(): void;
}

/**
 * A batch of environments stepped together (one simulator call per step for all of them).
 * No auto-reset: a finished sub-environment ignores further actions (reward 0, and the terminated /
 * truncated flags it ended with, unchanged) until the next reset, so a batch is one set of episodes
 * (e.g. a group of rollouts per case).
 */
export interface VectorEnv<Obs, Info, Options = unknown, ResetInfo = Record<string, unknown>> {
  readonly id: string;
  readonly numEnvs: number;
  readonly actionSpace: ActionSpace;
  readonly observationSpec: Readonly<Record<string, ArraySpec>>;
  readonly infoKeys: readonly string[];
  reset(args?: ResetArgs<Options>): { observations: Obs[]; infos: ResetInfo[] };
  step(actions: Int32Array): VectorStepResult<Obs, Info>;
  /** 1 for sub-environments whose episode has not ended. */
  active(): Uint8Array;
  close(): void;
}
