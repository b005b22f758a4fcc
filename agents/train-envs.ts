/**
 * The RL trainer's environments, derived from the one `train` is given: without the evaluator
 * (training reads only the reward model) and with random targets. Each keeps the split
 * restriction and the recipe (envs/proactive.ts EnvRecipe) that lets a training worker build the
 * same environment in its thread (agents/pg-worker-thread.ts).
 */
import { Rng } from '../core/rng.ts';
import type { Split } from '../data/dataset.ts';
import { ProactiveRecVectorEnv } from '../envs/proactive.ts';

/** The same environment (world, size, config) with `stepEvaluator: false`; closes `env`. */
export function withoutEvaluator(env: ProactiveRecVectorEnv): ProactiveRecVectorEnv {
  if (!env.config.stepEvaluator) return env;
  env.close();
  const out = carrySplits(env, new ProactiveRecVectorEnv(env.id, env.world, env.numEnvs, { ...env.config, stepEvaluator: false }));
  out.recipe = env.recipe;
  return out;
}

/**
 * A vector environment over the same world whose `split` cases keep their histories but get a
 * uniformly random target outside the history (as test cases are built). Case i's target comes
 * from its own stream under `seed`, so it does not depend on the other cases.
 */
export function withRandomTargets(env: ProactiveRecVectorEnv, split: Split, numEnvs: number, seed: number): ProactiveRecVectorEnv {
  const world = env.world;
  const N = world.dataset.items.count;
  const cases = world.dataset.cases[split].map((c, i) => {
    const rng = Rng.stream(seed, `targets/${split}/${i}`);
    let target: number;
    do target = rng.int(N);
    while (c.history.includes(target));
    return { history: c.history, target, user: c.user };
  });
  const dataset = { ...world.dataset, cases: { ...world.dataset.cases, [split]: cases } };
  const out = carrySplits(env, new ProactiveRecVectorEnv(env.id, { ...world, dataset }, numEnvs, env.config));
  // Random targets over random targets cannot be rebuilt from one recipe: such an environment stays here.
  out.recipe = env.recipe && env.recipe.randomTargets === null ? { ...env.recipe, randomTargets: { split, seed } } : null;
  return out;
}

/** `to` with the split restriction of `from` (ProactiveRecVectorEnv.restrictSplits). */
function carrySplits(from: ProactiveRecVectorEnv, to: ProactiveRecVectorEnv): ProactiveRecVectorEnv {
  const r = from.splitRestriction;
  return r ? to.restrictSplits(r.splits, r.holder) : to;
}
