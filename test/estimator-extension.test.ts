/**
 * The estimator as the extension point: a definition (`defineEstimator`) runs through the same
 * composition as the built-ins (`estimateAdvantages`) and trains through `rlAgentFactory` on the
 * same policy and budget, bit for bit; the exact unbiasedness check users get
 * (agents/estimator-check.ts) tells unbiased estimators from biased ones and its reference
 * gradient agrees with finite differences; the SRC statistics serialise their moments and resume
 * exactly in the middle of their window.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkUnbiased, objectiveByEnumeration, tabularProblems } from '../agents/estimator-check.ts';
import { makeEnv, rlTestFolder } from './support/rl-fixture.ts';
import {
  BUILT_IN_ESTIMATORS,
  CenteringStats,
  defineEstimator,
  estimateAdvantages,
  ESTIMATOR_NAMES,
  numTerms,
  positionAdvantages,
  type Advantages,
  type EstimatorDefinition,
  type Rollout,
} from '../agents/estimators.ts';
import { rlAgentFactory, rlAgents, type RlAgent, type RlAgentConfig } from '../agents/rl.ts';
import { listAgents } from '../agents/registry.ts';
import { Rng } from '../core/rng.ts';

/**
 * Per-position ProRL written from scratch as a user would, without the package's PSAE: reward-to-go
 * G_t minus the leave-one-out mean of G_t over the group's other rollouts active at t.
 */
const myProrl = defineEstimator({
  name: 'my-prorl',
  description: 'ProRL re-implemented outside the trainer: SRC, then reward-to-go minus a leave-one-out per-position baseline',
  needs: { centering: true },
  advantages(rollouts) {
    const G = rollouts.map((r) => {
      const g = new Float64Array(numTerms(r));
      for (let t = r.rewards.length - 1, acc = 0; t >= 0; t--) g[t] = acc += r.rewards[t];
      return g;
    });
    return G.map((g, i) =>
      g.map((x, t) => {
        const others = G.filter((h, j) => j !== i && rollouts[j].group === rollouts[i].group && t < h.length);
        return others.length ? x - others.reduce((s, h) => s + h[t], 0) / others.length : x;
      }),
    );
  },
});

test('the registry: one definition per built-in, in the order of tables; the agents and their descriptions come from it', () => {
  assert.deepEqual(ESTIMATOR_NAMES, ['reinforce', 'reinforce-baseline', 'grpo', 'prorl', 'prorl-no-src', 'prorl-no-psae']);
  const agents = new Map(listAgents().map((a) => [a.name, a.description]));
  for (const d of BUILT_IN_ESTIMATORS) assert.equal(agents.get(d.name), d.description, d.name);
  assert.deepEqual(
    BUILT_IN_ESTIMATORS.filter((d) => d.needs.centering).map((d) => d.name),
    ['prorl', 'prorl-no-psae'],
  );
  assert.deepEqual(
    rlAgents.map((a) => a.name),
    ESTIMATOR_NAMES,
  );
});

test('defineEstimator and estimateAdvantages reject malformed estimators, naming the field or the rollout', () => {
  const ok = { name: 'x', description: 'd', needs: { centering: false }, advantages: (rs: readonly Rollout[]) => rs.map((r) => new Float64Array(numTerms(r))) };
  assert.throws(() => defineEstimator({ ...ok, name: 'My Estimator' }), /name "My Estimator" must be lower-case/);
  assert.throws(() => defineEstimator({ ...ok, description: ' ' }), /description must be a non-empty string/);
  assert.throws(() => defineEstimator({ ...ok, needs: {} as never }), /needs\.centering must be true or false/);
  assert.throws(() => defineEstimator({ ...ok, advantages: 3 as never }), /advantages must be a function/);
  const rs: Rollout[] = [
    { group: 0, rewards: Float64Array.of(1, 2), stopped: true },
    { group: 0, rewards: Float64Array.of(1), stopped: false },
  ];
  assert.equal(estimateAdvantages(defineEstimator(ok), rs).length, 2);
  const short = defineEstimator({ ...ok, advantages: (xs) => xs.map(() => new Float64Array(1)) });
  assert.throws(() => estimateAdvantages(short, rs), /rollout 0 has 3 log-prob terms, got 1 advantages/);
  const nan = defineEstimator({ ...ok, advantages: (xs) => xs.map((r) => new Float64Array(numTerms(r)).fill(NaN)) });
  assert.throws(() => estimateAdvantages(nan, rs), /rollout 0, term 0: advantage NaN/);
  assert.throws(() => estimateAdvantages(myProrl, rs), /needs opts\.centering/);
  assert.throws(() => rlAgentFactory('prorl-typo'), /unknown estimator 'prorl-typo'; built-in estimators: reinforce, /);
});

