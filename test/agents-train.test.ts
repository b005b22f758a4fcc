/**
 * Training: supervised pre-training lowers the valid NLL; a policy-gradient update with known
 * advantages moves log-probabilities the right way; every estimator runs; checkpoints save, load
 * and resume to the same result as an uninterrupted run; no tensors leak across updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeVec } from '../envs/index.ts';
import { Rng } from '../core/rng.ts';
import { AdamW } from '../agents/nn.ts';
import { makeEnv, rlTestFolder, WORLD } from './support/rl-fixture.ts';
import { packPaths, PolicyNetwork } from '../agents/policy.ts';
import { policyGradientStep, rlAgents, RL_ESTIMATORS, type RlAgent } from '../agents/rl.ts';
import { validate } from '../core/validate.ts';
import { actContext } from '../agents/agent.ts';
import { SupervisedConfigSchema, supervisedAgent, trainSupervised, type SupervisedAgent } from '../agents/supervised.ts';

const folder = rlTestFolder('agents-train');

test('supervised training lowers the valid NLL (and keeps the best valid checkpoint)', async () => {
  const env = await makeEnv(1);
  const net = new PolicyNetwork(env.numItems, { itemPrior: 'none', dim: 16 }, { seed: 2 });
  const logs: Record<string, number>[] = [];
  const r = await trainSupervised(net, env.world.dataset, validate(SupervisedConfigSchema, { epochs: 3, batchSize: 32, lr: 5e-3 }, 'test'), {
    seed: 1,
    maxLength: 10,
    callbacks: { onLog: (_s, v) => logs.push(v) },
  });
  const initial = logs[0]['supervised/validNll'];
  assert.ok(r.bestValidNll! < initial - 0.1, `valid NLL ${initial} -> ${r.bestValidNll}`);
  assert.ok(r.bestEpoch >= 1);
  net.dispose();
  env.close();
});

test('a policy-gradient update with known advantages raises and lowers the right log-probabilities', () => {
  const N = 30;
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 3 });
  const ref = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 3, trainable: false, label: 'reference' });
  const pool = Rng.stream(1, 'pool').shuffle(Array.from({ length: N }, (_, i) => i));
  const history = pool.slice(0, 10);
  const target = pool[10];
  const paths = [
    { history, target, items: [pool[11], pool[12]], stopped: true },
    { history, target, items: [pool[13]], stopped: true },
    { history, target, items: [pool[14], pool[15], pool[16]], stopped: false },
    { history, target, items: [], stopped: true },
  ];
  const traj = packPaths(paths);
  const sign = [1, -1, 1, -1];
  const advantages = paths.map((p, i) => new Float64Array(p.items.length + (p.stopped ? 1 : 0)).fill(sign[i]));
  const before = net.pathLogProbs(traj);
  const opt = new AdamW(net.params, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 0 });
  policyGradientStep(net, ref, traj, advantages, opt, { groupSize: 2, chunks: 2, beta: 0 });
  const afterLp = net.pathLogProbs(traj);
  sign.forEach((s, i) => assert.ok(s * (afterLp[i] - before[i]) > 0, `path ${i}: ${before[i]} -> ${afterLp[i]} with advantage ${s}`));
  opt.dispose();
  net.dispose();
  ref.dispose();
});

test('repeated updates leave no tensors behind', () => {
  const N = 30;
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 4 });
  const ref = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 4, trainable: false, label: 'reference' });
  const pool = Rng.stream(2, 'pool').shuffle(Array.from({ length: N }, (_, i) => i));
  const traj = packPaths([0, 1, 2, 3].map((k) => ({ history: pool.slice(0, 10), target: pool[10], items: pool.slice(11, 11 + k), stopped: k % 2 === 0 })));
  const adv = [0, 1, 2, 3].map((k) => new Float64Array(k + (k % 2 === 0 ? 1 : 0)).fill(k - 1.5));
  const opt = new AdamW(net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 1 });
  policyGradientStep(net, ref, traj, adv, opt, { groupSize: 2, chunks: 2, beta: 0.01 });
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) policyGradientStep(net, ref, traj, adv, opt, { groupSize: 2, chunks: 2, beta: 0.01 });
  assert.equal(tf.memory().numTensors, n0);
  opt.dispose();
  net.dispose();
  ref.dispose();
});

const TINY = { groupSize: 4, casesPerBatch: 2, casesPerEpoch: 4, epochs: 2, lr: 3e-3, validCases: 0 };

async function rlAgent(name: string, extra: Record<string, unknown> = {}): Promise<RlAgent> {
  const f = rlAgents.find((a) => a.name === name)!;
  return (await f.create(
    { init: folder.initFile, policy: { dim: 16, itemPrior: 'none' }, ...extra, rl: { ...TINY, ...((extra.rl as object) ?? {}) } },
    { numItems: 60, seed: 1 },
  )) as RlAgent;
}

test('every estimator trains (exact KL and KL penalty), with the logged quantities', async () => {
  for (const name of RL_ESTIMATORS) {
    for (const kl of name === 'prorl' ? (['exact', 'penalty'] as const) : (['exact'] as const)) {
      const agent = await rlAgent(name, { rl: { epochs: 1, kl } });
      const logs: Record<string, number>[] = [];
      await agent.train(makeEnv, {}, { rng: Rng.stream(1, 'agent'), callbacks: { onLog: (_s, v) => logs.push(v) } });
      const upd = logs.filter((l) => 'return' in l);
      assert.equal(upd.length, 2, `${name}: two updates in one epoch of 4 cases at 2 per batch`);
      for (const key of ['return', 'length', 'stopRate', 'ioi', 'ior', 'ctr', 'kl', 'gradNorm', 'gradChunkNormVar', 'gradVarTrace', 'entropy']) {
        assert.ok(Number.isFinite(upd[1][key]), `${name}/${kl}: ${key} = ${upd[1][key]}`);
      }
      assert.ok(upd[1].kl > 0, `${name}: the policy moved away from the reference`);
      agent.dispose();
    }
  }
});

test("without init, an RL agent pre-trains to the supervised agent's checkpoint at the same seed", async () => {
  // Estimators are compared from one starting point: the supervised row of a benchmark.
  const sup = (await supervisedAgent.create(
    { policy: { dim: 16, itemPrior: 'none' }, supervised: { epochs: 2, batchSize: 32 } },
    { numItems: 60, seed: 5 },
  )) as SupervisedAgent;
  await sup.train(makeEnv, {}, { rng: Rng.stream(5, 'agent').child('train') });
  const f = rlAgents.find((a) => a.name === 'reinforce')!;
  const rl = (await f.create(
    { policy: { dim: 16, itemPrior: 'none' }, pretrain: { epochs: 2, batchSize: 32 }, rl: { ...TINY, epochs: 0 } },
    { numItems: 60, seed: 5 },
  )) as RlAgent;
  await rl.train(makeEnv, {}, { rng: Rng.stream(5, 'agent').child('train') });
  const a = sup.net.params.snapshot();
  const b = rl.net.params.snapshot();
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const k of Object.keys(a)) assert.deepEqual(b[k], a[k], `parameter ${k}`);
  // A different seed gives a different checkpoint (the comparison above can fail).
  const other = (await f.create(
    { policy: { dim: 16, itemPrior: 'none' }, pretrain: { epochs: 2, batchSize: 32 }, rl: { ...TINY, epochs: 0 } },
    { numItems: 60, seed: 6 },
  )) as RlAgent;
  await other.train(makeEnv, {}, { rng: Rng.stream(6, 'agent').child('train') });
  assert.notDeepEqual(other.net.params.snapshot(), a);
  sup.dispose();
  rl.dispose();
  other.dispose();
});

test('training holds a fixed number of tensors (no leak over a run)', async () => {
  const n0 = tf.memory().numTensors;
  const agent = await rlAgent('prorl');
  const P = agent.net.params.keys.length;
  const counts: number[] = [];
  await agent.train(makeEnv, {}, { rng: Rng.stream(1, 'agent'), callbacks: { onLog: () => counts.push(tf.memory().numTensors) } });
  // Policy + reference + AdamW (m and v per parameter), from the first update to the last.
  assert.deepEqual(new Set(counts), new Set([n0 + 4 * P]));
  agent.dispose();
  assert.equal(tf.memory().numTensors, n0);
});

test('save/load round-trips the policy; a killed and resumed run ends where an uninterrupted one does', async () => {
  const rng = () => Rng.stream(7, 'agent');
  // Uninterrupted.
  const a = await rlAgent('prorl', { checkpoint: path.join(folder.dir, 'a.json'), checkpointEvery: 1 });
  await a.train(makeEnv, {}, { rng: rng() });
  const wa = a.net.params.snapshot();
  // Killed after its third update (a callback that throws stands in for the kill).
  const b = await rlAgent('prorl', { checkpoint: path.join(folder.dir, 'b.json'), checkpointEvery: 1 });
  await assert.rejects(
    b.train(
      makeEnv,
      {},
      {
        rng: rng(),
        callbacks: {
          onLog: (step) => {
            if (step === 3) throw new Error('killed');
          },
        },
      },
    ),
    /killed/,
  );
  b.dispose();
  // Resumed by a fresh agent from the checkpoint: updates 4.. only.
  const c = await rlAgent('prorl', { checkpoint: path.join(folder.dir, 'b.json'), checkpointEvery: 1 });
  const steps: number[] = [];
  await c.train(
    makeEnv,
    {},
    {
      rng: rng(),
      callbacks: {
        onLog: (step, v) => {
          if ('return' in v) steps.push(step);
        },
      },
    },
  );
  assert.deepEqual(steps, [4]);
  const wc = c.net.params.snapshot();
  for (const k of Object.keys(wa)) assert.deepEqual(wc[k], wa[k], `parameter ${k} differs after resuming`);
  // save/load: a fresh agent loading the checkpoint acts identically.
  const file = path.join(folder.dir, 'saved.json');
  await a.save(file);
  const d = await rlAgent('prorl');
  await d.load(file);
  const env = await makeVec('synthetic-v0', 16, { world: WORLD, split: 'test' });
  const { observations } = env.reset({ seed: 3 });
  assert.deepEqual(d.act(observations, actContext(env, 1, 0)), a.act(observations, actContext(env, 1, 0)));
  env.close();
  for (const x of [a, c, d]) x.dispose();
});
