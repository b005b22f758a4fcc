/**
 * Hyperparameters of the two simulator architectures and of their training. The schemas are the
 * one source of truth: checkpoints store the config and are validated against them on load.
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, validate } from '../core/validate.ts';

export const MODEL_KINDS = ['sasrec', 'gru4rec'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export const SasrecConfigSchema = Type.Object(
  {
    model: Type.Literal('sasrec'),
    /** Width of item / position embeddings and of every block. */
    hidden: Type.Integer({ minimum: 2, default: 64 }),
    blocks: Type.Integer({ minimum: 1, default: 2 }),
    heads: Type.Integer({ minimum: 1, default: 2 }),
    feedForward: Type.Integer({ minimum: 1, default: 256 }),
    dropout: Type.Number({ minimum: 0, maximum: 0.95, default: 0.5 }),
    /** The model reads the most recent `maxLen` items of a sequence. */
    maxLen: Type.Integer({ minimum: 2, default: 50 }),
  },
  { additionalProperties: false },
);
export type SasrecConfig = Static<typeof SasrecConfigSchema>;

export const Gru4recConfigSchema = Type.Object(
  {
    model: Type.Literal('gru4rec'),
    /** Item embedding width; also the width of u(s) (the output projection maps the GRU state to it). */
    embedding: Type.Integer({ minimum: 2, default: 64 }),
    /** GRU state width. */
    hidden: Type.Integer({ minimum: 2, default: 128 }),
    dropout: Type.Number({ minimum: 0, maximum: 0.95, default: 0.3 }),
    maxLen: Type.Integer({ minimum: 2, default: 50 }),
  },
  { additionalProperties: false },
);
export type Gru4recConfig = Static<typeof Gru4recConfigSchema>;

export const ModelConfigSchema = Type.Union([SasrecConfigSchema, Gru4recConfigSchema]);
export type ModelConfig = SasrecConfig | Gru4recConfig;

export const TrainConfigSchema = Type.Object(
  {
    learningRate: Type.Number({ exclusiveMinimum: 0, default: 1e-3 }),
    /** Windows (of at most maxLen + 1 items) per optimiser step. */
    batchSize: Type.Integer({ minimum: 1, default: 32 }),
    maxEpochs: Type.Integer({ minimum: 1, default: 40 }),
    /** Stop after this many epochs without a better valid NDCG@10. */
    patience: Type.Integer({ minimum: 1, default: 5 }),
    /** Valid sequences scored per epoch for early stopping (0 = all). */
    validLimit: Type.Integer({ minimum: 0, default: 0 }),
    /** Learn from the first `trainLimit` simulator sequences only (0 = all): for quick wiring checks, never for real simulators. */
    trainLimit: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false, default: {} },
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
 * simulators/README.md records with what was tried. Keys are `Dataset.name`; a dataset or model not
 * listed takes the schema-wide defaults. Explicit overrides (world options, CLI) win over both.
 */
export const SIMULATOR_DEFAULTS_BY_DATASET: Readonly<Record<string, Readonly<Partial<Record<ModelKind, SimulatorDefaults>>>>> = {};

/** The per-dataset defaults of `kind` on `datasetName` ({} when none are recorded). */
export function datasetDefaults(datasetName: string, kind: ModelKind): SimulatorDefaults {
  return SIMULATOR_DEFAULTS_BY_DATASET[datasetName]?.[kind] ?? {};
}

/**
 * The complete architecture config of `kind` with `overrides`: the schema's defaults, under the
 * per-dataset defaults of `datasetName` (when given), under `overrides` (validated).
 */
export function resolveModelConfig(kind: ModelKind, overrides: Record<string, unknown> = {}, source = `${kind} config`, datasetName?: string): ModelConfig {
  const tuned = datasetName ? (datasetDefaults(datasetName, kind).config ?? {}) : {};
  return validate(ModelConfigSchema, { ...tuned, ...overrides, model: kind }, source) as ModelConfig;
}

/** The complete training config: schema defaults, under the per-dataset defaults, under `overrides` (validated). */
export function resolveTrainConfig(
  overrides: Record<string, unknown> = {},
  source = 'simulator training config',
  datasetName?: string,
  kind?: ModelKind,
): TrainConfig {
  const tuned = datasetName && kind ? (datasetDefaults(datasetName, kind).train ?? {}) : {};
  return validate(TrainConfigSchema, { ...tuned, ...overrides }, source);
}

/** Width of u(s) without the bias dimension. */
export function outputDim(config: ModelConfig): number {
  return config.model === 'sasrec' ? config.hidden : config.embedding;
}
