// linear.ts: a linear agent trained on the train split. Each candidate item gets features x (the
// attributes it shares with the target, whether it shares one with the previous item, its log
// popularity, a bias); the agent fits w by ridge regression of the step reward on x over random
// recommendations on train cases, then recommends argmax w·x. Shows the training hooks:
// configSchema, train, save, load.
import { readFile, writeFile } from 'node:fs/promises';
import { Type, type Agent, type AgentFactory, type Static } from 'prorec-gym/agents';
import type { Dataset, ProactiveObservation } from 'prorec-gym/envs';

const FEATURES = ['sharedWithTarget', 'coherentWithPrevious', 'logPopularity', 'bias'] as const;

const ConfigSchema = Type.Object(
  {
    pathLength: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'items recommended before STOP' }),
    epochs: Type.Integer({ minimum: 1, default: 10, description: "training batches (a budget's trainEpochs overrides it)" }),
    casesPerEpoch: Type.Integer({ minimum: 1, default: 256, description: 'train cases per batch' }),
    ridge: Type.Number({ minimum: 0, default: 1, description: 'L2 penalty λ of the regression' }),
    init: Type.Optional(Type.String({ description: 'load the weights from this file instead of training' })),
    checkpoint: Type.Optional(Type.String({ description: 'save the weights to this file after training' })),
  },
  { additionalProperties: false },
);
type Config = Static<typeof ConfigSchema>;

/** The features of recommending `item` after observation `o`, in the order of FEATURES. */
function features(data: Dataset, o: ProactiveObservation, item: number): number[] {
  const attributes = data.items.attributes;
  const shared = (a: number, b: number) => attributes[a].filter((x) => attributes[b].includes(x)).length;
  const previous = o.path.length > 0 ? o.path[o.path.length - 1] : o.history[o.history.length - 1];
  return [shared(item, o.target), shared(item, previous) > 0 ? 1 : 0, Math.log1p(data.popularity[item]), 1];
}

/** w solving (XᵀX + λI) w = Xᵀy, from the sums XᵀX and Xᵀy (Gauss-Jordan; the matrix is positive definite for λ > 0). */
function ridgeWeights(xtx: number[][], xty: number[], lambda: number): number[] {
  const n = xty.length;
  const m = xtx.map((row, i) => [...row.map((v, j) => v + (i === j ? lambda : 0)), xty[i]]);
  for (let c = 0; c < n; c++) {
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

const factory: AgentFactory<Config> = {
  name: 'linear',
  description:
    'argmax of w·x over allowed items (x: attributes shared with the target, coherence with the previous item, log popularity), w fitted by ridge regression of the step reward on train cases',
  configSchema: ConfigSchema,
  create(config) {
    let weights: number[] = FEATURES.map(() => 0);
    const agent: Agent = {
      name: 'linear',

      // Training: uniformly random allowed items on random train cases; each step's (x, reward)
      // enters the regression. The harness never shows train() a test case.
      async train(makeEnv, budget, { rng, callbacks }) {
        if (config.init) return agent.load!(config.init);
        const epochs = budget.epochs ?? config.epochs;
        const env = await makeEnv(config.casesPerEpoch);
        const stop = env.actionSpace.stop;
        const xtx = FEATURES.map(() => FEATURES.map(() => 0));
        const xty = FEATURES.map(() => 0);
        for (let epoch = 1; epoch <= epochs; epoch++) {
          let { observations } = env.reset({ seed: rng.int(2 ** 31) });
          while (env.active().includes(1)) {
            const actions = Int32Array.from(observations, (o) => {
              if (o.step >= config.pathLength) return stop;
              let item = rng.int(stop);
              while (o.actionMask[item] !== 1) item = rng.int(stop);
              return item;
            });
            const result = env.step(actions);
            result.infos.forEach((info, k) => {
              if (!info.active || info.stop) return;
              const x = features(env.world.dataset, observations[k], info.action);
              x.forEach((xi, i) => {
                x.forEach((xj, j) => (xtx[i][j] += xi * xj));
                xty[i] += xi * info.reward;
              });
            });
            observations = result.observations;
          }
          weights = ridgeWeights(xtx, xty, config.ridge);
          callbacks?.onLog?.(epoch, Object.fromEntries(FEATURES.map((f, i) => [`w.${f}`, weights[i]])));
          callbacks?.onProgress?.(epoch / epochs);
        }
        env.close();
        if (config.checkpoint) await agent.save!(config.checkpoint);
      },

      // Acting: the allowed item (outside the history) with the highest w·x.
      act(observations, ctx) {
        const data = ctx.env.world.dataset;
        const stop = ctx.env.actionSpace.stop;
        return Int32Array.from(observations, (o) => {
          if (o.step >= config.pathLength) return stop;
          let best = stop;
          let bestScore = -Infinity;
          for (let item = 0; item < stop; item++) {
            if (o.actionMask[item] !== 1 || o.history.includes(item)) continue;
            const score = features(data, o, item).reduce((s, xi, i) => s + xi * weights[i], 0);
            if (score > bestScore) {
              best = item;
              bestScore = score;
            }
          }
          return best;
        });
      },

      async save(path) {
        await writeFile(path, JSON.stringify({ agent: 'linear', features: FEATURES, weights }));
      },

      async load(path) {
        const saved = JSON.parse(await readFile(path, 'utf8')) as { agent?: string; weights?: number[] };
        if (saved.agent !== 'linear' || saved.weights?.length !== FEATURES.length) throw new Error(`${path}: not a checkpoint of the linear agent`);
        weights = saved.weights;
      },
    };
    return agent;
  },
};
export default factory;
