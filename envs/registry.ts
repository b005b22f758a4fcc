/**
 * The environment registry: `register` a world builder under an id, then `make(id, overrides)` or
 * `makeVec(id, numEnvs, overrides)`. Overrides are the environment config (envs/proactive.ts) plus
 * `world`: options for the world builder (e.g. the synthetic world's size and seed), validated by
 * the builder. Built worlds (datasets, trained simulators) are memoised per id and world options,
 * so a vector env and a single env made from the same id share them.
 */
import type { TSchema } from '@sinclair/typebox';
import { ProactiveRecEnv, ProactiveRecVectorEnv, resolveEnvConfig, type EnvConfig, type ProactiveWorld } from './proactive.ts';
import { validate } from './validate.ts';

export interface EnvSpec {
  readonly id: string;
  readonly description: string;
  /** Schema of the `world` overrides this builder accepts. */
  readonly worldOptions: TSchema;
  /** Config defaults of this environment (over the global ones). */
  readonly defaults?: Partial<EnvConfig>;
  build(worldOptions: Record<string, unknown>, log: (line: string) => void): Promise<ProactiveWorld>;
}

export interface MakeOverrides extends Partial<EnvConfig> {
  world?: Record<string, unknown>;
  /** Where builders report slow work (dataset loading, simulator training). Default: stderr. */
  log?: (line: string) => void;
}

export class UnknownEnvError extends Error {
  constructor(readonly requested: string, readonly known: readonly string[]) {
    super(`unknown environment '${requested}'; known environments: ${known.join(', ')}`);
    this.name = 'UnknownEnvError';
  }
}

const specs = new Map<string, EnvSpec>();
const worlds = new Map<string, Promise<ProactiveWorld>>();

export function register(spec: EnvSpec): void {
  if (specs.has(spec.id)) throw new Error(`environment '${spec.id}' is already registered`);
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

/** Builds (or returns the memoised) world of an environment. */
export function buildWorld(id: string, worldOverrides: Record<string, unknown> = {}, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ProactiveWorld> {
  const spec = envSpec(id);
  const options = validate(spec.worldOptions, worldOverrides, `${id} world options`) as Record<string, unknown>;
  const key = `${id}\u0000${JSON.stringify(options, Object.keys(options).sort())}`;
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
  const spec = envSpec(id);
  return { config: resolveEnvConfig({ ...spec.defaults, ...config }, `${id} config`), world, log };
}

export async function make(id: string, overrides: MakeOverrides = {}): Promise<ProactiveRecEnv> {
  const { config, world, log } = splitOverrides(id, overrides);
  return new ProactiveRecEnv(id, await buildWorld(id, world, log), config);
}

export async function makeVec(id: string, numEnvs: number, overrides: MakeOverrides = {}): Promise<ProactiveRecVectorEnv> {
  const { config, world, log } = splitOverrides(id, overrides);
  return new ProactiveRecVectorEnv(id, await buildWorld(id, world, log), numEnvs, config);
}

/** Forgets memoised worlds (tests, long-lived processes). */
export function clearWorldCache(): void {
  worlds.clear();
}
