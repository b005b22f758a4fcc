/**
 * A real learning check: on data with strong sequential structure (a hidden successor walk), a
 * briefly trained simulator of each architecture must beat popularity on held-out HR@10 by a wide
 * margin. Also: loadOrTrainSimulator trains once, then loads the cached checkpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBackend } from '../simulators/runtime.ts';
import { checkpointPath, evaluateSimulator, loadOrTrainSimulator } from '../simulators/index.ts';
import { successorDataset } from './support/successor-dataset.ts';
import type { ModelConfig, TrainConfig } from '../simulators/config.ts';
import { existsSync } from 'node:fs';

const dataset = successorDataset({ numItems: 40, users: 300, length: 20, follow: 0.8 });
const train: Partial<TrainConfig> = { learningRate: 1e-2, batchSize: 64, maxEpochs: 8, patience: 3 };
const configs: Record<'sasrec' | 'gru4rec', Partial<ModelConfig>> = {
  sasrec: { hidden: 16, blocks: 1, heads: 2, feedForward: 32, dropout: 0.1, maxLen: 20 },
  gru4rec: { embedding: 16, hidden: 24, dropout: 0.1, maxLen: 20 },
};
let cacheDir = '';

before(async () => {
  await ensureBackend({ quiet: true });
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'sim-train-'));
});
after(() => rmSync(cacheDir, { recursive: true, force: true }));

for (const model of ['gru4rec', 'sasrec'] as const) {
  test(`${model} learns a successor structure: held-out HR@10 far above popularity; the second call loads the checkpoint`, async () => {
    const lines: string[] = [];
    const spec = { dataset, model, seed: 1, config: configs[model], train, cacheDir, progress: false, workers: 0, log: (l: string) => lines.push(l) };
    const simulator = await loadOrTrainSimulator(spec);
    assert.ok(existsSync(checkpointPath(spec)));
    assert.ok(lines.some((l) => l.includes('training it now')));
    const report = evaluateSimulator({ simulator, dataset, split: 'test' });
    // A successor walk with follow = 0.8 makes the next item ~80% predictable; popularity is ~25% at 10 of 40.
    assert.ok(report.simulator.hr10 > report.popularity.hr10 + 0.3, `HR@10 ${report.simulator.hr10} vs popularity ${report.popularity.hr10}`);
    assert.ok(report.simulator.ndcg10 > report.popularity.ndcg10 + 0.2, `NDCG@10 ${report.simulator.ndcg10} vs popularity ${report.popularity.ndcg10}`);
    const reloadLines: string[] = [];
    const again = await loadOrTrainSimulator({ ...spec, log: (l: string) => reloadLines.push(l) });
    assert.ok(reloadLines.some((l) => l.includes('loaded')) && !reloadLines.some((l) => l.includes('training')));
    assert.deepEqual(evaluateSimulator({ simulator: again, dataset, split: 'test' }), report);
    await simulator.dispose();
    await again.dispose();
  });
}

test('the evaluator must be trained independently of the reward model', async () => {
  const { loadSimulatorPair } = await import('../simulators/index.ts');
  await assert.rejects(
    loadSimulatorPair({ dataset, reward: { model: 'sasrec', seed: 2 }, evaluator: { model: 'sasrec', seed: 2 }, cacheDir }),
    /independently/,
  );
});
