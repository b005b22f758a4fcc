/**
 * Versioned simulator checkpoints: one binary file holding a JSON header (format version, model
 * config, training config, dataset name and hash, metrics, backend, tensor table, payload checksum)
 * and the float32 weights. A checkpoint is refused, with a message saying why, when it comes from
 * another format version, dataset or model; a truncated or corrupt file raises a CheckpointError.
 *
 * Layout (shared with the per-epoch training state, simulators/resume.ts, which has its own magic):
 * 8-byte magic, uint32 (LE) header length, header JSON (UTF-8), space padding to a multiple of 4
 * bytes, then each tensor's float32 values (little-endian) at the offsets the header gives.
 */
import { invariant, ProrecError } from '../core/errors.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { validate, ValidationError } from '../core/validate.ts';
import { writeFileAtomic } from '../core/io.ts';
import { ModelConfigSchema, ModelKindSchema, TrainConfigSchema, type ModelKind } from './config.ts';

export const CHECKPOINT_FORMAT = 'prorec-gym/simulator-checkpoint';
/**
 * Bump when the layout or the meaning of the weights changes; older files are then refused.
 * 2: simulators learn from `Dataset.simulatorSequences` with a leave-one-out split of their own,
 * and the header records their test metrics beside popularity.
 */
export const CHECKPOINT_VERSION = 2;
const MAGIC = Buffer.from('PRSIMCK\n', 'latin1');

export class CheckpointError extends ProrecError {
  readonly kind = 'failure';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`simulator checkpoint ${file}: ${message}`);
  }
}

export const RankingMetricsSchema = Type.Object({
  hr10: Type.Number(),
  ndcg10: Type.Number(),
  /** Sequences evaluated. */
  count: Type.Integer({ minimum: 0 }),
});
export type RankingMetrics = Static<typeof RankingMetricsSchema>;

export const TrainingRecordSchema = Type.Object({
  epochs: Type.Integer({ minimum: 0 }),
  bestEpoch: Type.Integer({ minimum: 0 }),
  valid: RankingMetricsSchema,
  popularityValid: RankingMetricsSchema,
  trainSeconds: Type.Number(),
  secondsPerEpoch: Type.Number(),
  /** Held-out last items of the simulator's own leave-one-out split, scored with the best epoch's weights. */
  test: RankingMetricsSchema,
  popularityTest: RankingMetricsSchema,
  /** The paired comparison with popularity on the test items (see `compareWithPopularity`). */
  versusPopularity: Type.Object({
    hr10Diff: Type.Number(),
    hr10DiffLow: Type.Number(),
    ndcg10Diff: Type.Number(),
    ndcg10DiffLow: Type.Number(),
    clearlyBetter: Type.Boolean(),
  }),
  /** Train interactions (next-item targets) per epoch. */
  trainTargets: Type.Integer({ minimum: 0 }),
  history: Type.Array(
    Type.Object({
      epoch: Type.Integer(),
      loss: Type.Number(),
      validNdcg10: Type.Number(),
      validHr10: Type.Number(),
      /** Mean log p(held-out item | prefix) on the valid sequences (the early-stopping tie-break). */
      validLogLikelihood: Type.Optional(Type.Number()),
      seconds: Type.Number(),
    }),
  ),
});
export type TrainingRecord = Static<typeof TrainingRecordSchema>;

/** The index of the binary payload after a JSON header: each tensor's name, shape and place, and the payload's size and sha256. */
export const TensorPayloadFields = {
  tensors: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer({ minimum: 0 })),
      offset: Type.Integer({ minimum: 0 }),
      length: Type.Integer({ minimum: 0 }),
    }),
  ),
  payloadBytes: Type.Integer({ minimum: 0 }),
  payloadSha256: Type.String(),
};
export const CheckpointHeaderSchema = Type.Object(
  {
    format: Type.Literal(CHECKPOINT_FORMAT),
    version: Type.Literal(CHECKPOINT_VERSION),
    model: ModelKindSchema,
    config: ModelConfigSchema,
    train: TrainConfigSchema,
    seed: Type.Integer(),
    dataset: Type.Object({
      name: Type.String(),
      hash: Type.String(),
      source: Type.String(),
      numItems: Type.Integer({ minimum: 1 }),
      /** Interactions of the sequences the simulator learned from (before its leave-one-out split), and which. */
      simulatorInteractions: Type.Integer({ minimum: 0 }),
      simulatorSequences: Type.Integer({ minimum: 0 }),
      simulatorData: Type.String(),
    }),
    metrics: TrainingRecordSchema,
    backend: Type.String(),
    createdAt: Type.String(),
    ...TensorPayloadFields,
  },
  { additionalProperties: false },
);
export type CheckpointHeader = Static<typeof CheckpointHeaderSchema>;

/** The header without the fields `writeCheckpoint` fills in. */
export type CheckpointDescription = Omit<CheckpointHeader, 'format' | 'version' | 'tensors' | 'payloadBytes' | 'payloadSha256'>;

export interface TensorEntry {
  shape: number[];
  values: Float32Array;
}

/** The tensor table and checksum fields every container header carries. */
export interface ContainerFields {
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  payloadBytes: number;
  payloadSha256: string;
}

