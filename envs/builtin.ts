/**
 * The environments that ship with the package. Importing `envs/index.ts` registers them.
 * The real environments load their data and neural simulators lazily (dynamic imports), so that
 * the synthetic world starts without loading TensorFlow.js.
 *
 * World options are complete after `resolveWorldOptions` (envs/registry.ts): every default,
 * including the simulators' architecture and training configs, is filled in there and recorded by
 * every run, so the builders below read the options as they are, with no defaults of their own.
 */
import { Type } from '@sinclair/typebox';
import { withSimulatorFraction, type Dataset } from '../data/dataset.ts';
import { SimulatorDataSchema, type SimulatorDataChoice } from '../data/simulator-logs.ts';
import { register } from './registry.ts';
import { ExtraEvaluatorsOption, extraEvaluatorChoices, loadExtraEvaluators, resolveExtraEvaluators } from './extra-evaluators.ts';
import { MODEL_KINDS, resolveModelConfig, resolveTrainConfig, type ModelConfig, type ModelKind, type TrainConfig } from '../simulators/config.ts';
import { SyntheticExactSimulator } from '../simulators/synthetic-exact.ts';
import { generateSyntheticWorld, SyntheticConfigSchema, type SyntheticConfig } from '../data/synthetic.ts';
import { StringEnum } from '../core/validate.ts';

async function buildSynthetic(options: Record<string, unknown>) {
  const world = generateSyntheticWorld(options as SyntheticConfig);
  const simulator = new SyntheticExactSimulator(world);
  // The exact dynamics have no quirks for an agent to exploit: the evaluator is the same model.
  return { dataset: world.dataset, simulator, evaluator: simulator };
}

register({
  id: 'synthetic-v0',
  description: 'Synthetic drift world (1,000 items, 2,000 users, no data files); exact ground-truth simulator as reward model and evaluator',
  worldOptions: SyntheticConfigSchema,
  build: buildSynthetic,
});

// Worlds where long paths cost something (the estimator study): the same world, a user who
// samples acceptance and either leaves or tires of repetition.
register({
  id: 'synthetic-patience-v0',
  description:
    'synthetic-v0 where the user accepts with probability CTR and leaves after 3 rejected recommendations, forfeiting the steering rewards of the session',
  worldOptions: SyntheticConfigSchema,
  defaults: { accept: 'sample', patience: { rejections: 3, forfeit: true } },
  build: buildSynthetic,
});

register({
  id: 'synthetic-satiation-v0',
  description:
    'synthetic-v0 where the user accepts with probability CTR, lowered by 30% for each of the last 3 accepted items sharing an attribute with the recommendation',
  worldOptions: SyntheticConfigSchema,
  defaults: { accept: 'sample', satiation: { strength: 0.3, window: 3 } },
  build: buildSynthetic,
});

const ModelKindSchema = StringEnum(MODEL_KINDS);
const Overrides = (what: string) => Type.Record(Type.String(), Type.Unknown(), { description: `${what}; omitted fields take the simulator defaults` });

/** Options of one learned simulator (`prefix` = reward | evaluator). */
function simulatorOptions(prefix: 'reward' | 'evaluator', defaults: { model?: ModelKind; seed?: number }) {
  const model = defaults.model ? StringEnum(MODEL_KINDS, { default: defaults.model }) : Type.Optional(ModelKindSchema);
  const seed = defaults.seed !== undefined ? Type.Integer({ default: defaults.seed }) : Type.Optional(Type.Integer());
  return {
    [`${prefix}Model`]: model,
    [`${prefix}Seed`]: seed,
    /** Architecture config overrides (e.g. {"hidden": 32}); resolved to the complete config. */
    [`${prefix}Config`]: Type.Optional(Overrides(`${prefix} simulator architecture`)),
    /** Training config overrides (e.g. {"maxEpochs": 1}); resolved to the complete config. */
    [`${prefix}Train`]: Type.Optional(Overrides(`${prefix} simulator training`)),
  };
}

