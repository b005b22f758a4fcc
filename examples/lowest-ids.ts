// lowest-ids.ts: recommend the allowed item with the lowest id, three times, then stop.
import type { AgentFactory } from 'prorec-gym/agents';

const factory: AgentFactory = {
  name: 'lowest-ids',
  description: 'the lowest allowed item id, three times, then STOP',
  create() {
    return {
      name: 'lowest-ids',
      // A batch of observations in, one action per row out. Randomness only from ctx.rng(row).
      act(observations, ctx) {
        return Int32Array.from(observations, (o) => (o.step >= 3 ? ctx.env.actionSpace.stop : o.actionMask.indexOf(1)));
      },
    };
  },
};
export default factory;
