/**
 * Baselines: greedy-ioi and beam-planner (simulator oracles), IPG (embeddings recovered from the
 * simulator's states and scores) and IRN (trained on real sequences), on a tiny synthetic world.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { makeVec, SyntheticExactSimulator, type ProactiveRecVectorEnv } from '../envs/index.ts';
import { Rng } from '../core/rng.ts';
import { sigmoid } from '../simulators/simulator.ts';
import { actContext, type Agent } from '../agents/agent.ts';
import { ensureBackend } from '../agents/nn.ts';
import { beamPlannerAgent, greedyIoiAgent, planPaths, topCandidates } from '../agents/planners.ts';
import { fitItemEmbeddings, ipgAgent } from '../agents/ipg.ts';
import { irnAgent } from '../agents/irn.ts';
import { listAgents } from '../agents/registry.ts';

const WORLD = { numItems: 60, numUsers: 120 };

before(async () => {
  await ensureBackend();
});

/** Runs one batch of test episodes; the environment throws on any invalid action. */
function runEpisodes(agent: Agent, env: ProactiveRecVectorEnv, seed: number) {
  let { observations } = env.reset({ seed, options: { caseIndices: Array.from({ length: env.numEnvs }, (_, i) => i) } });
  const episodes: NonNullable<ReturnType<ProactiveRecVectorEnv['step']>['infos'][number]['episode']>[] = new Array(env.numEnvs);
  let t = 0;
  while (env.active().some((x) => x)) {
    const r = env.step(agent.act(observations, actContext(env, seed, t++, { simulator: true })));
    observations = r.observations;
    r.infos.forEach((i, k) => {
      if (i.episode) episodes[k] = i.episode;
    });
  }
  return episodes;
}

test('every issue-5 agent is registered', () => {
  const names = new Set(listAgents().map((a) => a.name));
  for (const n of [
    'supervised',
    'reinforce',
    'reinforce-baseline',
    'grpo',
    'prorl',
    'prorl-no-src',
    'prorl-no-psae',
    'ipg',
    'irn',
    'greedy-ioi',
    'beam-planner',
  ])
    assert.ok(names.has(n), n);
});

test('greedy-ioi recommends the candidate with the best one-step fused reward, STOP when none is positive', async () => {
  const env = await makeVec('synthetic-v0', 12, { world: WORLD, split: 'test' });
  const agent = greedyIoiAgent.create({ candidates: 10 }, { numItems: 60, seed: 1 }) as Agent;
  const { observations } = env.reset({ seed: 1, options: { caseIndices: Array.from({ length: 12 }, (_, i) => i) } });
  const actions = agent.act(observations, actContext(env, 1, 0, { simulator: true }));
  const N = env.numItems;
  const sim = env.world.simulator;
  const w = env.config.weights;
  const base = sim.open(observations.map((o) => [...o.history]));
  const scores = base.scores();
  const stats = base.targetStats(Int32Array.from(observations, (o) => o.target));
  base.dispose();
  observations.forEach((o, r) => {
    const hist = new Set(o.history);
    const cands = topCandidates(scores, r * N, N, 10, (i) => o.actionMask[i] === 1 && !hist.has(i));
    // Brute force: each candidate appended to a fresh batch of the full sequence.
    const after = sim.open(cands.map((c) => [...o.history, c]));
    const st = after.targetStats(new Int32Array(cands.length).fill(o.target));
    after.dispose();
    const rewards = cands.map((c, k) => w.ioi * (st.logProb[k] - stats.logProb[r]) + w.ior * (stats.rank[r] - st.rank[k]) + w.ctr * sigmoid(scores[r * N + c]));
    const best = Math.max(...rewards);
    if (best > 0) assert.equal(actions[r], cands[rewards.indexOf(best)], `row ${r}`);
    else assert.equal(actions[r], N, `row ${r} should STOP`);
  });
  const eps = runEpisodes(agent, env, 2);
  for (const e of eps) assert.ok(e.return >= 0, 'every greedy step had a positive reward');
  env.close();
});

