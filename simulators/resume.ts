/**
 * The training state of a simulator, written after every epoch so that a stopped or killed
 * training resumes from its last finished epoch: the current weights, Adam's moments and step, the
 * epoch, the best epoch so far (its metrics and weights) and the per-epoch history. Per-epoch
 * shuffling and dropout come from streams derived from the seed and the epoch number
 * (simulators/train.ts), so no random-generator state needs saving: a resumed run ends with the same
 * weights as an uninterrupted one.
 *
 * Same container as the checkpoints (simulators/checkpoint.ts) with its own magic and header; the
 * file sits next to the checkpoint it will become (`.simstate` for `.simckpt`) and is removed once
 * the checkpoint is written. A state written for other settings (model, configs, seed, data) is
 * refused with a CheckpointError naming the difference.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Type, type Static } from '@sinclair/typebox';
import { validate, ValidationError } from '../core/validate.ts';
import { writeFileAtomic } from '../core/io.ts';
import { ModelConfigSchema, ModelKindSchema, TrainConfigSchema, type ModelConfig, type ModelKind, type TrainConfig } from './config.ts';
import { CheckpointError, encodeContainer, openContainer, readTensors, TensorPayloadFields, TrainingRecordSchema, type TensorEntry } from './checkpoint.ts';
import { ConfigError } from '../core/errors.ts';

export const TRAINING_STATE_FORMAT = 'prorec-gym/simulator-training-state';
export const TRAINING_STATE_VERSION = 1;
const MAGIC = Buffer.from('PRSIMTS\n', 'latin1');

const BestSchema = Type.Object({
  epoch: Type.Integer({ minimum: 0 }),
  hr10: Type.Number(),
  ndcg10: Type.Number(),
  logLikelihood: Type.Number(),
});

export const TrainingStateHeaderSchema = Type.Object(
  {
    format: Type.Literal(TRAINING_STATE_FORMAT),
    version: Type.Literal(TRAINING_STATE_VERSION),
    model: ModelKindSchema,
    config: ModelConfigSchema,
    train: TrainConfigSchema,
    seed: Type.Integer(),
    dataset: Type.Object({ name: Type.String(), hash: Type.String() }),
    /** Epochs finished. */
    epoch: Type.Integer({ minimum: 1 }),
    adamStep: Type.Integer({ minimum: 0 }),
    best: BestSchema,
    history: TrainingRecordSchema.properties.history,
    ...TensorPayloadFields,
  },
  { additionalProperties: false },
);

export interface TrainingState {
  model: ModelKind;
  config: ModelConfig;
  train: TrainConfig;
  seed: number;
  dataset: { name: string; hash: string };
  epoch: number;
  best: Static<typeof BestSchema> & { values: Map<string, Float32Array> };
  history: Static<typeof TrainingRecordSchema>['history'];
  params: Map<string, Float32Array>;
  /** The optimiser's step and moments by parameter name (compute/nn/adam.ts). */
  adam: { step: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> };
}

/** `<name>.simstate` beside `<name>.simckpt`. */
export function trainingStatePath(checkpointFile: string): string {
  return checkpointFile.replace(/\.simckpt$/, '') + '.simstate';
}

export function writeTrainingState(file: string, state: TrainingState, shapes: ReadonlyMap<string, number[]>): void {
  const tensors = new Map<string, TensorEntry>();
  const add = (prefix: string, values: ReadonlyMap<string, Float32Array>) => {
    for (const [name, shape] of shapes) {
      const v = values.get(name);
      if (!v) throw new ConfigError(`training state: no ${prefix} values for '${name}'`);
      tensors.set(`${prefix}:${name}`, { shape, values: v });
    }
  };
  add('param', state.params);
  add('adam.m', state.adam.m);
  add('adam.v', state.adam.v);
  add('best', state.best.values);
  const { values: _v, ...best } = state.best;
  const header = {
    format: TRAINING_STATE_FORMAT,
    version: TRAINING_STATE_VERSION,
    model: state.model,
    config: state.config,
    train: state.train,
    seed: state.seed,
    dataset: state.dataset,
    epoch: state.epoch,
    adamStep: state.adam.step,
    best,
    history: state.history,
  };
  writeFileAtomic(file, encodeContainer(MAGIC, header, tensors));
}

/**
 * Reads a training state and checks it was written for exactly these settings; throws a
 * CheckpointError naming the file and what differs otherwise.
 */
export function readTrainingState(
  file: string,
  expect: { model: ModelKind; config: ModelConfig; train: TrainConfig; seed: number; dataset: { name: string; hash: string } },
): TrainingState {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(file, `cannot be read (${(e as Error).message})`);
  }
  const { raw, payload } = openContainer(bytes, file, MAGIC, 'simulator training state');
  const probe = (raw ?? {}) as { format?: unknown; version?: unknown };
  if (probe.format !== TRAINING_STATE_FORMAT || probe.version !== TRAINING_STATE_VERSION)
    throw new CheckpointError(
      file,
      `training state of format ${JSON.stringify(probe.format)} version ${JSON.stringify(probe.version)}; this code reads ${TRAINING_STATE_FORMAT} version ${TRAINING_STATE_VERSION}`,
    );
  let header: Static<typeof TrainingStateHeaderSchema>;
  try {
    header = validate(TrainingStateHeaderSchema, raw, file);
  } catch (e) {
    if (e instanceof ValidationError) throw new CheckpointError(file, `invalid training state header:\n${e.problems.map((p) => `  - ${p}`).join('\n')}`);
    throw e;
  }
  for (const key of ['model', 'config', 'train', 'seed', 'dataset'] as const) {
    if (!isDeepStrictEqual(header[key], expect[key]))
      throw new CheckpointError(file, `training state was written for another ${key} (${JSON.stringify(header[key])}, now ${JSON.stringify(expect[key])})`);
  }
  const tensors = readTensors(payload, header, file);
  const part = (prefix: string) => {
    const out = new Map<string, Float32Array>();
    for (const [k, v] of tensors) if (k.startsWith(`${prefix}:`)) out.set(k.slice(prefix.length + 1), v);
    return out;
  };
  return {
    model: header.model,
    config: header.config as ModelConfig,
    train: header.train,
    seed: header.seed,
    dataset: header.dataset,
    epoch: header.epoch,
    best: { ...header.best, values: part('best') },
    history: header.history,
    params: part('param'),
    adam: { step: header.adamStep, m: part('adam.m'), v: part('adam.v') },
  };
}
