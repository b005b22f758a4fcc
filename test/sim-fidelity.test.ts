/**
 * Step-level fidelity (simulators/fidelity.ts): a simulator compared with itself is perfect
 * (r = 1, MAE 0, ECE 0, KL 0) on both policies; a simulator of another world (other drift and
 * sharpness) is measurably worse; the summary statistics match hand-computed values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibration, pairedSummary, restrictedKl, stepFidelity } from '../simulators/fidelity.ts';
import { SyntheticExactSimulator } from '../simulators/synthetic-exact.ts';
import { generateSyntheticWorld } from '../data/synthetic.ts';
import { Rng } from '../core/rng.ts';

const small = { numItems: 200, numUsers: 300, seed: 3 };
const world = generateSyntheticWorld(small);
const exact = new SyntheticExactSimulator(world);
const cases = world.dataset.cases.test.slice(0, 40);

test('a simulator against itself: perfect on real and random paths', () => {
  for (const policy of ['real', 'random'] as const) {
    const f = stepFidelity({ learned: exact, exact, cases, policy, rng: Rng.stream(1, 'test') });
    assert.ok(f.steps > cases.length, `${policy}: ${f.steps} steps`);
    for (const k of ['ioi', 'ctr'] as const) {
      assert.ok(Math.abs(f[k].pearson - 1) < 1e-9, `${policy} ${k} r = ${f[k].pearson}`);
      assert.equal(f[k].mae, 0);
    }
    assert.equal(f.ior.mae, 0);
    assert.equal(f.calibration.ece, 0);
    assert.ok(Math.abs(f.ctrShifted.offset) < 1e-9 && f.ctrShifted.mae < 1e-9);
    assert.ok(f.kl.mean < 1e-9, `${policy} KL ${f.kl.mean}`);
  }
});

test('a simulator of another world (same items, other dynamics) is measurably less faithful', () => {
  const other = new SyntheticExactSimulator({ ...world, config: { ...world.config, drift: 0.1, sharpness: 2 } });
  const f = stepFidelity({ learned: other, exact, cases, policy: 'random', rng: Rng.stream(1, 'test') });
  assert.ok(f.ioi.pearson < 0.95 && f.ioi.mae > 0.01, JSON.stringify(f.ioi));
  assert.ok(f.ctr.mae > 0.01 && f.calibration.ece > 0.01, `${f.ctr.mae} ${f.calibration.ece}`);
  assert.ok(f.kl.mean > 0.05, `KL ${f.kl.mean}`);
});

test('a constant shift of every learned score: CTR off, the shifted CTR exact again; IoI, ranks and KL untouched', () => {
  const shiftedWorld = { ...world, itemBias: world.itemBias.map((b) => b - 2) };
  const shifted = new SyntheticExactSimulator(shiftedWorld);
  const f = stepFidelity({ learned: shifted, exact, cases, policy: 'real' });
  assert.ok(f.ctr.mae > 0.05 && f.calibration.ece > 0.05, `${f.ctr.mae} ${f.calibration.ece}`);
  assert.ok(Math.abs(f.ctrShifted.offset - 2) < 1e-3 && f.ctrShifted.mae < 1e-3, JSON.stringify(f.ctrShifted));
  assert.ok(f.ioi.mae < 1e-6 && f.ior.mae === 0 && f.kl.mean < 1e-9, `${f.ioi.mae} ${f.ior.mae} ${f.kl.mean}`);
});

test('summaries: Pearson r, MAE, reliability bins and the restricted KL on small hand-checked inputs', () => {
  const s = pairedSummary([1, 2, 3], [2, 4, 6]);
  assert.ok(Math.abs(s.pearson - 1) < 1e-12);
  assert.equal(s.mae, 2);
  assert.ok(Number.isNaN(pairedSummary([1, 1], [1, 2]).pearson), 'r is undefined for a constant series');
  const c = calibration([0.05, 0.15, 0.95, 0.97], [0.05, 0.35, 0.9, 0.9], 10);
  assert.equal(c.bins[0].count, 1);
  assert.equal(c.bins[9].count, 2);
  // ECE = (1/4)·0 + (1/4)·0.2 + (2/4)·|0.96 − 0.9| = 0.05 + 0.03
  assert.ok(Math.abs(c.ece - 0.08) < 1e-12, String(c.ece));
  // Two items left after excluding item 2: p = softmax(0, ln 3) = (1/4, 3/4), q = uniform.
  const kl = restrictedKl([0, Math.log(3), 50], [5, 5, -50], 0, 3, new Set([2]));
  assert.ok(Math.abs(kl - (0.25 * Math.log(0.5) + 0.75 * Math.log(1.5))) < 1e-12, String(kl));
});
