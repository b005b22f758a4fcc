/** The environments that ship with the package. Importing `envs/index.ts` registers them. */
import { Type } from '@sinclair/typebox';
import { register } from './registry.ts';
import { SyntheticExactSimulator } from './synthetic/simulator.ts';
import { generateSyntheticWorld, SyntheticConfigSchema, type SyntheticConfig } from './synthetic/world.ts';

register({
  id: 'synthetic-v0',
  description: 'Synthetic drift world (1,000 items, 2,000 users, no data files); exact ground-truth simulator as reward model and evaluator',
  worldOptions: Type.Partial(SyntheticConfigSchema, { additionalProperties: false }),
  async build(options) {
    const world = generateSyntheticWorld(options as Partial<SyntheticConfig>);
    const simulator = new SyntheticExactSimulator(world);
    // The exact dynamics have no quirks for an agent to exploit: the evaluator is the same model.
    return { dataset: world.dataset, simulator, evaluator: simulator };
  },
});