const Location = {
  /** Simulator (and dataset) cache folder (default PRORL_CACHE_DIR, else ~/.cache/prorec-gym). */
  cacheDir: Type.Optional(Type.String()),
  /** Worker threads for batched simulator stepping (default: PRORL_SIM_WORKERS, else one when a second core exists); results do not depend on it. */
  workers: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Training overrides for both simulators (a shorthand; folded into rewardTrain / evaluatorTrain). */
  simulatorTrain: Type.Optional(Overrides('training of both simulators')),
};

interface SimulatorChoice {
  model: ModelKind;
  seed: number;
  config: ModelConfig;
  train: TrainConfig;
}

/** The complete options of one simulator: model, seed, architecture and training configs. */
function resolveSimulator(
  o: Record<string, unknown>,
  prefix: 'reward' | 'evaluator',
  model: ModelKind,
  seed: number,
  datasetName: string,
): Record<string, unknown> {
  const { model: _m, ...config } = resolveModelConfig(
    model,
    (o[`${prefix}Config`] ?? {}) as Record<string, unknown>,
    `world option ${prefix}Config`,
    datasetName,
  );
  const train = resolveTrainConfig(
    { ...((o.simulatorTrain ?? {}) as Record<string, unknown>), ...((o[`${prefix}Train`] ?? {}) as Record<string, unknown>) },
    `world option ${prefix}Train`,
    datasetName,
    model,
  );
  return { [`${prefix}Model`]: model, [`${prefix}Seed`]: seed, [`${prefix}Config`]: config, [`${prefix}Train`]: train };
}

function simulatorChoice(o: Record<string, unknown>, prefix: 'reward' | 'evaluator'): SimulatorChoice {
  const model = o[`${prefix}Model`] as ModelKind;
  return {
    model,
    seed: o[`${prefix}Seed`] as number,
    config: { ...(o[`${prefix}Config`] as object), model } as ModelConfig,
    train: o[`${prefix}Train`] as TrainConfig,
  };
}

const REAL: { id: string; dataset: 'ml-1m' | 'steam' | 'books'; label: string; ctrWeight: number }[] = [
  { id: 'ml-1m-v0', dataset: 'ml-1m', label: 'MovieLens-1M', ctrWeight: 1 },
  // The official release weights Steam's CTR term 0.1 (docs/design.md §4.13).
  { id: 'steam-v0', dataset: 'steam', label: 'Steam', ctrWeight: 0.1 },
  { id: 'books-v0', dataset: 'books', label: 'Amazon Books', ctrWeight: 1 },
];

const RealWorldOptions = Type.Object(
  {
    ...simulatorOptions('reward', { model: 'sasrec', seed: 1 }),
    /** The evaluator is trained independently: by default the other architecture, with the reward model's seed. */
    ...simulatorOptions('evaluator', {}),
    ...ExtraEvaluatorsOption,
    /** A folder holding the dataset (only this folder is searched); default: the search order of the data README. */
    dataDir: Type.Optional(Type.String()),
    /** Seed of every random choice in the dataset build (user splits; test targets of raw logs). */
    datasetSeed: Type.Integer({ default: 0 }),
    /** What the simulators learn from: the release's stitched windows, or the raw logs mapped to the release's items (data/simulator-logs.ts). */
    simulatorData: SimulatorDataSchema,
    ...Location,
  },
  { additionalProperties: false, default: {} },
);

