/**
 * Extra evaluator simulators: does a ranking of agents survive another user model? The world
 * option `extraEvaluators` of the environments with learned simulators (the real ones and
 * synthetic-learned-v0) lists further simulators, each `{ model, seed, config?, train?, id? }`,
 * trained or loaded through the simulator cache like the reward model and the evaluator
 * (simulators/index.ts `loadOrTrainSimulator`: the checkpoint name carries the model, the seed and
 * a hash of the settings, so another seed or hidden size is another simulator).
 *
 * They never act in the environment: step() does not know them, and an empty list changes nothing
 * (the option is then left out of the resolved world options, so run hashes stay as they were).
 * After the episodes, the harness replays each episode's recommendations and the user's recorded
 * acceptances under each extra evaluator (`rescoreEpisodes`), computing IoI, IoR, CTR and success
 * exactly as step() computes them under the evaluator, and the target specificity of the accepted
 * path as for the other two simulators (benchmarks/evaluate.ts; docs/evaluators.md).
 */
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError } from '../core/errors.ts';
import { StringEnum } from '../core/validate.ts';
import type { Dataset, ItemTable } from '../data/dataset.ts';
import type { UserSimulator } from '../simulators/simulator.ts';
import { MODEL_KINDS, resolveModelConfig, resolveTrainConfig, type ModelConfig, type ModelKind, type TrainConfig } from '../simulators/config.ts';
import { satiationFactors, scaled, type EnvConfig } from './proactive.ts';

export const EXTRA_EVALUATOR_ID = '^[A-Za-z0-9_-]{1,64}$';

export const ExtraEvaluatorSchema = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        pattern: EXTRA_EVALUATOR_ID,
        description: 'its name in result files and metric names (evalx.<id>.specificIoi); default <model>-seed<seed>. Letters, digits, - and _',
      }),
    ),
    model: StringEnum(MODEL_KINDS, { description: 'architecture: sasrec or gru4rec' }),
    seed: Type.Integer({ description: 'training seed' }),
    config: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'architecture overrides (e.g. {"hidden": 32}); omitted fields take the defaults; recorded complete',
      }),
    ),
    train: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'training overrides (e.g. {"maxEpochs": 1}), over the world option simulatorTrain; recorded complete',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ExtraEvaluatorOptions = Static<typeof ExtraEvaluatorSchema>;

/** The world option, spread into the world schemas of the environments with learned simulators. */
export const ExtraEvaluatorsOption = {
  extraEvaluators: Type.Optional(
    Type.Array(ExtraEvaluatorSchema, {
      description:
        'further simulators that re-score every evaluated path (metrics evalx.<id>.…; docs/evaluators.md); none by default (an empty list is left out of the recorded options)',
    }),
  ),
};

/** One extra evaluator after `resolveExtraEvaluators`: every field filled. */
export interface ResolvedExtraEvaluator {
  id: string;
  model: ModelKind;
  seed: number;
  config: Omit<ModelConfig, 'model'>;
  train: TrainConfig;
}

/**
 * The resolved `extraEvaluators` option of world options `o` (for a world's `resolveWorld`): each
 * entry's id, complete architecture and training configs (`simulatorTrain` under its `train`);
 * `{}` when the list is empty or absent, so that such a world resolves as it did before the option
 * existed. Idempotent (a world is resolved again from its recorded options). Two entries with one
 * id are refused.
 */
export function resolveExtraEvaluators(o: Record<string, unknown>, datasetName: string): { extraEvaluators?: ResolvedExtraEvaluator[] } {
  const list = (o.extraEvaluators ?? []) as ExtraEvaluatorOptions[];
  if (list.length === 0) return {};
  const shared = (o.simulatorTrain ?? {}) as Record<string, unknown>;
  const seen = new Map<string, number>();
  const out = list.map((e, i) => {
    const where = `world option extraEvaluators[${i}]`;
    const { model: _m, ...config } = resolveModelConfig(e.model, e.config ?? {}, `${where}.config`, datasetName);
    const train = resolveTrainConfig({ ...shared, ...(e.train ?? {}) }, `${where}.train`, datasetName, e.model);
    const id = e.id ?? `${e.model}-seed${e.seed}`;
    const before = seen.get(id);
    if (before !== undefined)
      throw new ConfigError(`${where}: id '${id}' is taken by extraEvaluators[${before}]: give one of them another id (e.g. "id": "${id}-b")`);
    seen.set(id, i);
    return { id, model: e.model, seed: e.seed, config, train };
  });
  return { extraEvaluators: out };
}

/** The resolved extra evaluators of resolved world options (none: []). */
export function extraEvaluatorChoices(o: Record<string, unknown>): ResolvedExtraEvaluator[] {
  return (o.extraEvaluators ?? []) as ResolvedExtraEvaluator[];
}

/** An extra evaluator of a built world. */
export interface ExtraEvaluator {
  readonly id: string;
  readonly simulator: UserSimulator;
}

