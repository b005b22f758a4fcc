/**
 * Checkpoints: a round trip restores the same simulator; a checkpoint from another dataset, model
 * or format version is refused with a message saying which; truncated or corrupt files raise a
 * CheckpointError (never a crash or a half-loaded model).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBackend } from '../simulators/runtime.ts';
import { createModel } from '../simulators/model.ts';
import { TfSimulator } from '../simulators/batch.ts';
import { CheckpointError, CHECKPOINT_VERSION, encodeCheckpoint, type CheckpointDescription } from '../simulators/checkpoint.ts';
import { loadSimulator, saveSimulator } from '../simulators/index.ts';
import { successorDataset } from './support/successor-dataset.ts';
import type { ModelConfig } from '../simulators/config.ts';

const dataset = successorDataset({ numItems: 30, users: 40, length: 12 });
const config: ModelConfig = { model: 'gru4rec', embedding: 8, hidden: 12, dropout: 0.3, maxLen: 10 };
let dir = '';
let file = '';
let simulator: TfSimulator;

function description(overrides: Partial<CheckpointDescription> = {}): CheckpointDescription {
  const metrics = { hr10: 0, ndcg10: 0, count: 0 };
  return {
    model: 'gru4rec',
    config,
    train: { learningRate: 1e-3, batchSize: 8, maxEpochs: 1, patience: 1, validLimit: 0, trainLimit: 0 },
    seed: 1,
    dataset: {
      name: dataset.name,
      hash: dataset.meta.hash,
      source: dataset.meta.source,
      numItems: 30,
      simulatorInteractions: dataset.meta.simulatorInteractions,
      simulatorSequences: dataset.simulatorSequences.length,
      simulatorData: dataset.meta.simulatorData,
    },
    metrics: {
      epochs: 0,
      bestEpoch: 0,
      valid: metrics,
      popularityValid: metrics,
      test: metrics,
      popularityTest: metrics,
      versusPopularity: { hr10Diff: 0, hr10DiffLow: 0, ndcg10Diff: 0, ndcg10DiffLow: 0, clearlyBetter: false },
      trainSeconds: 0,
      secondsPerEpoch: 0,
      trainTargets: 0,
      history: [],
    },
    backend: 'wasm',
    createdAt: new Date(0).toISOString(),
    ...overrides,
  };
}

before(async () => {
  await ensureBackend({ quiet: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'sim-ckpt-'));
  file = path.join(dir, 'model.simckpt');
  simulator = new TfSimulator(createModel(config, 30, 5), 'roundtrip');
  saveSimulator(file, simulator, description());
});

after(() => {
  simulator.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('a saved simulator loads back with identical scores', async () => {
  const { simulator: loaded, header } = await loadSimulator(file, { dataset, model: 'gru4rec' });
  assert.equal(header.version, CHECKPOINT_VERSION);
  const seqs = [[1, 2, 3], [4]];
  const a = simulator.open(seqs);
  const b = loaded.open(seqs);
  assert.deepEqual(Array.from(b.scores()), Array.from(a.scores()));
  a.dispose();
  b.dispose();
  loaded.dispose();
});

test('a checkpoint of another model is refused, naming both', async () => {
  await assert.rejects(
    loadSimulator(file, { model: 'sasrec' }),
    (e: Error) => e instanceof CheckpointError && /holds a gru4rec model, not the sasrec/.test(e.message),
  );
});

test('a checkpoint of another dataset is refused, naming the dataset and hashes', async () => {
  const other = successorDataset({ numItems: 30, users: 40, length: 12, seed: 9 });
  await assert.rejects(
    loadSimulator(file, { dataset: other }),
    (e: Error) => e instanceof CheckpointError && /hash successor-0-.* but this dataset's hash is successor-9-/.test(e.message),
  );
  const renamed = { ...other, name: 'steam' };
  await assert.rejects(loadSimulator(file, { dataset: renamed }), /trained on dataset 'successor', not 'steam'/);
});

test('a checkpoint of another format version is refused, naming both versions', async () => {
  const bytes = Buffer.from(readFileSync(file));
  const text = bytes.toString('latin1').replace(`"version":${CHECKPOINT_VERSION},`, `"version":${CHECKPOINT_VERSION + 1},`);
  const future = path.join(dir, 'future.simckpt');
  writeFileSync(future, Buffer.from(text, 'latin1'));
  await assert.rejects(
    loadSimulator(future),
    (e: Error) =>
      e instanceof CheckpointError && new RegExp(`format version ${CHECKPOINT_VERSION + 1}, but this code reads version ${CHECKPOINT_VERSION}`).test(e.message),
  );
});

test('truncated, corrupt or foreign files raise CheckpointError', async () => {
  const bytes = readFileSync(file);
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['magic only', bytes.subarray(0, 10)],
    ['header cut', bytes.subarray(0, 40)],
    ['payload cut', bytes.subarray(0, bytes.length - 7)],
    ['foreign', Buffer.from('{"not":"a checkpoint"}')],
  ];
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 3] ^= 0xff;
  cases.push(['weights flipped', flipped]);
  const garbled = Buffer.from(bytes);
  garbled[15] = 0x7b; // '{' inside the JSON header
  cases.push(['header garbled', garbled]);
  for (const [name, data] of cases) {
    const bad = path.join(dir, `${name.replace(/ /g, '-')}.simckpt`);
    writeFileSync(bad, data);
    await assert.rejects(loadSimulator(bad), CheckpointError, name);
  }
  await assert.rejects(loadSimulator(path.join(dir, 'missing.simckpt')), /cannot be read/);
});

test('encodeCheckpoint rejects tensors whose size does not match their shape', () => {
  assert.throws(() => encodeCheckpoint(description(), new Map([['x', { shape: [2, 2], values: new Float32Array(3) }]])), /3 values for shape 2x2/);
});

test('loadOrTrainSimulator reports a corrupt cached checkpoint instead of crashing or silently retraining', async () => {
  const { checkpointPath, loadOrTrainSimulator } = await import('../simulators/index.ts');
  const spec = { dataset, model: 'gru4rec' as const, seed: 1, config, cacheDir: dir };
  const cached = checkpointPath(spec);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.dirname(cached), { recursive: true });
  writeFileSync(cached, readFileSync(file).subarray(0, 100));
  await assert.rejects(loadOrTrainSimulator({ ...spec, workers: 0, log: () => {} }), (e: Error) => e instanceof CheckpointError && /retrain/.test(e.message));
});