test('beam-planner follows the path it planned, whose realised return is never below STOP-at-once', async () => {
  const env = await makeVec('synthetic-v0', 10, { world: WORLD, split: 'test' });
  const config = { beamWidth: 3, candidates: 5, depth: 0, avoidHistory: true };
  const { observations } = env.reset({ seed: 4, options: { caseIndices: Array.from({ length: 10 }, (_, i) => i) } });
  const plans = planPaths(
    env,
    env.world.simulator,
    observations,
    observations.map((_, r) => r),
    config,
  );
  // Simulator batches cut into chunks (as on large batches, to bound memory) plan the same paths.
  assert.deepEqual(
    planPaths(
      env,
      env.world.simulator,
      observations,
      observations.map((_, r) => r),
      config,
      7,
    ),
    plans,
  );
  const agent = beamPlannerAgent.create(config, { numItems: 60, seed: 1 }) as Agent;
  const eps = runEpisodes(agent, env, 4);
  eps.forEach((e, r) => {
    assert.deepEqual(e.path, plans.get(r), `row ${r} follows its plan`);
    assert.ok(e.return >= -1e-9, `row ${r}: return ${e.return}`);
  });
  env.close();
});

test('IPG recovers the exact item embeddings of the synthetic simulator and acts validly', async () => {
  const env = await makeVec('synthetic-v0', 16, { world: WORLD, split: 'test' });
  const sim = env.world.simulator as SyntheticExactSimulator;
  const seqs = env.world.dataset.sequences.train.slice(0, 64).map((s, k) => s.slice(0, 1 + (k % 15)));
  const fit = fitItemEmbeddings(sim, seqs);
  assert.equal(fit.dim, sim.stateDim);
  assert.ok(fit.residual < 1e-4, `relative residual ${fit.residual}`);
  const d = sim.world.config.dim;
  for (let i = 0; i < sim.numItems; i++) {
    for (let j = 0; j < d; j++) assert.ok(Math.abs(fit.emb[i * (d + 1) + j] - sim.world.itemVectors[i * d + j]) < 1e-3);
    assert.ok(Math.abs(fit.emb[i * (d + 1) + d] - sim.world.itemBias[i]) < 1e-3);
  }
  const agent = ipgAgent.create({}, { numItems: 60, seed: 1 }) as Agent;
  const eps = runEpisodes(agent, env, 5);
  assert.equal(eps.length, 16);
  env.close();
});

test('IRN trains on real sequences (valid NLL falls) and acts validly, stopping when it predicts the target', async () => {
  const makeEnv = (n: number) => makeVec('synthetic-v0', n, { world: WORLD, split: 'train' });
  const { items, sequences } = (await makeEnv(1)).world.dataset;
  const agent = await irnAgent.create(
    { policy: { dim: 16 }, training: { epochs: 2, batchSize: 64, lr: 5e-3 } },
    { numItems: 60, seed: 1, items, trainSequences: sequences.train },
  );
  const logs: Record<string, number>[] = [];
  await agent.train!(makeEnv, {}, { rng: Rng.stream(1, 'agent'), callbacks: { onLog: (_s, v) => logs.push(v) } });
  const nll = logs.filter((l) => 'irn/validNll' in l).map((l) => l['irn/validNll']);
  assert.ok(Math.min(...nll.slice(1)) < nll[0], `valid NLL ${nll.join(' -> ')}`);
  const env = await makeVec('synthetic-v0', 16, { world: WORLD, split: 'test' });
  const eps = runEpisodes(agent, env, 6);
  assert.equal(eps.length, 16);
  agent.dispose?.();
  env.close();
});

test('the simulator is a capability: an oracle agent acting without it gets a clear error, and agents without it see no simulator', async () => {
  const env = await makeVec('synthetic-v0', 4, { world: WORLD, split: 'test' });
  const { observations } = env.reset({ seed: 1, options: { caseIndices: [0, 1, 2, 3] } });
  const oracle = greedyIoiAgent.create({ candidates: 10 }, { numItems: 60, seed: 1 }) as Agent;
  assert.throws(() => oracle.act(observations, actContext(env, 1, 0)), /greedy-ioi reads the reward simulator/);
  assert.equal(actContext(env, 1, 0).simulator, null);
  assert.equal(oracle.act(observations, actContext(env, 1, 0, { simulator: true })).length, 4);
});