test("a user's definition composes exactly as the built-in it re-implements (SRC, KL penalty, then its advantages)", () => {
  const rng = Rng.stream(3, 'rollouts');
  const rs: Rollout[] = Array.from({ length: 12 }, (_, i) => {
    const L = rng.int(4);
    const c = {
      ioi: Float64Array.from({ length: L }, () => rng.normal()),
      ior: Float64Array.from({ length: L }, () => rng.normal()),
      ctr: Float64Array.from({ length: L }, () => rng.float()),
    };
    return {
      group: i % 3,
      rewards: Float64Array.from({ length: L }, (_, t) => c.ioi[t] + 0.5 * c.ior[t] + c.ctr[t]),
      components: c,
      stopped: rng.float() < 0.7,
    };
  });
  const logRatio = rs.map((r) => Float64Array.from(r.rewards, () => rng.normal()));
  const centering = new CenteringStats();
  centering.observe(rs);
  for (const spec of [centering.zscoreSpec({ ioi: 1, ior: 0.5, ctr: 1 }, 10), centering.plainSpec(true)]) {
    for (const klPenalty of [undefined, { beta: 0.1, logRatio }]) {
      const mine: Advantages = estimateAdvantages(myProrl, rs, { centering: spec, klPenalty });
      const builtIn = estimateAdvantages('prorl', rs, { centering: spec, klPenalty });
      assert.equal(mine.length, builtIn.length);
      mine.forEach((a, i) => a.forEach((x, t) => assert.ok(Math.abs(x - builtIn[i][t]) < 1e-12, `rollout ${i} term ${t}: ${x} vs ${builtIn[i][t]}`)));
    }
  }
});

test('the exact check: leave-one-out estimators are unbiased, the group-mean baseline, GRPO and a broken estimator are not', () => {
  for (const name of ['reinforce', 'reinforce-baseline', 'prorl', 'prorl-no-src', 'prorl-no-psae'] as const) {
    const r = checkUnbiased(name, { problems: 6 });
    assert.ok(r.unbiased, r.summary);
    assert.ok(
      r.problems.every((p) => p.gradientScale > 1e-3 && p.tuples >= 2),
      'problems with a gradient to compare',
    );
  }
  assert.ok(checkUnbiased(myProrl, { problems: 6 }).unbiased);
  // The check can fail: the paper's group mean includes the path itself (shrinks by (n−1)/n).
  const groupMean = checkUnbiased('prorl', { problems: 6, groupSizes: [2, 3], options: { baseline: 'group-mean' } });
  assert.ok(!groupMean.unbiased && groupMean.maxRelativeError > 0.05, groupMean.summary);
  assert.match(groupMean.summary, /^prorl: BIASED for ∇\(E\[R\] − 0\.3·E\[L\]\)/);
  assert.ok(!checkUnbiased('grpo', { problems: 6, groupSizes: [2, 3] }).unbiased);
  // PSAE without the STOP term (a plausible slip): its advantage set to 0.
  const noStop = defineEstimator({
    name: 'no-stop',
    description: 'PSAE with the STOP advantage dropped',
    needs: { centering: true },
    advantages: (rs, o) => positionAdvantages(rs, o).map((a, i) => (rs[i].stopped ? a.map((x, t) => (t === rs[i].rewards.length ? 0 : x)) : a)),
  });
  assert.ok(!checkUnbiased(noStop, { problems: 6 }).unbiased);
});

test("the check's reference gradient ∇(E[R] − μE[L]) agrees with central finite differences of the enumerated objective", () => {
  for (const p of tabularProblems(4, 1, [1])) {
    const { gradient } = objectiveByEnumeration(p, 0.3);
    const h = 1e-5;
    for (let i = 0; i < gradient.length; i++) {
      const fd = (objectiveByEnumeration(p, 0.3, { index: i, h }).value - objectiveByEnumeration(p, 0.3, { index: i, h: -h }).value) / (2 * h);
      assert.ok(Math.abs(fd - gradient[i]) < 1e-7, `problem ${JSON.stringify(p)}, θ[${i}]: finite difference ${fd}, exact ${gradient[i]}`);
    }
  }
});

test('CenteringStats: its state round-trips through JSON and continues bit for bit', () => {
  const rng = Rng.stream(5, 'stats');
  const batch = (): Rollout[] =>
    Array.from({ length: 6 }, () => {
      const L = 1 + rng.int(4);
      const c = {
        ioi: Float64Array.from({ length: L }, () => rng.normal()),
        ior: Float64Array.from({ length: L }, () => rng.normal()),
        ctr: Float64Array.from({ length: L }, () => rng.float()),
      };
      return { group: 0, rewards: Float64Array.from({ length: L }, (_, t) => c.ioi[t] + c.ctr[t]), components: c, stopped: true };
    });
  const [b1, b2] = [batch(), batch()];
  const a = new CenteringStats();
  a.observe(b1);
  const b = CenteringStats.fromState(JSON.parse(JSON.stringify(a.state())));
  a.observe(b2);
  b.observe(b2);
  assert.deepEqual(b.state(), a.state());
  assert.deepEqual(b.zscoreSpec({ ioi: 1, ior: 1, ctr: 1 }, 10, true), a.zscoreSpec({ ioi: 1, ior: 1, ctr: 1 }, 10, true));
  a.freeze();
  assert.equal(CenteringStats.fromState(a.state()).frozen, true);
});

