/**
 * Resumable simulator training: a training killed after an epoch (SIGKILL of a child process, so
 * nothing is cleaned up) resumes from the state file of its last epoch and ends with exactly the
 * weights, history and best epoch of an uninterrupted run; so does one stopped by an exception, for
 * both architectures. A state written for other settings is refused. Live tensors do not grow
 * from epoch to epoch.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBackend, tf } from '../simulators/runtime.ts';
import { trainSimulator, type TrainOptions, type TrainResult } from '../simulators/train.ts';
import { paramValues } from '../simulators/model.ts';
import { successorDataset } from './support/successor-dataset.ts';
import { CheckpointError } from '../simulators/checkpoint.ts';
import type { ModelConfig, ModelKind, TrainConfig } from '../simulators/config.ts';

const datasetOptions = { numItems: 30, users: 80, length: 14, follow: 0.8 };
const dataset = successorDataset(datasetOptions);
// Patience = maxEpochs: every run goes the full distance, so a resume has epochs left to do.
const train: Partial<TrainConfig> = { learningRate: 5e-3, batchSize: 16, maxEpochs: 5, patience: 5 };
const configs: Record<ModelKind, Partial<ModelConfig>> = {
  sasrec: { hidden: 8, blocks: 1, heads: 2, feedForward: 16, dropout: 0.3, maxLen: 10 },
  gru4rec: { embedding: 8, hidden: 12, dropout: 0.3, maxLen: 10 },
};
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sim-train-child.ts');
let dir = '';

before(async () => {
  await ensureBackend({ quiet: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'sim-resume-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function options(model: ModelKind, statePath?: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return { dataset, model, seed: 1, config: configs[model], train, progress: false, log: () => {}, ...(statePath ? { statePath } : {}), ...extra };
}

async function assertSameTraining(resumed: TrainResult, reference: TrainResult): Promise<void> {
  const a = paramValues(resumed.simulator.model.params);
  const b = paramValues(reference.simulator.model.params);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, values] of a) assert.deepEqual(values, b.get(name), `parameter ${name} differs after resuming`);
  const strip = (h: TrainResult['description']['metrics']['history']) => h.map(({ seconds: _s, ...rest }) => rest);
  assert.deepEqual(strip(resumed.description.metrics.history), strip(reference.description.metrics.history));
  assert.equal(resumed.description.metrics.bestEpoch, reference.description.metrics.bestEpoch);
  assert.deepEqual(resumed.description.metrics.test, reference.description.metrics.test);
}

test('a killed training (SIGKILL after epoch 2) resumes from its state and ends with the weights of an uninterrupted run', async () => {
  const tensors: number[] = [];
  const reference = await trainSimulator(options('sasrec', undefined, { onEpoch: () => void tensors.push(tf.memory().numTensors) }));
  assert.ok(
    tensors.every((n) => n === tensors[0]),
    `live tensors per epoch do not grow: ${tensors.join(', ')}`,
  );
  const statePath = path.join(dir, 'killed.simstate');
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', child, JSON.stringify({ dataset: datasetOptions, model: 'sasrec', config: configs.sasrec, train, statePath, hangAfter: 2 })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('EPOCH 2')) resolve();
    });
    proc.on('exit', (code) => reject(new Error(`child exited (${code}) before epoch 2: ${out}`)));
  });
  proc.kill('SIGKILL');
  await new Promise((r) => proc.once('exit', r));
  assert.ok(!out.includes('FINISHED'));
  assert.ok(existsSync(statePath), 'the killed training left its state file');

  const lines: string[] = [];
  const resumed = await trainSimulator(options('sasrec', statePath, { log: (l) => lines.push(l) }));
  assert.ok(
    lines.some((l) => l.includes('resuming after epoch 2 of at most 5')),
    lines.join('\n'),
  );
  assert.equal(resumed.description.metrics.epochs, 5);
  await assertSameTraining(resumed, reference);
  resumed.simulator.dispose();
  reference.simulator.dispose();
});

for (const model of ['gru4rec', 'sasrec'] as const) {
  test(`${model}: a training stopped by an error after epoch 3 resumes to the same weights`, async () => {
    const reference = await trainSimulator(options(model));
    const statePath = path.join(dir, `${model}-stopped.simstate`);
    await assert.rejects(
      trainSimulator(
        options(model, statePath, {
          onEpoch: (epoch) => {
            if (epoch === 3) throw new Error('stopped on purpose');
          },
        }),
      ),
      /stopped on purpose/,
    );
    const resumed = await trainSimulator(options(model, statePath));
    await assertSameTraining(resumed, reference);
    resumed.simulator.dispose();
    reference.simulator.dispose();
  });
}

test('a training state written for other settings is refused, naming what differs', async () => {
  const statePath = path.join(dir, 'other.simstate');
  await assert.rejects(
    trainSimulator(
      options('gru4rec', statePath, {
        onEpoch: () => {
          throw new Error('stop');
        },
      }),
    ),
    /stop/,
  );
  await assert.rejects(
    trainSimulator(options('gru4rec', statePath, { train: { ...train, learningRate: 1e-2 } })),
    (e: Error) => e instanceof CheckpointError && /another train/.test(e.message),
  );
});
