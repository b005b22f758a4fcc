/** Public API of the environments layer. */
import './builtin.ts';

export * from './core.ts';
export * from './dataset.ts';
export * from './proactive.ts';
export * from './registry.ts';
export * from './rng.ts';
export * from './simulator.ts';
export { checkEnv, type CheckEnvReport } from './check.ts';
export { generateSyntheticWorld, SyntheticConfigSchema, type SyntheticConfig, type SyntheticWorld } from './synthetic/world.ts';
export { SyntheticExactSimulator } from './synthetic/simulator.ts';
