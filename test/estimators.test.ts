/**
 * Hand-computed examples for every estimator in agents/estimators.ts: the STOP term, inactive
 * positions, groups of mixed lengths, interleaved groups, centring statistics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CenteringStats,
  ESTIMATORS,
  estimateAdvantages,
  grpo,
  numTerms,
  pathReturn,
  positionAdvantages,
  prorlAdvantages,
  prorlNoPsae,
  prorlNoSrc,
  reinforce,
  reinforceBaseline,
  stepwiseCentering,
  type Advantages,
  type Rollout,
} from '../agents/estimators.ts';

const ro = (group: number, rewards: number[], stopped: boolean): Rollout => ({
  group,
  rewards: Float64Array.from(rewards),
  stopped,
});

/*
 * The batch used throughout (terms: items at 0..L-1, STOP at L if stopped):
 *   group 0: a = [1, 2] + STOP   (3 terms, R = 3)
 *            b = [3] + STOP      (2 terms, R = 3)
 *            c = STOP at 0       (1 term,  R = 0)
 *   group 1: d = [0.5, 0.5, 0.5] truncated at L_max = 3, no STOP (3 terms, R = 1.5)
 *            e = [1] + STOP      (2 terms, R = 1)
 */
const batch = (): Rollout[] => [ro(0, [1, 2], true), ro(0, [3], true), ro(0, [], true), ro(1, [0.5, 0.5, 0.5], false), ro(1, [1], true)];

