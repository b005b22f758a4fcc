/**
 * Rows trained away from the paper's operating point are flagged (results/operating-point.ts):
 * reward weights other than an environment's paper weights, and an RL learning rate ten times or
 * more from the paper's, naming the official options the run also differs in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OFFICIAL_RL_OPTIONS, settingFlags } from '../results/operating-point.ts';
import type { ResultFile } from '../results/schema.ts';

const result = (envId: string, weights: object, agentConfig: object) =>
  ({ env: { id: envId, config: { weights } }, agent: { config: agentConfig } }) as unknown as ResultFile;
const paperWeights = { ioi: 1, ior: 1, ctr: 0.1 };
const defaults = {
  lr: 1e-3,
  warmup: 0,
  emptyPaths: 'train',
  baseline: 'leave-one-out',
  clipNorm: 0,
  weightDecay: 0.01,
  groupSize: 16,
  casesPerBatch: 16,
  beta: 0.01,
  centeringWindow: 'first-epoch',
};

test("the project's default RL config on steam-v0 is flagged far from the paper, with the official options it differs in", () => {
  const f = settingFlags(result('steam-v0', paperWeights, { rl: defaults }));
  assert.deepEqual(
    f.map((x) => x.rule),
    ['far-from-paper'],
  );
  assert.match(f[0].message, /lr 1e-3, 100× the paper's 1e-5 on steam-v0/);
  for (const k of ['warmup', 'emptyPaths', 'baseline', 'clipNorm', 'weightDecay', 'centeringWindow']) assert.match(f[0].message, new RegExp(`${k} `));
  assert.doesNotMatch(f[0].message, /groupSize/);
});

test('the paper preset is not flagged; a tenfold smaller lr is; weights other than the paper weights are; non-RL and synthetic rows never', () => {
  assert.deepEqual(settingFlags(result('steam-v0', paperWeights, { rl: { ...OFFICIAL_RL_OPTIONS, lr: 1e-5 } })), []);
  assert.deepEqual(settingFlags(result('ml-1m-v0', { ioi: 1, ior: 1, ctr: 1 }, { rl: { ...OFFICIAL_RL_OPTIONS, lr: 3e-4 } })), [], 'within 10x');
  assert.equal(settingFlags(result('books-v0', { ioi: 1, ior: 1, ctr: 1 }, { rl: { ...OFFICIAL_RL_OPTIONS, lr: 5e-5 } }))[0].rule, 'far-from-paper');
  const w = settingFlags(result('steam-v0', { ioi: 1, ior: 1, ctr: 1 }, { pathLength: 3 }));
  assert.deepEqual(
    w.map((x) => x.rule),
    ['weights-not-paper'],
  );
  assert.match(w[0].message, /ctr 1 \(paper 0\.1\)/);
  assert.deepEqual(settingFlags(result('synthetic-v0', { ioi: 1, ior: 1, ctr: 1 }, { rl: defaults })), []);
});
