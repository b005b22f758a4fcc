/**
 * Hyperparameters of the two simulator architectures and of their training. The schemas are the
 * one source of truth: checkpoints store the config and are validated against them on load.
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../validate.ts';

export const MODEL_KINDS = ['sasrec', 'gru4rec'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export const SasrecConfigSchema = Type.Object(
  {
    model: Type.Literal('sasrec'),
    /** Width of item / position embeddings and of every block. */
    hidden: Type.Integer({ minimum: 2 }),
    blocks: Type.Integer({ minimum: 1 }),
    heads: Type.Integer({ minimum: 1 }),
    feedForward: Type.Integer({ minimum: 1 }),
    dropout: Type.Number({ minimum: 0, maximum: 0.95 }),
    /** The model reads the most recent `maxLen` items of a sequence. */
    maxLen: Type.Integer({ minimum: 2 }),
  },
  { additionalProperties: false },
);
export type SasrecConfig = Static<typeof SasrecConfigSchema>;

export const Gru4recConfigSchema = Type.Object(
  {
    model: Type.Literal('gru4rec'),
    /** Item embedding width; also the width of u(s) (the output projection maps the GRU state to it). */
    embedding: Type.Integer({ minimum: 2 }),
    /** GRU state width. */
    hidden: Type.Integer({ minimum: 2 }),
    dropout: Type.Number({ minimum: 0, maximum: 0.95 }),
    maxLen: Type.Integer({ minimum: 2 }),
  },
  { additionalProperties: false },
);
export type Gru4recConfig = Static<typeof Gru4recConfigSchema>;

export const ModelConfigSchema = Type.Union([SasrecConfigSchema, Gru4recConfigSchema]);
export type ModelConfig = SasrecConfig | Gru4recConfig;

export const TrainConfigSchema = Type.Object(
  {
    learningRate: Type.Number({ exclusiveMinimum: 0 }),
    /** Windows (of at most maxLen + 1 items) per optimiser step. */
    batchSize: Type.Integer({ minimum: 1 }),
    maxEpochs: Type.Integer({ minimum: 1 }),
    /** Stop after this many epochs without a better valid NDCG@10. */
    patience: Type.Integer({ minimum: 1 }),
    /** Valid sequences scored per epoch for early stopping (0 = all). */
    validLimit: Type.Integer({ minimum: 0 }),
    /** Learn from the first `trainLimit` simulator sequences only (0 = all): for quick wiring checks, never for real simulators. */
    trainLimit: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type TrainConfig = Static<typeof TrainConfigSchema>;

export const ModelKindSchema = StringEnum(MODEL_KINDS);

/** Overrides of the architecture and training defaults for one (dataset, model). */
export interface SimulatorDefaults {
  readonly config?: Readonly<Partial<SasrecConfig>> | Readonly<Partial<Gru4recConfig>>;
  readonly train?: Readonly<Partial<TrainConfig>>;
}

/**
 * Per-dataset defaults of the simulators, over the schema-wide ones below: chosen on each dataset's
 * own simulator valid split (the second-to-last item of every sequence; never its test), as
 * envs/sim/README.md records with what was tried. Keys are `Dataset.name`; a dataset or model not
 * listed takes the schema-wide defaults. Explicit overrides (world options, CLI) win over both.
 */
export const SIMULATOR_DEFAULTS_BY_DATASET: Readonly<Record<string, Readonly<Partial<Record<ModelKind, SimulatorDefaults>>>>> = {};

/** The per-dataset defaults of `kind` on `datasetName` ({} when none are recorded). */
export function datasetDefaults(datasetName: string, kind: ModelKind): SimulatorDefaults {
  return SIMULATOR_DEFAULTS_BY_DATASET[datasetName]?.[kind] ?? {};
}

export function defaultModelConfig(kind: ModelKind): ModelConfig {
  if (kind === 'sasrec') return { model: 'sasrec', hidden: 64, blocks: 2, heads: 2, feedForward: 256, dropout: 0.5, maxLen: 50 };
  return { model: 'gru4rec', embedding: 64, hidden: 128, dropout: 0.3, maxLen: 50 };
}

export function defaultTrainConfig(): TrainConfig {
  return { learningRate: 1e-3, batchSize: 32, maxEpochs: 40, patience: 5, validLimit: 0, trainLimit: 0 };
}

/** Width of u(s) without the bias dimension. */
export function outputDim(config: ModelConfig): number {
  return config.model === 'sasrec' ? config.hidden : config.embedding;
}
