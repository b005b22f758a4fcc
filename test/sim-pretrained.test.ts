/**
 * Shipped pre-trained simulators (simulators/pretrained.ts): the package's manifest matches its
 * files; a shipped checkpoint is used, verified and cached when the cache has none and the data and
 * settings match; otherwise (other data, other settings, a changed file, weights that do not
 * reproduce their recorded test metrics) the simulator is trained as before, with the reason said.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBackend } from '../simulators/runtime.ts';
import { successorDataset } from './support/successor-dataset.ts';
import { encodeCheckpoint, readCheckpoint } from '../simulators/checkpoint.ts';
import { checkpointPath, loadOrTrainSimulator, type LearnedSimulator } from '../simulators/index.ts';
import { PRETRAINED_DIR, readPretrainedManifest, shipCheckpoint } from '../simulators/pretrained.ts';
import type { ModelConfig, TrainConfig } from '../simulators/config.ts';

const dataset = successorDataset({ numItems: 30, users: 80, length: 14, follow: 0.8 });
const config: Partial<ModelConfig> = { embedding: 8, hidden: 12, dropout: 0.3, maxLen: 10 };
const train: Partial<TrainConfig> = { learningRate: 5e-3, batchSize: 16, maxEpochs: 2, patience: 2 };
let dir = '';

before(async () => {
  await ensureBackend({ quiet: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'sim-pretrained-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function scoresOf(sim: LearnedSimulator): number[] {
  const batch = sim.open([
    [1, 2, 3],
    [7, 8],
  ]);
  const s = Array.from(batch.scores());
  batch.dispose();
  return s;
}

/** Trains the simulator into cache `trained`, ships it into a fresh folder; returns the folder. */
async function shipped(name: string): Promise<{ folder: string; original: number[] }> {
  const cache = path.join(dir, `${name}-trained`);
  const sim = await loadOrTrainSimulator({
    dataset,
    model: 'gru4rec',
    seed: 1,
    config,
    train,
    cacheDir: cache,
    workers: 0,
    log: () => {},
    pretrainedDir: null,
  });
  const original = scoresOf(sim);
  await sim.dispose();
  const folder = path.join(dir, `${name}-shipped`);
  shipCheckpoint(checkpointPath({ dataset, model: 'gru4rec', seed: 1, config, train, cacheDir: cache }), folder);
  return { folder, original };
}

async function load(folder: string, cache: string, opts: { train?: Partial<TrainConfig>; data?: typeof dataset } = {}) {
  const lines: string[] = [];
  const sim = await loadOrTrainSimulator({
    dataset: opts.data ?? dataset,
    model: 'gru4rec',
    seed: 1,
    config,
    train: opts.train ?? train,
    cacheDir: cache,
    workers: 0,
    log: (l) => lines.push(l),
    pretrainedDir: folder,
  });
  return { sim, log: lines.join('\n') };
}

test("the package's manifest lists its checkpoint files with their sizes and sha256, and their headers agree", () => {
  const manifest = readPretrainedManifest();
  for (const c of manifest.checkpoints) {
    const file = path.join(PRETRAINED_DIR, c.file);
    assert.ok(existsSync(file), `${c.file} is shipped`);
    assert.equal(statSync(file).size, c.bytes, c.file);
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), c.sha256, c.file);
    const { header } = readCheckpoint(file, { datasetName: c.dataset, datasetHash: c.datasetHash, model: c.model });
    assert.equal(header.seed, c.seed);
    assert.equal(header.metrics.test.hr10, c.testHr10);
    assert.ok(header.metrics.versusPopularity.clearlyBetter, `${c.file} is clearly better than popularity`);
  }
});

test('with an empty cache, a matching shipped checkpoint is verified, used without training and cached', async () => {
  const { folder, original } = await shipped('match');
  const cache = path.join(dir, 'match-cache');
  const { sim, log } = await load(folder, cache);
  assert.match(log, /loaded the shipped pre-trained checkpoint .* recomputed here, .* recorded at training/);
  assert.doesNotMatch(log, /training it now/);
  assert.deepEqual(scoresOf(sim), original, 'the same weights');
  await sim.dispose();
  const cached = checkpointPath({ dataset, model: 'gru4rec', seed: 1, config, train, cacheDir: cache });
  assert.ok(existsSync(cached), 'copied into the cache');
  const again = await load(folder, cache);
  assert.match(again.log, /loaded .*match-cache/, 'the next run loads the cached copy');
  await again.sim.dispose();
});

test('other settings or other data find no shipped checkpoint and train', async () => {
  const { folder } = await shipped('other');
  const a = await load(folder, path.join(dir, 'other-cache-a'), { train: { ...train, learningRate: 4e-3 } });
  assert.match(a.log, /training it now/);
  await a.sim.dispose();
  const b = await load(folder, path.join(dir, 'other-cache-b'), { data: successorDataset({ numItems: 30, users: 80, length: 14, follow: 0.8, seed: 5 }) });
  assert.match(b.log, /training it now/);
  await b.sim.dispose();
});

test('a changed shipped file is refused by its checksum, and the simulator is trained', async () => {
  const { folder } = await shipped('changed');
  const manifest = readPretrainedManifest(folder);
  const file = path.join(folder, manifest.checkpoints[0].file);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(file, bytes);
  const { sim, log } = await load(folder, path.join(dir, 'changed-cache'));
  assert.match(log, /shipped pre-trained checkpoint is not used: .*sha256 differs from the manifest's/);
  assert.match(log, /training it now/);
  await sim.dispose();
});

test('weights that do not reproduce their recorded test metrics are refused, and the simulator is trained', async () => {
  const { folder } = await shipped('metrics');
  const manifest = readPretrainedManifest(folder);
  const file = path.join(folder, manifest.checkpoints[0].file);
  const { header, values } = readCheckpoint(file);
  // A consistent file (checksums good) whose recorded test HR@10 is not what its weights give.
  const { format: _f, version: _v, tensors, payloadBytes: _b, payloadSha256: _s, ...description } = header;
  const recorded = { ...description, metrics: { ...description.metrics, test: { ...description.metrics.test, hr10: description.metrics.test.hr10 + 0.1 } } };
  const entries = new Map(tensors.map((t) => [t.name, { shape: t.shape, values: values.get(t.name)! }]));
  const forged = path.join(dir, manifest.checkpoints[0].file);
  writeFileSync(forged, encodeCheckpoint(recorded, entries));
  shipCheckpoint(forged, folder);
  const { sim, log } = await load(folder, path.join(dir, 'metrics-cache'));
  assert.match(log, /shipped pre-trained checkpoint .* is not used: test HR@10 .* recomputed here, .* recorded at training \(tolerance 0.002\)/);
  assert.match(log, /training it now/);
  await sim.dispose();
});
