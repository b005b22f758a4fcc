/**
 * The official code's training options (issue: reproduce the paper at its operating point): the
 * linear learning-rate warm-up, empty paths dropped from the loss, and the SRC statistics window
 * counted in updates. Each is checked against what it must equal, not only that it runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.ts';
import { AdamW } from '../agents/nn.ts';
import { rlTestFolder, trainProrl } from './support/rl-fixture.ts';
import { packPaths, PolicyNetwork } from '../agents/policy.ts';
import { learningRateScale, policyGradientStep } from '../agents/rl.ts';

const folder = rlTestFolder('rl-official');

test('warm-up: lr·min(1, u/W) for update u (0-based), the first update at lr 0; no warm-up is a factor of 1', () => {
  assert.deepEqual(
    [0, 1, 5, 9, 10, 11, 500].map((u) => learningRateScale(u, 10)),
    [0, 0.1, 0.5, 0.9, 1, 1, 1],
  );
  assert.deepEqual(
    [0, 1, 7].map((u) => learningRateScale(u, 0)),
    [1, 1, 1],
  );
});

const adam = (net: PolicyNetwork) => new AdamW(net.params, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 });

function batch() {
  const N = 30;
  const pool = Rng.stream(1, 'pool').shuffle(Array.from({ length: N }, (_, i) => i));
  const history = pool.slice(0, 10);
  const target = pool[10];
  return {
    N,
    paths: [
      { history, target, items: [pool[11], pool[12]], stopped: true },
      { history, target, items: [], stopped: true },
      { history, target, items: [pool[13]], stopped: true },
      { history, target, items: [pool[14], pool[15], pool[16]], stopped: false },
    ],
  };
}

test('an update at lr scale 0 (the first of a warm-up) moves no weight, weight decay included', () => {
  const { N, paths } = batch();
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 3 });
  const ref = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 3, trainable: false, label: 'reference' });
  const traj = packPaths(paths);
  const adv = paths.map((p, i) => new Float64Array(p.items.length + (p.stopped ? 1 : 0)).fill(i % 2 ? -1 : 1));
  const w0 = net.params.snapshot();
  const opt = adam(net);
  policyGradientStep(net, ref, traj, adv, opt, { groupSize: 2, chunks: 2, beta: 0.01, lrScale: 0 });
  const w1 = net.params.snapshot();
  for (const k of Object.keys(w0)) assert.deepEqual(w1[k], w0[k], `${k} moved at lr 0`);
  policyGradientStep(net, ref, traj, adv, opt, { groupSize: 2, chunks: 2, beta: 0.01, lrScale: 0.5 });
  const w2 = net.params.snapshot();
  assert.ok(
    Object.keys(w0).some((k) => w2[k].some((x, i) => x !== w0[k][i])),
    'an update at lr scale 0.5 moves the weights',
  );
  opt.dispose();
  net.dispose();
  ref.dispose();
});

test('a dropped empty path is no term at all: the update equals the one on the batch without it, N counting the non-empty paths', () => {
  const { N, paths } = batch();
  const adv = (ps: typeof paths) => ps.map((p, i) => new Float64Array(p.items.length + (p.stopped ? 1 : 0)).fill(0.3 * (i + 1) - 0.7));
  // A: the empty path's row kept without a term (stopped cleared, no advantage), N = 3 non-empty paths.
  const netA = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5 });
  const refA = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5, trainable: false, label: 'reference' });
  const trajA = packPaths(paths);
  trajA.stopped[1] = 0;
  const advFull = adv(paths);
  advFull[1] = new Float64Array(0);
  const optA = adam(netA);
  const sA = policyGradientStep(netA, refA, trajA, advFull, optA, { groupSize: 4, chunks: 1, beta: 0.01, normaliser: 3 });
  // B: the same batch without the empty path at all (N = 3 rows).
  const kept = paths.filter((p) => p.items.length > 0);
  const netB = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5 });
  const refB = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5, trainable: false, label: 'reference' });
  const advKept = adv(paths).filter((_, i) => i !== 1);
  const optB = adam(netB);
  const sB = policyGradientStep(netB, refB, packPaths(kept), advKept, optB, { groupSize: 4, chunks: 1, beta: 0.01 });
  assert.ok(Math.abs(sA.loss - sB.loss) < 1e-9, `loss ${sA.loss} vs ${sB.loss}`);
  assert.ok(Math.abs(sA.klPerPath - sB.klPerPath) < 1e-9);
  const a = netA.params.snapshot();
  const b = netB.params.snapshot();
  for (const k of Object.keys(a)) {
    let d = 0;
    for (let i = 0; i < a[k].length; i++) d = Math.max(d, Math.abs(a[k][i] - b[k][i]));
    assert.ok(d < 1e-6, `${k}: max difference ${d}`);
  }
  for (const x of [optA, netA, refA, optB, netB, refB]) x.dispose();
});

test('a batch of only empty paths under drop: a zero gradient, no error', () => {
  const { N, paths } = batch();
  const empty = paths.filter((p) => p.items.length === 0).concat(paths.filter((p) => p.items.length === 0));
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 6 });
  const ref = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 6, trainable: false, label: 'reference' });
  const traj = packPaths(empty);
  traj.stopped.fill(0);
  const opt = adam(net);
  const s = policyGradientStep(net, ref, traj, [new Float64Array(0), new Float64Array(0)], opt, { groupSize: 2, chunks: 1, beta: 0.01, normaliser: 1 });
  assert.equal(s.gradNorm, 0);
  assert.equal(s.loss, 0);
  for (const x of [opt, net, ref]) x.dispose();
});

const TINY = { groupSize: 4, casesPerBatch: 2, casesPerEpoch: 8, epochs: 2, lr: 3e-3, validCases: 0 };

async function train(rl: Record<string, unknown>): Promise<{ logs: Record<string, number>[]; weights: Record<string, Float32Array> }> {
  const { logs, weights } = await trainProrl(folder.initFile, { ...TINY, ...rl });
  return { logs: logs.filter((l) => 'return' in l), weights };
}

test('the official options in training: warm-up logged per update, the SRC window counted in updates, empty paths dropped', async () => {
  // 2 epochs × 4 updates; warm-up over half of them: lr 0, 1/4, 2/4, 3/4 of 3e-3, then 3e-3.
  const warm = await train({ warmup: 0.5 });
  assert.deepEqual(
    warm.logs.map((l) => l.lr),
    [0, 0.25, 0.5, 0.75, 1, 1, 1, 1].map((x) => x * 3e-3),
  );
  for (const l of warm.logs) assert.ok(l.emptyRate >= 0 && l.emptyRate <= 1);
  // The SRC statistics: with the window at 4 updates (= the first epoch here) training is the
  // default's exactly; with 2 updates, μ stops moving after update 2.
  const base = await train({});
  const four = await train({ centeringWindow: 4 });
  for (const k of Object.keys(base.weights)) assert.deepEqual(four.weights[k], base.weights[k], `window 4 = first epoch: ${k}`);
  const two = await train({ centeringWindow: 2 });
  const mu = two.logs.map((l) => l.centeringMu);
  assert.ok(
    mu.slice(1).every((m) => m === mu[1]),
    `μ frozen after update 2: ${mu.join(', ')}`,
  );
  assert.notEqual(base.logs[2].centeringMu, base.logs[1].centeringMu, 'under the default window μ still moves at update 3');
  // Empty paths dropped: a different update whenever a batch had one (this tiny untrained policy
  // stops at once often), the same when none had.
  const drop = await train({ emptyPaths: 'drop' });
  const hadEmpty = base.logs[0].emptyRate > 0;
  const same = Object.keys(base.weights).every((k) => base.weights[k].every((x, i) => x === drop.weights[k][i]));
  assert.equal(same, !hadEmpty && base.logs.every((l) => l.emptyRate === 0));
});
