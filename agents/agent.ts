/**
 * The agent contract. An agent sees a batch of observations and returns one action per row:
 * an item id in [0, N) or STOP (= N), allowed by the row's actionMask. Everything random comes
 * from `ctx.rng(row)`, the row's own stream for this decision. Agents that plan with the reward
 * simulator declare `usesSimulator: true` on their factory and read it from `ctx.simulator`
 * (`ctx.simulator.batch()`: the rows' current state; null for other agents).
 *
 * A plug-in agent is a module whose default export is an `AgentFactory` (docs/writing-an-agent.md).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { Dataset, ItemTable } from '../data/dataset.ts';
import type { EnvConfig, ProactiveObservation, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { episodeSeed, stepStream, type EpisodeKey, type Rng } from '../core/rng.ts';
import type { SimulatorBatch, UserSimulator } from '../simulators/simulator.ts';
import { ContractError, ProrecError, UsageError } from '../core/errors.ts';
import { validate } from '../core/validate.ts';

/**
 * What every agent may read of the environment while acting: the action space, the batch size,
 * the environment's config, the dataset (items, train sequences and cases; never the simulators)
 * and the rows' episode keys. A ProactiveRecVectorEnv is one.
 */
export interface AgentEnvView {
  readonly actionSpace: { readonly n: number; readonly stop: number };
  readonly numEnvs: number;
  readonly config: Readonly<EnvConfig>;
  readonly world: { readonly dataset: Dataset };
  episodeKeys(): readonly EpisodeKey[];
}

/**
 * The oracle capability: the reward simulator. The harness gives it only to agents whose factory
 * declares `usesSimulator: true` (planners, IPG, the greedy oracles), whose results are labelled
 * "(oracle)".
 */
export interface SimulatorAccess {
  /** The reward simulator, to open batches of arbitrary sequences. */
  readonly simulator: UserSimulator;
  /** Its state of each row now (history ⊕ accepted path), one batch row per environment row. */
  batch(): SimulatorBatch;
}

export interface ActContext {
  /** What the agent may read of the vector environment the observations come from. */
  readonly env: AgentEnvView;
  /** The reward simulator, for oracle agents only (`usesSimulator: true`); null for the others. */
  readonly simulator: SimulatorAccess | null;
  /**
   * The random stream of row `row` for this decision. It is keyed by the run's agent seed, the
   * row's episode (case and replica: `env.episodeKeys()`) and the step, never by the row's position
   * in the batch, so a case's outcome does not depend on the batch it is evaluated in. Calling it
   * again for the same row within one decision returns the same stream (draws continue).
   */
  rng(row: number): Rng;
}

/**
 * The context of one decision at `step` of the episodes in `env`, with the agent's streams under
 * `seed`. `simulator: true` grants the oracle capability (the harness does so for factories that
 * declare `usesSimulator`).
 */
export function actContext(env: ProactiveRecVectorEnv, seed: number, step: number, opts: { simulator?: boolean; agent?: string } = {}): ActContext {
  const keys = env.episodeKeys();
  const streams = new Map<number, Rng>();
  return {
    env: opts.simulator ? env : agentEnvView(env, opts.agent ?? 'the agent'),
    simulator: opts.simulator ? { simulator: env.world.simulator, batch: () => env.simulatorBatch() } : null,
    rng(row) {
      let s = streams.get(row);
      if (!s) {
        const key = keys[row];
        if (!key) throw new ContractError(`ActContext.rng: row ${row} is not a row of the batch (${keys.length} rows)`);
        s = stepStream(episodeSeed(seed, key, 'agent'), step);
        streams.set(row, s);
      }
      return s;
    },
  };
}

/** An agent without the oracle capability read the reward simulator (or another part of the environment outside AgentEnvView). */
export class OracleAccessError extends ProrecError {
  readonly kind = 'failure';
}

const VIEW_KEYS = new Set(['actionSpace', 'numEnvs', 'config', 'world', 'episodeKeys']);
const WORLD_KEYS = new Set(['dataset']);

