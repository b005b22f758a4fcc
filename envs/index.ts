/** Public API of the environments layer. */
import './builtin.ts';

export * from '../core/api.ts';
export * from '../data/dataset.ts';
export * from './proactive.ts';
export * from './registry.ts';
export * from '../core/rng.ts';
export * from '../simulators/simulator.ts';
export { checkEnv, type CheckableEnv, type CheckedObservation, type CheckEnvReport } from './check.ts';
export type { DeepPartial } from '../core/validate.ts';
export { generateSyntheticWorld, SyntheticConfigSchema, type SyntheticConfig, type SyntheticWorld } from '../data/synthetic.ts';
export { SyntheticExactSimulator, INCREMENTAL_MAX_ITEMS, type SyntheticExactOptions } from '../simulators/synthetic-exact.ts';
