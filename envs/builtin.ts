/**
 * The environments that ship with the package. Importing `envs/index.ts` registers them.
 * The real environments load their data and neural simulators lazily (dynamic imports), so that
 * the synthetic world starts without loading TensorFlow.js.
 */
import { Type } from '@sinclair/typebox';
import { withSimulatorFraction, type Dataset } from './dataset.ts';
import { register } from './registry.ts';
import { SyntheticExactSimulator } from './synthetic/simulator.ts';
import { generateSyntheticWorld, SyntheticConfigSchema, type SyntheticConfig } from './synthetic/world.ts';
import { StringEnum } from './validate.ts';

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

const ModelKind = StringEnum(['sasrec', 'gru4rec'] as const);
const SimulatorOptions = {
  /** The reward model's architecture and seed (default SASRec, seed 1). */
  rewardModel: ModelKind,
  rewardSeed: Type.Integer(),
  /** The evaluator: trained independently (default: the other architecture). */
  evaluatorModel: ModelKind,
  evaluatorSeed: Type.Integer(),
  /** Simulator cache folder (default PRORL_CACHE_DIR, else ~/.cache/prorec-gym). */
  cacheDir: Type.String(),
  /** Worker threads for batched stepping (default: both cores for large batches). */
  workers: Type.Integer({ minimum: 0 }),
  /** Training settings of both simulators (e.g. {"maxEpochs": 1} for a quick check); validated by the simulator trainer. */
  simulatorTrain: Type.Record(Type.String(), Type.Number()),
};

async function learnedPair(dataset: Dataset, o: Record<string, unknown>, log: (line: string) => void) {
  const { loadSimulatorPair } = await import('./sim/index.ts');
  return loadSimulatorPair({
    dataset,
    reward: { model: o.rewardModel as 'sasrec' | undefined, seed: o.rewardSeed as number | undefined, train: o.simulatorTrain as Record<string, number> | undefined },
    evaluator: { model: o.evaluatorModel as 'gru4rec' | undefined, seed: o.evaluatorSeed as number | undefined, train: o.simulatorTrain as Record<string, number> | undefined },
    cacheDir: o.cacheDir as string | undefined,
    workers: o.workers as number | undefined,
    log,
  });
}

const REAL: { id: string; dataset: 'ml-1m' | 'steam' | 'books'; label: string; ctrWeight: number }[] = [
  { id: 'ml-1m-v0', dataset: 'ml-1m', label: 'MovieLens-1M', ctrWeight: 1 },
  // The official release weights Steam's CTR term 0.1 (DESIGN.md §4).
  { id: 'steam-v0', dataset: 'steam', label: 'Steam', ctrWeight: 0.1 },
  { id: 'books-v0', dataset: 'books', label: 'Amazon Books', ctrWeight: 1 },
];

for (const r of REAL) {
  register({
    id: r.id,
    description: `${r.label} (ProRL release data; the paper's test cases): SASRec reward model, GRU4Rec evaluator, trained on first use and cached`,
    worldOptions: Type.Partial(
      Type.Object({ ...SimulatorOptions, dataDir: Type.String(), datasetSeed: Type.Integer() }, { additionalProperties: false }),
      { additionalProperties: false },
    ),
    defaults: { weights: { ioi: 1, ior: 1, ctr: r.ctrWeight } },
    async build(o, log) {
      const { loadDataset } = await import('./data/index.ts');
      const dataset = await loadDataset(r.dataset, { dataDir: o.dataDir as string | undefined, cacheDir: o.cacheDir as string | undefined, seed: o.datasetSeed as number | undefined, log });
      const { reward, evaluator } = await learnedPair(dataset, o, log);
      return { dataset, simulator: reward, evaluator };
    },
  });
}

register({
  id: 'synthetic-learned-v0',
  description: 'The synthetic world with a learned reward model (SASRec trained on its logs) and the exact dynamics as evaluator: measures what exploiting a learned simulator costs',
  worldOptions: Type.Partial(
    Type.Object(
      {
        ...Type.Partial(SyntheticConfigSchema).properties,
        rewardModel: ModelKind,
        rewardSeed: Type.Integer(),
        cacheDir: Type.String(),
        workers: Type.Integer({ minimum: 0 }),
        /** Share of the world's logs the reward model learns from (a seeded subset of its users; default 1): fidelity against data size. */
        simulatorDataFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 1 }),
      },
      { additionalProperties: false },
    ),
    { additionalProperties: false },
  ),
  async build(o, log) {
    const { rewardModel, rewardSeed, cacheDir, workers, simulatorDataFraction, ...worldOptions } = o;
    const world = generateSyntheticWorld(worldOptions as Partial<SyntheticConfig>);
    const dataset = withSimulatorFraction(world.dataset, (simulatorDataFraction as number | undefined) ?? 1, world.config.seed);
    const { loadOrTrainSimulator } = await import('./sim/index.ts');
    const simulator = await loadOrTrainSimulator({
      dataset,
      model: (rewardModel as 'sasrec' | 'gru4rec' | undefined) ?? 'sasrec',
      seed: (rewardSeed as number | undefined) ?? 1,
      cacheDir: cacheDir as string | undefined,
      workers: workers as number | undefined,
      log,
    });
    return { dataset, simulator, evaluator: new SyntheticExactSimulator(world) };
  },
});
