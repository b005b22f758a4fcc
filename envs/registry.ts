/**
 * The environment registry: `register` a world builder under an id, then `make(id, overrides)` or
 * `makeVec(id, numEnvs, overrides)`. Overrides are the environment config (envs/proactive.ts) plus
 * `world`: options for the world builder (e.g. the synthetic world's size and seed).
 *
 * World options are resolved in one place, `resolveWorldOptions`: the spec's schema fills its
 * defaults, then the spec's `resolveWorld` fills the defaults that depend on other options (e.g.
 * the evaluator's architecture is the other one). The builder receives exactly that object, and a
 * run records exactly that object, so no default hides in a builder. Built worlds (datasets,
 * trained simulators) are memoised per id and the canonical JSON of the resolved options (every
 * nested key counts), so a vector env and a single env made from the same id share them.
 */
import { ConfigError, ProrecError } from '../core/errors.ts';
import type { TSchema } from '@sinclair/typebox';
import { canonicalJson } from '../core/hash.ts';
import { ProactiveRecEnv, ProactiveRecVectorEnv, resolveEnvConfig, type EnvConfig, type ProactiveWorld } from './proactive.ts';
import { deepMerge, validate, type DeepPartial } from '../core/validate.ts';

export interface EnvSpec {
  readonly id: string;
  readonly description: string;
  /** Schema of the `world` options this builder accepts, with a `default` on every field that has one. */
  readonly worldOptions: TSchema;
  /**
   * Fills defaults that depend on other options, after the schema's; returns the complete options
   * `build` receives (which must still validate against `worldOptions`). Default: identity.
   */
  resolveWorld?(options: Record<string, unknown>): Record<string, unknown>;
  /** Config defaults of this environment, deep-merged under the caller's config (e.g. Steam's CTR weight). */
  readonly defaults?: DeepPartial<EnvConfig>;
  build(worldOptions: Record<string, unknown>, log: (line: string) => void): Promise<ProactiveWorld>;
}

export interface MakeOverrides extends DeepPartial<EnvConfig> {
  world?: Record<string, unknown>;
  /** Where builders report slow work (dataset loading, simulator training). Default: stderr. */
  log?: (line: string) => void;
}

export class UnknownEnvError extends ProrecError {
  readonly kind = 'usage';
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`unknown environment '${requested}'; known environments: ${known.join(', ')}`);
  }
}

const specs = new Map<string, EnvSpec>();
const worlds = new Map<string, Promise<ProactiveWorld>>();

export function register(spec: EnvSpec): void {
  if (specs.has(spec.id)) throw new ConfigError(`environment '${spec.id}' is already registered`);
  specs.set(spec.id, spec);
}

export function listEnvs(): { id: string; description: string }[] {
  return [...specs.values()].map((s) => ({ id: s.id, description: s.description }));
}

export function envSpec(id: string): EnvSpec {
  const spec = specs.get(id);
  if (!spec) throw new UnknownEnvError(id, [...specs.keys()]);
  return spec;
}

/** The complete world options of an environment: what its builder uses and a run records. */
export function resolveWorldOptions(id: string, overrides: Record<string, unknown> = {}, source = `${id} world options`): Record<string, unknown> {
  const spec = envSpec(id);
  const options = validate(spec.worldOptions, overrides, source) as Record<string, unknown>;
  if (!spec.resolveWorld) return options;
  return validate(spec.worldOptions, spec.resolveWorld(options), source) as Record<string, unknown>;
}

/** The complete environment config of `id`: its spec's defaults under `overrides`, then the schema's. */
export function resolveEnvConfigOf(id: string, overrides: Record<string, unknown> = {}, source = `${id} config`): EnvConfig {
  return resolveEnvConfig(deepMerge((envSpec(id).defaults ?? {}) as Record<string, unknown>, overrides), source);
}

/** Builds (or returns the memoised) world of an environment. */
export function buildWorld(
  id: string,
  worldOverrides: Record<string, unknown> = {},
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ProactiveWorld> {
  const spec = envSpec(id);
  const options = resolveWorldOptions(id, worldOverrides);
  const key = `${id}\u0000${canonicalJson(options)}`;
  let world = worlds.get(key);
  if (!world) {
    world = spec.build(options, log);
    worlds.set(key, world);
    // A failed build is not memoised: the next call tries again.
    world.catch(() => worlds.delete(key));
  }
  return world;
}

function splitOverrides(id: string, overrides: MakeOverrides): { config: EnvConfig; world: Record<string, unknown>; log?: (line: string) => void } {
  const { world = {}, log, ...config } = overrides;
  return { config: resolveEnvConfigOf(id, config as Record<string, unknown>), world, log };
}

export async function make(id: string, overrides: MakeOverrides = {}): Promise<ProactiveRecEnv> {
  const { config, world, log } = splitOverrides(id, overrides);
  return new ProactiveRecEnv(id, await buildWorld(id, world, log), config);
}

export async function makeVec(id: string, numEnvs: number, overrides: MakeOverrides = {}): Promise<ProactiveRecVectorEnv> {
  const { config, world, log } = splitOverrides(id, overrides);
  const env = new ProactiveRecVectorEnv(id, await buildWorld(id, world, log), numEnvs, config);
  env.recipe = { id, world: resolveWorldOptions(id, world), randomTargets: null };
  return env;
}

/** Forgets memoised worlds (tests, long-lived processes). */
export function clearWorldCache(): void {
  worlds.clear();
}