function eq(actual: Advantages, expected: number[][], what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: number of rollouts`);
  actual.forEach((a, i) => {
    assert.equal(a.length, expected[i].length, `${what}: rollout ${i} has ${a.length} terms`);
    a.forEach((x, t) => assert.ok(Math.abs(x - expected[i][t]) < 1e-12, `${what}: rollout ${i} term ${t}: ${x} ≠ ${expected[i][t]}`));
  });
}

test('numTerms and pathReturn', () => {
  const b = batch();
  assert.deepEqual(b.map(numTerms), [3, 2, 1, 3, 2]);
  assert.deepEqual(b.map(pathReturn), [3, 3, 0, 1.5, 1]);
});

test('reinforce: every term, STOP included, weighted by R', () => {
  eq(reinforce(batch()), [[3, 3, 3], [3, 3], [0], [1.5, 1.5, 1.5], [1, 1]]);
});

test('reinforceBaseline: batch mean, group mean, leave-one-out', () => {
  // Batch mean of R = 8.5 / 5 = 1.7.
  eq(reinforceBaseline(batch()), [[1.3, 1.3, 1.3], [1.3, 1.3], [-1.7], [-0.2, -0.2, -0.2], [-0.7, -0.7]], 'batch');
  // Group means 2 and 1.25.
  eq(reinforceBaseline(batch(), { scope: 'group' }), [[1, 1, 1], [1, 1], [-2], [0.25, 0.25, 0.25], [-0.25, -0.25]], 'group');
  // Leave-one-out within groups: a: 3 - (3+0)/2, c: 0 - (3+3)/2, d: 1.5 - 1, e: 1 - 1.5.
  eq(reinforceBaseline(batch(), { scope: 'group', leaveOneOut: true }), [[1.5, 1.5, 1.5], [1.5, 1.5], [-3], [0.5, 0.5, 0.5], [-0.5, -0.5]], 'group loo');
  // A batch of one with leave-one-out: no other rollout, baseline 0.
  eq(reinforceBaseline([ro(0, [2], true)], { leaveOneOut: true }), [[2, 2]]);
});

test('grpo: (R - mean_g) / (std_g + eps), sample or population std', () => {
  // Group 0: R = [3, 3, 0], mean 2, deviations [1, 1, -2]: sample var 3, population var 2.
  // Group 1: R = [1.5, 1], mean 1.25, deviations ±0.25: sample std √0.125, population std 0.25.
  const s3 = Math.sqrt(3);
  const s1 = Math.sqrt(0.125);
  eq(grpo(batch(), { eps: 0 }), [[1 / s3, 1 / s3, 1 / s3], [1 / s3, 1 / s3], [-2 / s3], [0.25 / s1, 0.25 / s1, 0.25 / s1], [-0.25 / s1, -0.25 / s1]], 'sample');
  const s2 = Math.sqrt(2);
  eq(grpo(batch(), { eps: 0, std: 'population' }), [[1 / s2, 1 / s2, 1 / s2], [1 / s2, 1 / s2], [-2 / s2], [1, 1, 1], [-1, -1]], 'population');
  // Default eps = 1e-4; a group of identical returns or of one rollout gets 0.
  eq(grpo([ro(0, [1], true), ro(0, [1], false), ro(1, [5], true)]), [[0, 0], [0], [0, 0]], 'degenerate');
});

test('positionAdvantages: reward-to-go, STOP term, inactive positions, mixed lengths', () => {
  // Reward-to-go; the STOP term gets G_L = 0.
  eq(positionAdvantages(batch(), { baseline: 'none' }), [[3, 2, 0], [3, 0], [0], [1.5, 1, 0.5], [1, 0]], 'none');
  // Group 0, position 0: all three active, G = (3, 3, 0).  Position 1: a (G=2) and b's STOP (0).
  //   Position 2: a's STOP only.  Group 1, position 0: d (1.5), e (1); position 1: d (1), e's
  //   STOP (0); position 2: d only (0.5). c is inactive after 0, b after 1, e after 1.
  // Leave-one-out:
  //   a: [3 - (3+0)/2, 2 - 0, 0 - 0(no other)] = [1.5, 2, 0]
  //   b: [3 - (3+0)/2, 0 - 2]                  = [1.5, -2]
  //   c: [0 - (3+3)/2]                         = [-3]
  //   d: [1.5 - 1, 1 - 0, 0.5 - 0(no other)]   = [0.5, 1, 0.5]
  //   e: [1 - 1.5, 0 - 1]                      = [-0.5, -1]
  eq(positionAdvantages(batch(), { baseline: 'leave-one-out' }), [[1.5, 2, 0], [1.5, -2], [-3], [0.5, 1, 0.5], [-0.5, -1]], 'loo');
  eq(positionAdvantages(batch()), [[1.5, 2, 0], [1.5, -2], [-3], [0.5, 1, 0.5], [-0.5, -1]], 'default is loo');
  // Group mean including itself = (n_t - 1)/n_t × leave-one-out:
  //   a: [1, 1, 0]; b: [1, -1]; c: [-2]; d: [0.25, 0.5, 0]; e: [-0.25, -0.5]
  eq(positionAdvantages(batch(), { baseline: 'group-mean' }), [[1, 1, 0], [1, -1], [-2], [0.25, 0.5, 0], [-0.25, -0.5]], 'group-mean');
});

test('positionAdvantages: groups may be interleaved in the batch; results follow the input order', () => {
  const b = batch();
  const order = [3, 0, 4, 2, 1];
  const shuffled = order.map((i) => b[i]);
  const A = positionAdvantages(b, { baseline: 'leave-one-out' });
  const B = positionAdvantages(shuffled, { baseline: 'leave-one-out' });
  order.forEach((i, k) => assert.deepEqual([...B[k]], [...A[i]]));
});

test('stepwiseCentering plain: r - μ; rollouts otherwise unchanged, inputs untouched', () => {
  const b = batch();
  const c = stepwiseCentering(b, { mode: 'plain', mu: 1 });
  assert.deepEqual(
    c.map((r) => [...r.rewards]),
    [[0, 1], [2], [], [-0.5, -0.5, -0.5], [0]],
  );
  assert.deepEqual(
    c.map((r) => [r.group, r.stopped]),
    b.map((r) => [r.group, r.stopped]),
  );
  assert.deepEqual([...b[0].rewards], [1, 2], 'input not modified');
});

test('stepwiseCentering z-score: per-component z-score, std floored at 0.1, CTR / L_max, fused', () => {
  const r: Rollout = {
    group: 0,
    rewards: Float64Array.from([99, 99]), // ignored in z-score mode
    components: { ioi: Float64Array.from([1, 3]), ior: Float64Array.from([0, 2]), ctr: Float64Array.from([0.5, 0.7]) },
    stopped: true,
  };
  const [c] = stepwiseCentering([r], {
    mode: 'zscore',
    mean: { ioi: 1, ior: 1, ctr: 0.6 },
    std: { ioi: 2, ior: 0.05, ctr: 0.1 }, // ior's std is floored to 0.1
    weights: { ioi: 1, ior: 0.5, ctr: 2 },
    lMax: 10,
  });
  // t=0: 1·0/2 + 0.5·(-1)/0.1 + 2·(-0.1)/(0.1·10) = -5.2;  t=1: 1·2/2 + 0.5·1/0.1 + 2·0.1/1 = 6.2
  assert.ok(Math.abs(c.rewards[0] + 5.2) < 1e-12 && Math.abs(c.rewards[1] - 6.2) < 1e-12, `${[...c.rewards]}`);
  assert.throws(
    () =>
      stepwiseCentering([ro(0, [1], true)], {
        mode: 'zscore',
        mean: { ioi: 0, ior: 0, ctr: 0 },
        std: { ioi: 1, ior: 1, ctr: 1 },
        weights: { ioi: 1, ior: 1, ctr: 1 },
        lMax: 10,
      }),
    /components/,
  );
});

test('prorlAdvantages = SRC then PSAE; ablations', () => {
  // Group 0 centred with μ = 1: a = [0, 1], b = [2], c = []; G: a [1, 1, 0], b [2, 0], c [0].
  //   leave-one-out: a [1 - (2+0)/2, 1 - 0, 0] = [0, 1, 0]; b [2 - (1+0)/2, 0 - 1] = [1.5, -1]; c [0 - 1.5] = [-1.5]
  const g0 = batch().slice(0, 3);
  eq(prorlAdvantages(g0, { mode: 'plain', mu: 1 }), [[0, 1, 0], [1.5, -1], [-1.5]], 'prorl');
  eq(ESTIMATORS.prorl(g0, { centering: { mode: 'plain', mu: 1 } }), [[0, 1, 0], [1.5, -1], [-1.5]], 'registry prorl');
  // No SRC: PSAE on raw rewards.
  eq(prorlNoSrc(g0), [[1.5, 2, 0], [1.5, -2], [-3]], 'prorl-no-src');
  // No PSAE: centred returns R̃ = (1, 2, 0), path-level leave-one-out group baseline.
  eq(prorlNoPsae(g0, { mode: 'plain', mu: 1 }), [[0, 0, 0], [1.5, 1.5], [-1.5]], 'prorl-no-psae');
  eq(prorlNoPsae(g0, { mode: 'plain', mu: 1 }, { baseline: 'group-mean' }), [[0, 0, 0], [1, 1], [-1]], 'prorl-no-psae group-mean');
  eq(prorlNoPsae(g0, { mode: 'plain', mu: 1 }, { baseline: 'none' }), [[1, 1, 1], [2, 2], [0]], 'prorl-no-psae none');
});

test('the one entry point (estimateAdvantages, what the trainer runs): every name, options passed through, centring required where needed', () => {
  const b = batch();
  assert.deepEqual(Object.keys(ESTIMATORS).sort(), ['grpo', 'prorl', 'prorl-no-psae', 'prorl-no-src', 'reinforce', 'reinforce-baseline']);
  eq(ESTIMATORS.reinforce(b), [[3, 3, 3], [3, 3], [0], [1.5, 1.5, 1.5], [1, 1]]);
  // reinforce-baseline: the group's leave-one-out mean by default, as the trainer composes it.
  eq(
    ESTIMATORS['reinforce-baseline'](b),
    reinforceBaseline(b, { scope: 'group', leaveOneOut: true }).map((a) => [...a]),
  );
  eq(
    estimateAdvantages('reinforce-baseline', b, { baseline: 'group-mean' }),
    reinforceBaseline(b, { scope: 'group' }).map((a) => [...a]),
  );
  // The KL penalty is subtracted from the centred rewards before the advantages.
  const logRatio = b.map((r) => Float64Array.from(r.rewards, () => 2));
  eq(
    estimateAdvantages('prorl', b, { centering: { mode: 'plain', mu: 1 }, klPenalty: { beta: 0.5, logRatio } }),
    prorlAdvantages(b, { mode: 'plain', mu: 2 }).map((a) => [...a]),
  );
  eq(
    ESTIMATORS.grpo(b, { grpo: { eps: 0 } }),
    grpo(b, { eps: 0 }).map((a) => [...a]),
  );
  eq(
    ESTIMATORS['prorl-no-src'](b, { baseline: 'group-mean' }),
    positionAdvantages(b, { baseline: 'group-mean' }).map((a) => [...a]),
  );
  assert.throws(() => ESTIMATORS.prorl(b), /centering/);
  assert.throws(() => ESTIMATORS['prorl-no-psae'](b), /centering/);
});

test('input checks: non-finite rewards, component lengths', () => {
  assert.throws(() => reinforce([ro(0, [1, NaN], true)]), /reward 1/);
  const bad: Rollout = { ...ro(0, [1, 2], true), components: { ioi: new Float64Array(2), ior: new Float64Array(1), ctr: new Float64Array(2) } };
  assert.throws(() => positionAdvantages([bad]), /components.ior/);
});

test('CenteringStats: accumulates all steps of the first epoch, then freezes; running mode never does', () => {
  const withComps = (group: number, ioi: number[], ior: number[], ctr: number[]): Rollout => ({
    group,
    rewards: Float64Array.from(ioi, (x, t) => x + ior[t] + ctr[t]),
    components: { ioi: Float64Array.from(ioi), ior: Float64Array.from(ior), ctr: Float64Array.from(ctr) },
    stopped: true,
  });
  const b1 = [withComps(0, [1, 2], [0, 0], [0.5, 0.5]), withComps(0, [3], [0], [0.5])];
  const b2 = [withComps(1, [4, 5, 6], [10, 0, 0], [0.5, 0.5, 0.5]), withComps(1, [], [], [])];
  const s = new CenteringStats();
  assert.equal(s.frozen, false);
  // Before two observations the std is the floor.
  assert.deepEqual(s.std(), { ioi: 0.1, ior: 0.1, ctr: 0.1 });
  s.observe(b1);
  s.observe(b2);
  // ioi over the 6 steps: 1..6, mean 3.5, sample var 17.5/5 = 3.5.
  // ior: [0,0,0,10,0,0], mean 5/3, sample var (5·(5/3)² + (25/3)²)/5 = 50/3.
  // ctr: all 0.5, std 0 -> floored to 0.1.
  assert.equal(s.count, 6);
  const m = s.mean();
  const sd = s.std();
  assert.ok(Math.abs(m.ioi - 3.5) < 1e-12 && Math.abs(sd.ioi - Math.sqrt(3.5)) < 1e-12);
  assert.ok(Math.abs(m.ior - 5 / 3) < 1e-12 && Math.abs(sd.ior - Math.sqrt(50 / 3)) < 1e-12);
  assert.ok(Math.abs(m.ctr - 0.5) < 1e-12 && sd.ctr === 0.1);
  // μ of the fused reward: sums (1.5, 2.5, 3.5, 14.5, 5.5, 6.5) / 6.
  assert.ok(Math.abs(s.meanReward() - 34 / 6) < 1e-12);
  assert.deepEqual(s.plainSpec(), { mode: 'plain', mu: s.meanReward() });
  // Per position: t = 0 holds steps (1, 3, 4) of ioi, t = 1 (2, 5), t = 2 (6); fused (1.5, 3.5, 14.5), (2.5, 5.5), (6.5).
  assert.deepEqual(
    s.meanByPosition().map((x) => x.ioi),
    [8 / 3, 3.5, 6],
  );
  assert.deepEqual(
    s.meanByPosition().map((x) => x.ior),
    [10 / 3, 0, 0],
  );
  assert.deepEqual(s.plainSpec(true), { mode: 'plain', mu: [19.5 / 3, 4, 6.5] });
  const zp = s.zscoreSpec({ ioi: 1, ior: 1, ctr: 1 }, 10, true);
  assert.ok(zp.mode === 'zscore' && Array.isArray(zp.mean) && zp.mean.length === 3 && zp.std.ioi === s.std().ioi, 'per-position means, pooled std');
  const spec = s.zscoreSpec({ ioi: 1, ior: 1, ctr: 1 }, 10);
  assert.equal(spec.mode, 'zscore');
  s.endEpoch();
  assert.equal(s.frozen, true);
  s.observe([withComps(2, [100], [100], [100])]);
  assert.equal(s.count, 6, 'frozen: observe is a no-op');
  assert.deepEqual(s.zscoreSpec({ ioi: 1, ior: 1, ctr: 1 }, 10), spec);
  // Same statistics whatever the batching (parallel merge).
  const one = new CenteringStats();
  one.observe([...b1, ...b2]);
  assert.ok(Math.abs(one.std().ior - sd.ior) < 1e-12);
  const running = new CenteringStats({ schedule: 'running', minStd: 0.5 });
  running.observe(b1);
  running.endEpoch();
  assert.equal(running.frozen, false);
  running.observe(b2);
  assert.equal(running.count, 6);
  assert.equal(running.std().ctr, 0.5, 'custom floor');
});
