/**
 * Training workers (agents/pg-worker.ts): an RL run gives bit-identical weights and logs with
 * N = 1, 2 and 3 workers (PRORL_TRAIN_WORKERS), one update equals the main thread alone for every N
 * and chunk count, a failing worker fails the update with its message, and the variables are
 * checked. Speed is measured by `npm run perf -- rl`, not here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { makeVec } from '../envs/index.ts';
import { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { withoutEvaluator, withRandomTargets } from '../agents/rl-harness.ts';
import { Rng } from '../core/rng.ts';
import { AdamW } from '../agents/nn.ts';
import { makeEnv, rlTestFolder, trainProrl, WORLD } from './support/rl-fixture.ts';
import { packPaths, PolicyNetwork } from '../agents/policy.ts';
import { policyGradientStep, rlAgents, type RlAgent } from '../agents/rl.ts';
import { reinforce, type Rollout } from '../agents/estimators.ts';
import { runEpisodes } from '../agents/rollout.ts';
import { chunkWorker, RL_WORKERS_ENV, TRAIN_WORKERS_ENV, trainWorkers, TrainWorkers } from '../agents/pg-worker.ts';
import { RunFailure } from '../core/errors.ts';

const folder = rlTestFolder('train-workers');

/** Runs `f` with PRORL_TRAIN_WORKERS = n (unset when null), restoring the variable after. */
async function withWorkers<T>(n: number | null, f: () => Promise<T>): Promise<T> {
  const saved = process.env[TRAIN_WORKERS_ENV];
  try {
    if (n === null) delete process.env[TRAIN_WORKERS_ENV];
    else process.env[TRAIN_WORKERS_ENV] = String(n);
    return await f();
  } finally {
    if (saved === undefined) delete process.env[TRAIN_WORKERS_ENV];
    else process.env[TRAIN_WORKERS_ENV] = saved;
  }
}

test('an RL run gives bit-identical weights and logs with 1, 2 and 3 training workers', async () => {
  const runs: { weights: Record<string, Float32Array>; logs: Record<string, number>[] }[] = [];
  for (const n of [1, 2, 3]) {
    runs.push(
      await withWorkers(n, async () => {
        // 8 cases × G = 16 = 128 paths per update (the smallest batch that uses workers), 4 chunks.
        const n0 = tf.memory().numTensors;
        const run = await trainProrl(folder.initFile, {
          groupSize: 16,
          casesPerBatch: 8,
          casesPerEpoch: 16,
          epochs: 2,
          lr: 3e-3,
          validCases: 8,
          gradChunks: 4,
        });
        assert.ok(tf.memory().numTensors <= n0, `N = ${n}: no tensor left behind`);
        return run;
      }),
    );
  }
  assert.equal(runs[0].logs.filter((l) => 'return' in l).length, 4, 'two epochs of two updates');
  for (const k of [1, 2]) {
    assert.deepEqual(runs[k].logs, runs[0].logs, `logs with N = ${k + 1}`);
    assert.deepEqual(runs[k].weights, runs[0].weights, `weights with N = ${k + 1}`);
  }
});

/** A longer test: `npm run test:long` runs it (CI does), not `npm test`. */
const long = process.env.PRORL_TEST_LONG === '1' ? false : 'a longer test: `npm run test:long` runs it (CI does)';