/**
 * Loads (or trains, on first use) each extra evaluator through the simulator cache, in order.
 * The simulators module is imported here, lazily, as the builders do.
 */
export async function loadExtraEvaluators(
  choices: readonly ResolvedExtraEvaluator[],
  common: { dataset: Dataset; cacheDir?: string; workers?: number; log: (line: string) => void },
): Promise<ExtraEvaluator[]> {
  if (choices.length === 0) return [];
  const { loadOrTrainSimulator } = await import('../simulators/index.ts');
  const out: ExtraEvaluator[] = [];
  for (const c of choices) {
    const simulator = await loadOrTrainSimulator({
      ...common,
      model: c.model,
      seed: c.seed,
      config: { ...c.config, model: c.model } as ModelConfig,
      train: c.train,
    });
    out.push({ id: c.id, simulator });
  }
  return out;
}

/** What an evaluated episode recorded: enough to replay it under another simulator. */
export interface RecordedEpisode {
  readonly history: readonly number[];
  readonly target: number;
  /** The items recommended, in order (EpisodeSummary.path: STOP and invalid actions excluded). */
  readonly path: readonly number[];
  /** Per item of `path`: 1 if the user accepted it (EpisodeSummary.acceptedFlags). */
  readonly acceptedFlags: readonly number[];
}

/** An episode's totals under one simulator: what EpisodeSummary.evaluator holds. */
export interface RescoredEpisode {
  ioi: number;
  ior: number;
  ctr: number;
  success: boolean;
}

/**
 * Each episode's IoI, IoR and CTR totals and success under `simulator`, computed as the
 * environment's step() computes them under its evaluator: the episodes run as rows of one batch
 * (open the histories, take the targets' stats), then, item after item, the CTR of the item
 * (read before the append under accept: 'sample', from the append under 'always', times the
 * satiation factor of the user's accepted items), the append of the accepted ones, and the change
 * of log p(T) and of rank(T) summed over the accepted items in step order; the CTR averaged over the
 * recommended items, success = rank(T) <= successTopK after the path. Replaying the reward model or
 * the evaluator this way gives back the environment's numbers exactly (test/extra-evaluators.test.ts).
 * The acceptances are the recorded ones: the user's choices came from the reward model, and an
 * evaluator re-scores what happened.
 */
export function rescoreEpisodes(
  simulator: UserSimulator,
  items: ItemTable,
  config: Pick<EnvConfig, 'accept' | 'satiation' | 'successTopK'>,
  episodes: readonly RecordedEpisode[],
): RescoredEpisode[] {
  const B = episodes.length;
  if (B === 0) return [];
  const batch = simulator.open(episodes.map((e) => [...e.history]));
  try {
    const targets = Int32Array.from(episodes, (e) => e.target);
    const stats = batch.targetStats(targets);
    const logProb = Float64Array.from(stats.logProb);
    const rank = Float64Array.from(stats.rank);
    const ioi = new Float64Array(B);
    const ior = new Float64Array(B);
    const ctrSum = new Float64Array(B);
    const accepted: number[][] = episodes.map(() => []);
    const sampling = config.accept === 'sample';
    const steps = Math.max(...episodes.map((e) => e.path.length));
    for (let t = 0; t < steps; t++) {
      const itemsT = new Int32Array(B);
      const recommends = new Uint8Array(B);
      for (let k = 0; k < B; k++) {
        if (t >= episodes[k].path.length) continue;
        itemsT[k] = episodes[k].path[t];
        recommends[k] = 1;
      }
      const accepts = sampling ? Uint8Array.from(recommends, (r, k) => (r && episodes[k].acceptedFlags[t] === 1 ? 1 : 0)) : recommends;
      const satiated = satiationFactors(items, config.satiation, itemsT, recommends, (k) => accepted[k]);
      const ctrBefore = sampling ? scaled(batch.ctr(itemsT), satiated) : null;
      const result = batch.advance(itemsT, targets, accepts);
      const ctr = ctrBefore ?? scaled(result.ctr, satiated);
      for (let k = 0; k < B; k++) {
        if (!recommends[k]) continue;
        const isAccepted = accepts[k] === 1;
        const dIoi = isAccepted ? result.logProb[k] - logProb[k] : 0;
        const dIor = isAccepted ? rank[k] - result.rank[k] : 0;
        if (isAccepted) {
          logProb[k] = result.logProb[k];
          rank[k] = result.rank[k];
          accepted[k].push(itemsT[k]);
        }
        ioi[k] += dIoi;
        ior[k] += dIor;
        ctrSum[k] += ctr[k];
      }
    }
    return episodes.map((e, k) => {
      const L = e.path.length;
      return { ioi: ioi[k], ior: ior[k], ctr: L > 0 ? ctrSum[k] / L : 0, success: rank[k] <= config.successTopK };
    });
  } finally {
    batch.dispose();
  }
}
