/**
 * What the simulators learn from: every dataset carries `simulatorSequences` (all real sequences,
 * whatever the split) and their temporal leave-one-out split (last item test, second-to-last
 * valid); the synthetic world's logs can be cut to a seeded share, nested across shares; the
 * per-dataset simulator defaults resolve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interactionCount, withSimulatorFraction } from '../data/dataset.ts';
import { leaveOneOut } from '../simulators/evaluate.ts';
import { MODEL_KINDS, SIMULATOR_DEFAULTS_BY_DATASET } from '../simulators/config.ts';
import { resolveConfigs } from '../simulators/train.ts';
import { generateSyntheticWorld } from '../data/synthetic.ts';

const world = generateSyntheticWorld({ numItems: 100, numUsers: 120, seed: 2 });

test('leave-one-out: last item test, second-to-last valid, the rest train; short sequences train only', () => {
  const split = leaveOneOut([
    [1, 2, 3, 4, 5],
    [6, 7, 8],
    [9, 10],
  ]);
  assert.deepEqual(split.train, [[1, 2, 3], [6], [9, 10]]);
  assert.deepEqual(split.valid.prefixes, [[1, 2, 3], [6]]);
  assert.deepEqual([...split.valid.targets], [4, 7]);
  assert.deepEqual(split.test.prefixes, [
    [1, 2, 3, 4],
    [6, 7],
  ]);
  assert.deepEqual([...split.test.targets], [5, 8]);
});

test("the synthetic world: the simulators see every user's sequence, agents the train users' only", () => {
  const ds = world.dataset;
  assert.equal(ds.simulatorSequences.length, 120);
  const all = [...ds.sequences.train, ...ds.sequences.valid, ...ds.sequences.test];
  assert.equal(ds.meta.simulatorInteractions, interactionCount(all));
  assert.ok(ds.meta.trainInteractions < ds.meta.simulatorInteractions);
  assert.match(ds.meta.simulatorData, /all 120 users/);
});

test('a share of the simulator data: seeded, nested across shares, recorded, and cached apart; agents see the same data', () => {
  const ds = world.dataset;
  assert.equal(withSimulatorFraction(ds, 1, 0), ds);
  const tenth = withSimulatorFraction(ds, 0.1, 0);
  const third = withSimulatorFraction(ds, 0.3, 0);
  assert.equal(tenth.simulatorSequences.length, 12);
  assert.equal(third.simulatorSequences.length, 36);
  for (const s of tenth.simulatorSequences) assert.ok(third.simulatorSequences.includes(s), 'the 10% share is inside the 30% share');
  assert.deepEqual(withSimulatorFraction(ds, 0.1, 0).simulatorSequences, tenth.simulatorSequences, 'seeded');
  assert.notDeepEqual(withSimulatorFraction(ds, 0.1, 1).simulatorSequences, tenth.simulatorSequences);
  assert.notEqual(tenth.meta.hash, ds.meta.hash);
  assert.equal(tenth.meta.simulatorInteractions, interactionCount(tenth.simulatorSequences));
  assert.match(tenth.meta.simulatorData, /0\.1 share/);
  assert.equal(tenth.cases, ds.cases);
  assert.equal(tenth.sequences, ds.sequences);
  assert.throws(() => withSimulatorFraction(ds, 0, 0), /\(0, 1\]/);
});

test('per-dataset simulator defaults: every entry resolves to a valid config, over the schema-wide defaults and under explicit overrides', () => {
  for (const [name, byModel] of Object.entries(SIMULATOR_DEFAULTS_BY_DATASET)) {
    for (const model of MODEL_KINDS) {
      const tuned = byModel[model];
      const { config, train } = resolveConfigs(model, undefined, undefined, name);
      for (const [k, v] of Object.entries(tuned?.config ?? {})) assert.equal((config as Record<string, unknown>)[k], v, `${name} ${model} config.${k}`);
      for (const [k, v] of Object.entries(tuned?.train ?? {})) assert.equal((train as Record<string, unknown>)[k], v, `${name} ${model} train.${k}`);
      assert.equal(resolveConfigs(model, undefined, { learningRate: 0.5 }, name).train.learningRate, 0.5, 'an explicit override wins');
    }
  }
  assert.deepEqual(resolveConfigs('sasrec', undefined, undefined, 'no-such-dataset'), resolveConfigs('sasrec'));
});