test('one update with a pool of N workers equals the main thread alone, for every chunk count', { skip: long }, async () => {
  const env = await makeVec('synthetic-v0', 6 * 4, { world: WORLD, split: 'train', maxLength: 5 });
  const make = (trainable: boolean, seed: number) =>
    new PolicyNetwork(60, { itemPrior: 'none', dim: 16, maxLength: 5 }, { seed, trainable, label: trainable ? 'policy' : 'reference' });
  const ref = make(false, 2);
  const alone = make(true, 1);
  const oA = new AdamW(alone.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
  const pools = [await TrainWorkers.start(alone, 1), await TrainWorkers.start(alone, 2)];
  try {
    const cases = Array.from({ length: 6 }, (_, j) => j * 3).flatMap((c) => new Array<number>(4).fill(c));
    for (const chunks of [4, 5, 1, 6]) {
      const paths = runEpisodes(alone, env, 'train', cases, chunks, 1);
      const rollouts: Rollout[] = paths.map((p, k) => ({
        group: Math.floor(k / 4),
        rewards: Float64Array.from(p.ioi, (x, t) => x + p.ctr[t]),
        stopped: p.stopped,
      }));
      const traj = packPaths(paths);
      const adv = reinforce(rollouts);
      const start = alone.params.snapshot();
      const opt0 = oA.state();
      const expected = policyGradientStep(alone, ref, traj, adv, oA, { groupSize: 4, chunks, beta: 0.05 });
      const weights = alone.params.snapshot();
      for (const pool of pools) {
        const net = make(true, 1);
        net.params.restore(start);
        const o = new AdamW(net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
        o.setState(opt0);
        const n0 = tf.memory().numTensors;
        const got = policyGradientStep(net, ref, traj, adv, o, { groupSize: 4, chunks, beta: 0.05, worker: pool });
        assert.deepEqual(got, expected, `chunks ${chunks}, ${pool.size} workers: stats`);
        assert.deepEqual(net.params.snapshot(), weights, `chunks ${chunks}, ${pool.size} workers: weights`);
        o.dispose();
        net.dispose();
        assert.ok(tf.memory().numTensors <= n0, 'no tensor left behind');
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.terminate()));
    oA.dispose();
    alone.dispose();
    ref.dispose();
    env.close();
  }
});

test('rollouts in blocks of whole groups over N workers are the paths of one batch; a hand-built world or a repeated case stays on the main thread', async () => {
  const base = await makeVec('synthetic-v0', 7 * 4, { world: WORLD, split: 'train', maxLength: 6 });
  const envs = { plain: withoutEvaluator(base) };
  const random = withRandomTargets(envs.plain, 'train', 7 * 4, 99);
  const net = new PolicyNetwork(60, { itemPrior: 'none', dim: 16, maxLength: 6 }, { seed: 3 });
  // Three workers (two threads): blocks of 2, 3 and 2 groups; N = 2 is the RL run's test above.
  const pools = [await TrainWorkers.start(net, 2)];
  try {
    const cases = [0, 5, 9, 14, 2, 30, 41].flatMap((c) => new Array<number>(4).fill(c));
    for (const env of [envs.plain, random]) {
      assert.ok(env.recipe, 'makeVec records the recipe, and the derived environments carry it');
      const alone = runEpisodes(net, env, 'train', cases, 11, 12);
      for (const pool of pools) {
        const split = pool.rollout(net, env, cases, 4, 11, 12);
        assert.ok(split, `${pool.size} workers roll out`);
        assert.deepEqual(split, alone, `${pool.size} workers, ${env === random ? 'random targets' : 'the dataset targets'}: the same paths`);
      }
    }
    // A world built by hand has no recipe; a case in two groups would get other replicas in a block.
    const byHand = new ProactiveRecVectorEnv('synthetic-v0', envs.plain.world, 7 * 4, envs.plain.config);
    assert.equal(pools[0].rollout(net, byHand, cases, 4, 11, 12), null);
    const repeated = [0, 5, 0, 14, 2, 30, 41].flatMap((c) => new Array<number>(4).fill(c));
    assert.equal(pools[0].rollout(net, envs.plain, repeated, 4, 11, 12), null);
    byHand.close();
  } finally {
    await Promise.all(pools.map((p) => p.terminate()));
    net.dispose();
    random.close();
    envs.plain.close();
  }
});

test("a failing worker fails the update with the worker's message", async () => {
  const env = await makeVec('synthetic-v0', 4 * 4, { world: WORLD, split: 'train', maxLength: 4 });
  const net = new PolicyNetwork(60, { itemPrior: 'none', dim: 16, maxLength: 4 }, { seed: 1 });
  const ref = new PolicyNetwork(60, { itemPrior: 'none', dim: 16, maxLength: 4 }, { seed: 1, trainable: false, label: 'reference' });
  // The pool's networks have another width: the weights sent cannot be restored there.
  const other = new PolicyNetwork(60, { itemPrior: 'none', dim: 8, maxLength: 4 }, { seed: 1 });
  const pool = await TrainWorkers.start(other, 1);
  const opt = new AdamW(net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
  try {
    const cases = [0, 1, 2, 3].flatMap((c) => new Array<number>(4).fill(c));
    const paths = runEpisodes(net, env, 'train', cases, 1, 1);
    const adv = reinforce(paths.map((p, k) => ({ group: Math.floor(k / 4), rewards: p.ioi, stopped: p.stopped })));
    assert.throws(
      () => policyGradientStep(net, ref, packPaths(paths), adv, opt, { groupSize: 4, chunks: 2, beta: 0, worker: pool }),
      (e: unknown) => e instanceof RunFailure && /^RL training worker 1: /.test(e.message),
    );
    // A thread that has died is reported at the next update, not waited for.
    const alive = await TrainWorkers.start(net, 1);
    await alive.terminate();
    await new Promise((r) => setImmediate(r));
    assert.throws(
      () => policyGradientStep(net, ref, packPaths(paths), adv, opt, { groupSize: 4, chunks: 2, beta: 0, worker: alive }),
      (e: unknown) => e instanceof RunFailure && /^RL training worker 1 exited with code/.test(e.message),
    );
  } finally {
    await pool.terminate();
    for (const x of [net, ref, other]) x.dispose();
    opt.dispose();
    env.close();
  }
});

test('PRORL_TRAIN_WORKERS: a positive integer, else PRORL_RL_WORKERS + 1, else every core; chunk c on worker c mod N', () => {
  assert.equal(trainWorkers({ [TRAIN_WORKERS_ENV]: '3' }), 3);
  assert.equal(trainWorkers({ [TRAIN_WORKERS_ENV]: '2', [RL_WORKERS_ENV]: '0' }), 2);
  assert.equal(trainWorkers({ [RL_WORKERS_ENV]: '1' }), 2);
  assert.equal(trainWorkers({ [RL_WORKERS_ENV]: '0' }), 1);
  assert.ok(trainWorkers({}) >= 1);
  for (const bad of ['0', '-1', '1.5', 'two'])
    assert.throws(
      () => trainWorkers({ [TRAIN_WORKERS_ENV]: bad }),
      new RegExp(`PRORL_TRAIN_WORKERS must be a positive integer, got '${bad.replace('.', '\\.')}'`),
    );
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((c) => chunkWorker(c, 3)),
    [0, 1, 2, 0, 1],
  );
});

test('the workers are stopped when training fails', async () => {
  const stops: number[] = [];
  const terminate = TrainWorkers.prototype.terminate;
  TrainWorkers.prototype.terminate = async function (this: TrainWorkers) {
    stops.push(this.size);
    await terminate.call(this);
  };
  try {
    await withWorkers(2, async () => {
      const f = rlAgents.find((a) => a.name === 'reinforce')!;
      const agent = (await f.create(
        { init: folder.initFile, policy: { dim: 16, itemPrior: 'none' }, rl: { groupSize: 16, casesPerBatch: 8, casesPerEpoch: 16, epochs: 1, validCases: 0 } },
        { numItems: 60, seed: 1 },
      )) as RlAgent;
      const onLog = () => {
        throw new Error('stop here');
      };
      await assert.rejects(agent.train(makeEnv, {}, { rng: Rng.stream(1, 'agent'), callbacks: { onLog } }), /stop here/);
      agent.dispose();
    });
  } finally {
    TrainWorkers.prototype.terminate = terminate;
  }
  assert.deepEqual(stops, [2], 'the pool of 2 workers was started and stopped');
});
