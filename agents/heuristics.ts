/**
 * Heuristic baselines. Each recommends `pathLength` items (default: until truncation) and then STOP.
 * - random: a uniformly random allowed item.
 * - popularity: the most-consumed item (train interactions) not yet in the user's sequence.
 * - greedy-ctr: the item the reward simulator says the user is most likely to accept now
 *   (argmax of sigmoid(u(s)·e_i) over allowed items); reads the simulator, so it is an oracle.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ProactiveObservation } from '../envs/proactive.ts';
import { validate } from '../core/validate.ts';
import { requireSimulator, type ActContext, type Agent, type AgentFactory } from './agent.ts';

const HeuristicConfigSchema = Type.Object(
  {
    pathLength: Type.Integer({ minimum: 0, default: 0, description: 'items per path before STOP (0: never stop; the environment truncates at L_max)' }),
    avoidHistory: Type.Boolean({ default: true, description: 'skip items already in the history' }),
  },
  { additionalProperties: false, default: {} },
);
type HeuristicConfig = Static<typeof HeuristicConfigSchema>;

function allowed(obs: ProactiveObservation, item: number, avoidHistory: boolean): boolean {
  return obs.actionMask[item] === 1 && !(avoidHistory && obs.history.includes(item));
}

/** STOP when the path is long enough or nothing is allowed; otherwise the row's choice. */
function actRows(
  observations: readonly ProactiveObservation[],
  ctx: ActContext,
  config: HeuristicConfig,
  choose: (obs: ProactiveObservation, row: number) => number,
): Int32Array {
  const stop = ctx.env.actionSpace.stop;
  return Int32Array.from(observations, (obs, row) => {
    if (config.pathLength > 0 && obs.step >= config.pathLength) return stop;
    const a = choose(obs, row);
    return a < 0 ? stop : a;
  });
}

/** A heuristic agent: `chooser` is made once per agent and picks one row's item (-1 for none). */
function heuristic(
  name: string,
  description: string,
  usesSimulator: boolean,
  chooser: (config: HeuristicConfig) => (observations: readonly ProactiveObservation[], ctx: ActContext) => (obs: ProactiveObservation, row: number) => number,
): AgentFactory {
  return {
    name,
    description,
    configSchema: HeuristicConfigSchema,
    usesSimulator,
    create(partial): Agent {
      const config = validate(HeuristicConfigSchema, partial, `${name} config`);
      const choose = chooser(config);
      return { name, config, act: (observations, ctx) => actRows(observations, ctx, config, choose(observations, ctx)) };
    },
  };
}

export const randomAgent = heuristic('random', 'A uniformly random allowed item at every step', false, (config) => (_observations, ctx) => {
  const N = ctx.env.actionSpace.stop;
  return (obs, row) => {
    const candidates: number[] = [];
    for (let i = 0; i < N; i++) if (allowed(obs, i, config.avoidHistory)) candidates.push(i);
    return candidates.length ? candidates[ctx.rng(row).int(candidates.length)] : -1;
  };
});

export const popularityAgent = heuristic('popularity', 'The most-consumed item (train interactions) not yet in the sequence', false, (config) => {
  let order: Int32Array | null = null;
  return (_observations, ctx) => {
    const pop = ctx.env.world.dataset.popularity;
    // Ties broken by item id, so the order is deterministic.
    const ranked = (order ??= Int32Array.from(pop.keys()).sort((a, b) => pop[b] - pop[a] || a - b));
    return (obs) => {
      for (const i of ranked) if (allowed(obs, i, config.avoidHistory)) return i;
      return -1;
    };
  };
});

export const greedyCtrAgent = heuristic(
  'greedy-ctr',
  'The item the reward simulator says the user is most likely to accept now (oracle: reads the simulator)',
  true,
  (config) => (_observations, ctx) => {
    const N = ctx.env.actionSpace.stop;
    // One batched simulator call; CTR = sigmoid(score) is monotone in the score.
    const scores = requireSimulator(ctx, 'greedy-ctr').batch().scores();
    return (obs, row) => {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < N; i++) {
        const s = scores[row * N + i];
        if (s > bestScore && allowed(obs, i, config.avoidHistory)) {
          best = i;
          bestScore = s;
        }
      }
      return best;
    };
  },
);