for (const r of REAL) {
  register({
    id: r.id,
    description: `${r.label} (ProRL release data; the paper's test cases): SASRec reward model, GRU4Rec evaluator, trained on first use and cached`,
    worldOptions: RealWorldOptions,
    resolveWorld(o) {
      const { simulatorTrain: _t, extraEvaluators: _x, ...rest } = o;
      const rewardModel = o.rewardModel as ModelKind;
      const evaluatorModel = (o.evaluatorModel as ModelKind | undefined) ?? (rewardModel === 'sasrec' ? 'gru4rec' : 'sasrec');
      const evaluatorSeed = (o.evaluatorSeed as number | undefined) ?? (o.rewardSeed as number);
      return {
        ...rest,
        ...resolveSimulator(o, 'reward', rewardModel, o.rewardSeed as number, r.dataset),
        ...resolveSimulator(o, 'evaluator', evaluatorModel, evaluatorSeed, r.dataset),
        ...resolveExtraEvaluators(o, r.dataset),
      };
    },
    defaults: { weights: { ioi: 1, ior: 1, ctr: r.ctrWeight } },
    async build(o, log) {
      const { loadDataset } = await import('../data/index.ts');
      const { loadSimulatorPair } = await import('../simulators/index.ts');
      const dataset: Dataset = await loadDataset(r.dataset, {
        dataDir: o.dataDir as string | undefined,
        cacheDir: o.cacheDir as string | undefined,
        seed: o.datasetSeed as number,
        simulatorData: o.simulatorData as SimulatorDataChoice,
        log,
      });
      const { reward, evaluator } = await loadSimulatorPair({
        dataset,
        reward: simulatorChoice(o, 'reward'),
        evaluator: simulatorChoice(o, 'evaluator'),
        cacheDir: o.cacheDir as string | undefined,
        workers: o.workers as number | undefined,
        log,
      });
      const common = { dataset, cacheDir: o.cacheDir as string | undefined, workers: o.workers as number | undefined, log };
      const extraEvaluators = await loadExtraEvaluators(extraEvaluatorChoices(o), common);
      return { dataset, simulator: reward, evaluator, ...(extraEvaluators.length ? { extraEvaluators } : {}) };
    },
  });
}

register({
  id: 'synthetic-learned-v0',
  description:
    'The synthetic world with a learned reward model (SASRec trained on its logs) and the exact dynamics as evaluator: measures what exploiting a learned simulator costs',
  worldOptions: Type.Object(
    {
      ...SyntheticConfigSchema.properties,
      ...simulatorOptions('reward', { model: 'sasrec', seed: 1 }),
      ...ExtraEvaluatorsOption,
      ...Location,
      /** Share of the world's logs the reward model learns from (a seeded subset of its users): fidelity against data size. */
      simulatorDataFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 1 }),
    },
    { additionalProperties: false, default: {} },
  ),
  resolveWorld(o) {
    const { simulatorTrain: _t, extraEvaluators: _x, ...rest } = o;
    return {
      ...rest,
      ...resolveSimulator(o, 'reward', o.rewardModel as ModelKind, o.rewardSeed as number, 'synthetic'),
      ...resolveExtraEvaluators(o, 'synthetic'),
    };
  },
  async build(o, log) {
    const {
      rewardModel: _m,
      rewardSeed: _s,
      rewardConfig: _c,
      rewardTrain: _t,
      extraEvaluators: _x,
      cacheDir,
      workers,
      simulatorDataFraction,
      ...worldOptions
    } = o;
    const world = generateSyntheticWorld(worldOptions as SyntheticConfig);
    const dataset = withSimulatorFraction(world.dataset, simulatorDataFraction as number, world.config.seed);
    const { loadOrTrainSimulator } = await import('../simulators/index.ts');
    const reward = simulatorChoice(o, 'reward');
    const simulator = await loadOrTrainSimulator({ dataset, ...reward, cacheDir: cacheDir as string | undefined, workers: workers as number | undefined, log });
    const common = { dataset, cacheDir: cacheDir as string | undefined, workers: workers as number | undefined, log };
    const extraEvaluators = await loadExtraEvaluators(extraEvaluatorChoices(o), common);
    return { dataset, simulator, evaluator: new SyntheticExactSimulator(world), ...(extraEvaluators.length ? { extraEvaluators } : {}) };
  },
});
