/**
 * The agent contract. An agent sees a batch of observations and returns one action per row:
 * an item id in [0, N) or STOP (= N), allowed by the row's actionMask. Everything random comes
 * from `ctx.rng(row)`, the row's own stream for this decision; agents that plan with simulator
 * access read it from `ctx.env.simulatorBatch()` and must say so in their description.
 *
 * A plug-in agent is a module whose default export is an `AgentFactory` (see README).
 */
import type { TSchema } from '@sinclair/typebox';
import type { ItemTable } from '../data/dataset.ts';
import type { ProactiveObservation, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { episodeSeed, stepStream, type Rng } from '../core/rng.ts';

export interface ActContext {
  /** The vector environment the observations come from (for simulator access and item data). */
  readonly env: ProactiveRecVectorEnv;
  /**
   * The random stream of row `row` for this decision. It is keyed by the run's agent seed, the
   * row's episode (case and replica: `env.episodeKeys()`) and the step, never by the row's position
   * in the batch, so a case's outcome does not depend on the batch it is evaluated in. Calling it
   * again for the same row within one decision returns the same stream (draws continue).
   */
  rng(row: number): Rng;
}

/**
 * The context of one decision (step `step` of the current episodes of `env`) whose per-row streams
 * hang off `seed` (a run's agent seed): see ActContext.rng.
 */
export function actContext(env: ProactiveRecVectorEnv, seed: number, step: number): ActContext {
  const keys = env.episodeKeys();
  const streams = new Map<number, Rng>();
  return {
    env,
    rng(row) {
      let s = streams.get(row);
      if (!s) {
        const key = keys[row];
        if (!key) throw new RangeError(`ActContext.rng: row ${row} is not a row of the batch (${keys.length} rows)`);
        s = stepStream(episodeSeed(seed, key, 'agent'), step);
        streams.set(row, s);
      }
      return s;
    },
  };
}

/**
 * How much training to do, counted in work (never in wall-clock time: a result must not depend on
 * how loaded the machine was).
 */
export interface TrainBudget {
  /** Training epochs (an agent defines what one epoch is; usually one pass over the train cases). */
  epochs?: number;
}

export interface TrainCallbacks {
  /**
   * Called after each update or epoch with named scalars, logged into the result file's curves.
   * Only deterministic values: a wall-clock time goes to `onTime`.
   */
  onLog?(step: number, values: Record<string, number>): void;
  /** Adds `seconds` of wall-clock time to the phase `name` (e.g. 'rollout', 'update'), for the result's timings. */
  onTime?(name: string, seconds: number): void;
  /** Progress in [0, 1] for a progress bar. */
  onProgress?(fraction: number, message?: string): void;
}

export interface Agent {
  readonly name: string;
  /**
   * The complete config the agent runs with (every default filled in). When present, the harness
   * checks that it equals the config recorded (and hashed) in the result file, so that no default
   * hides in `create`.
   */
  readonly config?: unknown;
  /** Chooses one action per observation. Must respect each actionMask. */
  act(observations: readonly ProactiveObservation[], ctx: ActContext): Int32Array;
  /**
   * K candidate paths per observation (observations at reset: empty path), best first: beam
   * search or K samples. Items only (STOP is implied at the end of each path). Used for
   * metrics@K (docs/design.md §3.6): the harness replays each candidate in the environment.
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
  /**
   * Schema of the agent's config, with a `default` on every field that has one: the harness fills
   * and validates a user's (partial) config with it before `create`, and records the result.
   */
  readonly configSchema?: TSchema;
  /** True when the agent reads the reward simulator while acting (an oracle, labelled in results). */
  readonly usesSimulator?: boolean;
  /**
   * A new agent for an environment with `numItems` items, its weights and draws seeded by `seed`.
   * `items` is the environment's item table (titles, attributes, semantic ids) where the harness
   * has one: content an agent may build item representations from.
   */
  create(config: Config, ctx: { numItems: number; seed: number; items?: ItemTable }): Agent | Promise<Agent>;
}