/**
 * What a non-oracle agent's ActContext.env is: the environment seen through AgentEnvView only. Any
 * other member (`world.simulator`, `world.evaluator`, `simulatorBatch`, `step`, ...) throws an
 * OracleAccessError naming the agent, so that reading the simulator without declaring
 * `usesSimulator: true` (and being labelled an oracle) is refused at run time, not only by types.
 */
export function agentEnvView(env: ProactiveRecVectorEnv, agent: string): AgentEnvView {
  const refuse = (what: string): never => {
    throw new OracleAccessError(
      `${agent}: read ctx.env.${what}, which is not part of what an agent may read while acting (AgentEnvView: ${[...VIEW_KEYS].join(', ')}, world.dataset); ` +
        `an agent that plans with the reward simulator declares usesSimulator: true on its factory, reads it from ctx.simulator and is labelled (oracle)`,
    );
  };
  const world = new Proxy(env.world, {
    get: (w, k) => (typeof k === 'symbol' || WORLD_KEYS.has(k) ? Reflect.get(w, k) : refuse(`world.${k}`)),
  });
  return new Proxy(env, {
    get(e, k) {
      if (typeof k === 'symbol') return Reflect.get(e, k);
      if (!VIEW_KEYS.has(k)) return refuse(k);
      if (k === 'world') return world;
      const v = Reflect.get(e, k);
      return typeof v === 'function' ? v.bind(e) : v;
    },
  }) as unknown as AgentEnvView;
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

/** What a factory gets to build an agent for an environment. */
export interface AgentCreateContext {
  /** N: item ids are 0..N-1. */
  readonly numItems: number;
  /** Seeds the agent's weights and draws. */
  readonly seed: number;
  /** The environment's item table (titles, attributes, semantic ids), where the harness has one. */
  readonly items?: ItemTable;
  /** The train split's item sequences, where the harness has them. */
  readonly trainSequences?: readonly (readonly number[])[];
}

/** The longest agent name accepted (names appear in tables, reports and result file names). */
export const MAX_AGENT_NAME_LENGTH = 100;

/**
 * What is wrong with `name` as an agent's name, or null when it is fine: it must be a string with
 * at least one visible character, no line break or other control character (tables and logs have
 * one line per agent), no leading or trailing space, and at most MAX_AGENT_NAME_LENGTH characters.
 * Checked when a factory is registered or a plug-in module resolved, before any run.
 */
export function agentNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return `the name must be a string, got ${typeof name}`;
  const shown = JSON.stringify(name);
  if (name.trim() === '') return `the name ${shown} is empty`;
  if (/[\p{Cc}\u2028\u2029]/u.test(name)) return `the name ${shown} has a line break or another control character`;
  if (name.trim() !== name) return `the name ${shown} starts or ends with a space`;
  if (name.length > MAX_AGENT_NAME_LENGTH) return `the name has ${name.length} characters, more than ${MAX_AGENT_NAME_LENGTH}`;
  return null;
}

export interface AgentFactory<Config = Record<string, unknown>> {
  /** Its name in tables and result files: see agentNameProblem for what is accepted. */
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
   * has one: content an agent may build item representations from. `trainSequences` are the train
   * split's item sequences (the only interaction data an agent may learn item representations
   * from; never the valid or test users').
   */
  create(config: Config, ctx: AgentCreateContext): Agent | Promise<Agent>;
}

/**
 * `partial` with every default of `schema` filled in, checked against it: the config the harness
 * gives `create` for a (partial) config from `--agent-config` or a suite. Build an agent with it
 * outside the harness (in its tests), so that it runs with the config it will get in a benchmark:
 * `factory.create(withDefaults(ConfigSchema, { pathLength: 2 }), ctx)`. `partial` is not modified.
 * @throws ValidationError naming `where` and each bad field.
 */
export function withDefaults<S extends TSchema>(schema: S, partial: unknown = {}, where = 'config'): Static<S> {
  return validate(schema, partial, where);
}

/** The simulator of an oracle agent's context; a clear error when the agent was not granted it. */
export function requireSimulator(ctx: ActContext, agent: string): SimulatorAccess {
  if (!ctx.simulator)
    throw new UsageError(
      `${agent} reads the reward simulator: give its context the simulator (actContext(env, seed, step, { simulator: true }); the harness does so for factories with usesSimulator: true)`,
    );
  return ctx.simulator;
}
