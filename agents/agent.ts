/**
 * The agent contract. An agent sees a batch of observations and returns one action per row:
 * an item id in [0, N) or STOP (= N), allowed by the row's actionMask. Everything random comes
 * from `ctx.rng` (the experiment's `agent` stream); agents that plan with simulator access read it
 * from `ctx.env.simulatorBatch()` and must say so in their description.
 *
 * A plug-in agent is a module whose default export is an `AgentFactory` (see README).
 */
import type { TSchema } from '@sinclair/typebox';
import type { ProactiveObservation, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import type { Rng } from '../envs/rng.ts';

export interface ActContext {
  /** The vector environment the observations come from (for simulator access and item data). */
  readonly env: ProactiveRecVectorEnv;
  readonly rng: Rng;
}

export interface TrainBudget {
  /** Training epochs (an agent defines what one epoch is; usually one pass over the train cases). */
  epochs?: number;
  /** A wall-clock limit in seconds, checked between updates. */
  seconds?: number;
}

export interface TrainCallbacks {
  /** Called after each update or epoch with named scalars (logged into the result file's curves). */
  onLog?(step: number, values: Record<string, number>): void;
  /** Progress in [0, 1] for a progress bar. */
  onProgress?(fraction: number, message?: string): void;
}

export interface Agent {
  readonly name: string;
  /** Chooses one action per observation. Must respect each actionMask. */
  act(observations: readonly ProactiveObservation[], ctx: ActContext): Int32Array;
  /**
   * K candidate paths per observation (observations at reset: empty path), best first: beam
   * search or K samples. Items only (STOP is implied at the end of each path). Used for
   * metrics@K (DESIGN.md §3): the harness replays each candidate in the environment.
   */
  proposePaths?(observations: readonly ProactiveObservation[], k: number, ctx: ActContext): number[][][];
  /** Trains on the environment's train (and valid) cases; never on test. */
  train?(makeEnv: (numEnvs: number) => Promise<ProactiveRecVectorEnv>, budget: TrainBudget, ctx: { rng: Rng; callbacks?: TrainCallbacks }): Promise<void>;
  save?(path: string): Promise<void>;
  load?(path: string): Promise<void>;
  /** Releases tensors. */
  dispose?(): void;
}

export interface AgentFactory<Config = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** Schema of the config a user may pass (validated before `create`; omitted fields take defaults). */
  readonly configSchema?: TSchema;
  /** True when the agent reads the reward simulator while acting (an oracle, labelled in results). */
  readonly usesSimulator?: boolean;
  create(config: Config, ctx: { numItems: number; seed: number }): Agent | Promise<Agent>;
}