/** Encodes `header` (with the tensor table and checksum added) and the tensors' float32 values. */
export function encodeContainer(magic: Buffer, header: Record<string, unknown>, tensors: ReadonlyMap<string, TensorEntry>): Uint8Array {
  const table: ContainerFields['tensors'] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    invariant(size === t.values.length, () => `tensor ${name}: ${t.values.length} values for shape ${t.shape.join('x')}`);
    table.push({ name, shape: t.shape, offset, length: size });
    offset += size * 4;
  }
  const payload = Buffer.alloc(offset);
  let at = 0;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.values.length; i++, at += 4) payload.writeFloatLE(t.values[i], at);
  }
  const full = { ...header, tensors: table, payloadBytes: payload.length, payloadSha256: createHash('sha256').update(payload).digest('hex') };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const padding = (4 - ((magic.length + 4 + json.length) % 4)) % 4;
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length + padding, 0);
  return Buffer.concat([magic, length, json, Buffer.from(' '.repeat(padding)), payload]);
}

/**
 * Splits a container into its parsed (unvalidated) header and payload; throws a CheckpointError
 * on a wrong magic, a truncated file or a header that is not JSON. `what` names the file kind.
 */
export function openContainer(bytes: Uint8Array, file: string, magic: Buffer, what: string): { raw: unknown; payload: Buffer } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < magic.length + 4 || !buf.subarray(0, magic.length).equals(magic))
    throw new CheckpointError(file, `not a prorec-gym ${what} (bad magic bytes)`);
  const headerLength = buf.readUInt32LE(magic.length);
  const headerEnd = magic.length + 4 + headerLength;
  if (headerEnd > buf.length) throw new CheckpointError(file, `truncated: header needs ${headerEnd} bytes, file has ${buf.length}`);
  try {
    return { raw: JSON.parse(buf.subarray(magic.length + 4, headerEnd).toString('utf8')), payload: buf.subarray(headerEnd) };
  } catch (e) {
    throw new CheckpointError(file, `corrupt header (${(e as Error).message})`);
  }
}

/** The tensors of a validated container header, after checking the payload's size and checksum. */
export function readTensors(payload: Buffer, header: ContainerFields, file: string): Map<string, Float32Array> {
  if (payload.length !== header.payloadBytes)
    throw new CheckpointError(file, `truncated or padded: payload has ${payload.length} bytes, header says ${header.payloadBytes}`);
  const digest = createHash('sha256').update(payload).digest('hex');
  if (digest !== header.payloadSha256) throw new CheckpointError(file, 'corrupt: weights checksum mismatch');
  const values = new Map<string, Float32Array>();
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.length || t.offset + 4 * t.length > payload.length) throw new CheckpointError(file, `corrupt tensor table entry '${t.name}'`);
    const v = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) v[i] = payload.readFloatLE(t.offset + 4 * i);
    values.set(t.name, v);
  }
  return values;
}

export function encodeCheckpoint(description: CheckpointDescription, tensors: ReadonlyMap<string, TensorEntry>): Uint8Array {
  return encodeContainer(MAGIC, { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...description }, tensors);
}

export function writeCheckpoint(file: string, description: CheckpointDescription, tensors: ReadonlyMap<string, TensorEntry>): void {
  writeFileAtomic(file, encodeCheckpoint(description, tensors));
}

export interface CheckpointExpectation {
  datasetName?: string;
  datasetHash?: string;
  model?: ModelKind;
}

export interface LoadedCheckpoint {
  header: CheckpointHeader;
  values: Map<string, Float32Array>;
}

export function decodeCheckpoint(bytes: Uint8Array, file: string, expect: CheckpointExpectation = {}): LoadedCheckpoint {
  const { raw, payload } = openContainer(bytes, file, MAGIC, 'simulator checkpoint');
  // Format and version first: a file from another version may have other fields altogether.
  const probe = (raw ?? {}) as { format?: unknown; version?: unknown };
  if (probe.format !== CHECKPOINT_FORMAT) throw new CheckpointError(file, `unknown format ${JSON.stringify(probe.format)} (expected '${CHECKPOINT_FORMAT}')`);
  if (probe.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      file,
      `format version ${JSON.stringify(probe.version)}, but this code reads version ${CHECKPOINT_VERSION}: retrain the simulator (delete the file)`,
    );
  let header: CheckpointHeader;
  try {
    header = validate(CheckpointHeaderSchema, raw, file);
  } catch (e) {
    if (e instanceof ValidationError) throw new CheckpointError(file, `invalid header:\n${e.problems.map((p) => `  - ${p}`).join('\n')}`);
    throw e;
  }
  if (expect.model !== undefined && header.model !== expect.model)
    throw new CheckpointError(file, `holds a ${header.model} model, not the ${expect.model} asked for`);
  if (expect.datasetName !== undefined && header.dataset.name !== expect.datasetName)
    throw new CheckpointError(file, `was trained on dataset '${header.dataset.name}', not '${expect.datasetName}'`);
  if (expect.datasetHash !== undefined && header.dataset.hash !== expect.datasetHash)
    throw new CheckpointError(
      file,
      `was trained on dataset '${header.dataset.name}' with hash ${header.dataset.hash}, but this dataset's hash is ${expect.datasetHash} (the data changed: retrain)`,
    );
  return { header, values: readTensors(payload, header, file) };
}

export function readCheckpoint(file: string, expect: CheckpointExpectation = {}): LoadedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(file, `cannot be read (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, file, expect);
}