// ---------------------------------------------------------------------------------------------
// Through the trainer
// ---------------------------------------------------------------------------------------------

// Four updates per epoch, two epochs: the SRC window (the first epoch) spans updates 1-4.
const RL = { groupSize: 4, casesPerBatch: 2, casesPerEpoch: 8, epochs: 2, lr: 3e-3, validCases: 0 };
const folder = rlTestFolder('estimator-extension');

async function agentOf(estimator: string | EstimatorDefinition, extra: Record<string, unknown> = {}): Promise<RlAgent> {
  // A partial config, as a suite entry gives it: create fills the schema's defaults.
  const config = { init: folder.initFile, policy: { dim: 16, itemPrior: 'none' }, ...extra, rl: { ...RL, ...((extra.rl as object) ?? {}) } };
  return (await rlAgentFactory(estimator).create(config as unknown as RlAgentConfig, { numItems: 60, seed: 1 })) as RlAgent;
}

test("a user's estimator trains through rlAgentFactory on the built-in's policy and budget: equal advantages, equal logs", async () => {
  const logs: Record<string, number>[][] = [];
  for (const e of ['prorl', myProrl] as const) {
    const agent = await agentOf(e, { rl: { baseline: 'leave-one-out' } });
    const log: Record<string, number>[] = [];
    await agent.train(makeEnv, {}, { rng: Rng.stream(2, 'agent'), callbacks: { onLog: (_s, v) => log.push(v) } });
    logs.push(log.filter((l) => 'return' in l));
    assert.equal(agent.name, typeof e === 'string' ? e : e.name);
    agent.dispose();
  }
  assert.equal(logs[0].length, 8);
  // The advantages agree to round-off (the user's sums run in another order), so the first update's
  // logs are equal; later updates may drift by round-off through the weights.
  for (const k of ['return', 'length', 'advMean', 'advStd', 'centeringMu']) {
    assert.ok(Math.abs(logs[0][0][k] - logs[1][0][k]) <= 1e-9 * Math.max(1, Math.abs(logs[0][0][k])), `${k}: ${logs[0][0][k]} vs ${logs[1][0][k]}`);
  }
  for (let u = 0; u < 8; u++)
    assert.ok(Math.abs(logs[0][u].return - logs[1][u].return) < 1e-6, `update ${u + 1}: return ${logs[0][u].return} vs ${logs[1][u].return}`);
});

test('a run killed inside the SRC window resumes exactly from the moments in its checkpoint (no rollouts stored)', async () => {
  const rng = () => Rng.stream(7, 'agent');
  const a = await agentOf(myProrl, { checkpoint: path.join(folder.dir, 'a.json'), checkpointEvery: 1 });
  await a.train(makeEnv, {}, { rng: rng() });
  const wa = a.net.params.snapshot();
  const b = await agentOf(myProrl, { checkpoint: path.join(folder.dir, 'b.json'), checkpointEvery: 1 });
  const kill = { onLog: (step: number) => assert.notEqual(step, 2, 'killed') };
  await assert.rejects(b.train(makeEnv, {}, { rng: rng(), callbacks: kill }), /killed/);
  b.dispose();
  const saved = JSON.parse(readFileSync(path.join(folder.dir, 'b.json'), 'utf8')) as { training: { estimator: string; state: Record<string, unknown> } };
  assert.equal(saved.training.estimator, 'my-prorl');
  assert.equal(saved.training.state.centeringBatches, undefined);
  const moments = saved.training.state.centering as { frozen: boolean; fused: { n: number } };
  assert.equal(moments.frozen, false, 'killed inside the window: the statistics were still accumulating');
  assert.ok(moments.fused.n > 0);
  const c = await agentOf(myProrl, { checkpoint: path.join(folder.dir, 'b.json'), checkpointEvery: 1 });
  await c.train(makeEnv, {}, { rng: rng() });
  const wc = c.net.params.snapshot();
  for (const k of Object.keys(wa)) assert.deepEqual(wc[k], wa[k], `parameter ${k} differs after resuming`);
  // A checkpoint of another estimator is refused by name.
  const other = await agentOf('prorl', { checkpoint: path.join(folder.dir, 'b.json') });
  await assert.rejects(other.train(makeEnv, {}, { rng: rng() }), /checkpoint of 'my-prorl', this agent is 'prorl'/);
  for (const x of [a, c, other]) x.dispose();
});
