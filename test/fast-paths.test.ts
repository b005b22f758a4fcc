/**
 * Every speed-up of RL training against the plain computation it replaces, on the same inputs:
 * results may differ only by float round-off.
 * - the environment: a shared evaluator (synthetic-v0's evaluator is its reward model) against a
 *   separately stepped copy; stepEvaluator: false changes nothing the reward model reports; the
 *   synthetic batch's cached target statistics against a fresh batch;
 * - acting: the cached incremental encoder (IncrementalPolicy) against re-encoding every path
 *   (nextLogProbs), and a whole rollout with and without it; the training rollout against the
 *   benchmark's PolicyAgent.act (re-encoding under the environment's action mask): same episodes;
 * - the synthetic simulator's incremental scores against scoring afresh;
 * - the policy's items and STOP logits in one product against two products and a concatenation;
 * - the update: the fused logits-wide loss (agents/pg-loss.ts) against autodiff through
 *   log-softmax, the exact KL and the entropy, alone and inside policyGradientStep; chunks on the
 *   update worker's thread against the main thread alone.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { generateSyntheticWorld, SyntheticExactSimulator } from '../envs/index.ts';
import { ProactiveRecVectorEnv, type ProactiveStepInfo } from '../envs/proactive.ts';
import { Rng } from '../core/rng.ts';
import { AdamW, ensureBackend } from '../agents/nn.ts';
import { greedyActions, IncrementalPolicy, nextTerms, packPaths, PolicyNetwork, sampleActions, trainingTerms, type PolicyConfig } from '../agents/policy.ts';
import { policyGradientLoss } from '../agents/pg-loss.ts';
import { playEpisodes, runEpisodes } from '../agents/rollout.ts';
import { PolicyAgent } from '../agents/policy-agent.ts';
import { actContext } from '../agents/agent.ts';
import { policyGradientStep } from '../agents/rl.ts';
import { RL_WORKERS_ENV, rlWorkers, UpdateWorker } from '../agents/pg-worker.ts';
import { reinforce, type Rollout } from '../agents/estimators.ts';
import { blasChoice } from '../compute/kernels/native-matmul.ts';

const WORLD = { numItems: 80, numUsers: 160, seed: 5 };

before(async () => {
  await ensureBackend();
});

/** Runs fixed pseudo-random valid actions and returns every step's infos. */
function replay(env: ProactiveRecVectorEnv, cases: number[], seed: number): ProactiveStepInfo[][] {
  const rng = Rng.stream(seed, 'replay');
  let { observations } = env.reset({ seed, options: { split: 'train', caseIndices: cases } });
  const out: ProactiveStepInfo[][] = [];
  for (let t = 0; t < env.config.maxLength; t++) {
    const actions = Int32Array.from(observations, (o) => {
      if (rng.float() < 0.1) return env.actionSpace.stop;
      const allowed = [...o.actionMask.keys()].filter((a) => o.actionMask[a] && a < env.actionSpace.stop);
      return allowed.length ? allowed[rng.int(allowed.length)] : env.actionSpace.stop;
    });
    const r = env.step(actions);
    out.push(r.infos);
    observations = r.observations;
  }
  return out;
}

test('environment: a shared evaluator equals a separately stepped one; stepEvaluator: false drops only the evaluator', () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const cases = [0, 3, 3, 7, 11, 2];
  for (const accept of ['always', 'sample'] as const) {
    const shared = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, cases.length, {
      accept,
      maxLength: 6,
    });
    const separate = new ProactiveRecVectorEnv(
      'synthetic-v0',
      { dataset: world.dataset, simulator: sim, evaluator: new SyntheticExactSimulator(world) },
      cases.length,
      { accept, maxLength: 6 },
    );
    const off = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, cases.length, {
      accept,
      maxLength: 6,
      stepEvaluator: false,
    });
    assert.equal(off.config.stepEvaluator, false);
    assert.equal(shared.config.stepEvaluator, true, 'the default steps the evaluator');
    const a = replay(shared, cases, 4);
    const b = replay(separate, cases, 4);
    const c = replay(off, cases, 4);
    assert.deepEqual(a, b);
    let episodes = 0;
    for (let t = 0; t < a.length; t++) {
      for (let k = 0; k < cases.length; k++) {
        const { evaluator: _e, episode: ea, ...restA } = a[t][k];
        const { evaluator: none, episode: ec, ...restC } = c[t][k];
        assert.equal(none, null);
        assert.deepEqual(restC, restA);
        if (ea) {
          episodes++;
          assert.ok(ea.evaluator !== null);
          assert.deepEqual(ec, { ...ea, evaluator: null });
        }
      }
    }
    assert.equal(episodes, cases.length);
    for (const e of [shared, separate, off]) e.close();
  }
});

test('synthetic simulator: cached target statistics and incremental scores equal a fresh batch scored afresh, after partial advances and target changes', () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const direct = new SyntheticExactSimulator(world, { incremental: false });
  assert.equal(sim.incremental, true, 'a world of 80 items keeps incremental scores by default');
  const rng = Rng.stream(2, 'stats');
  const seqs = Array.from({ length: 5 }, () => Array.from({ length: 10 }, () => rng.int(80)));
  const batch = sim.open(seqs);
  const plain = direct.open(seqs);
  let targets = Int32Array.from({ length: 5 }, () => rng.int(80));
  batch.targetStats(targets);
  let maxDiff = 0;
  for (let t = 0; t < 12; t++) {
    const rows = Uint8Array.from({ length: 5 }, () => (rng.float() < 0.6 ? 1 : 0));
    const items = Int32Array.from({ length: 5 }, () => rng.int(80));
    if (t === 3) targets = Int32Array.from({ length: 5 }, () => rng.int(80));
    const r = batch.advance(items, targets, rows);
    const p = plain.advance(items, targets, rows);
    rows.forEach((x, k) => x && seqs[k].push(items[k]));
    // Scored afresh, the plain batch is exactly a fresh one (its cache only skips unchanged rows).
    const fresh = direct.open(seqs).targetStats(targets);
    assert.deepEqual(Array.from(p.logProb), Array.from(fresh.logProb));
    assert.deepEqual(Array.from(p.rank), Array.from(fresh.rank));
    assert.deepEqual(Array.from(r.ctr), Array.from(p.ctr), 'CTR is scored from the state in both modes');
    // Incremental scores: the same up to float64 round-off, and the same ranks.
    assert.deepEqual(Array.from(r.rank), Array.from(fresh.rank));
    r.logProb.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - fresh.logProb[k]))));
    const [si, sd] = [batch.scores(), plain.scores()];
    si.forEach((x, k) => assert.ok(Math.abs(x - sd[k]) <= 1e-6 * Math.max(1, Math.abs(sd[k])), `score ${k}: ${x} vs ${sd[k]}`));
    const copy = batch.clone().targetStats(targets);
    assert.deepEqual(Array.from(copy.logProb), Array.from(r.logProb));
    const reopened = sim.open(seqs).targetStats(targets);
    reopened.logProb.forEach((x, k) => assert.ok(Math.abs(x - fresh.logProb[k]) < 1e-12));
  }
  assert.ok(maxDiff < 1e-12, `incremental log p(T) within float64 round-off (max |Δ| ${maxDiff})`);
  const big = { ...world, config: { ...world.config, numItems: 5000 } };
  assert.equal(new SyntheticExactSimulator(big).incremental, false, 'a world above INCREMENTAL_MAX_ITEMS scores rows afresh');
  assert.throws(() => new SyntheticExactSimulator(big, { incremental: true }), /at most 4096 items/);
});

const VARIANTS: { encoder: PolicyConfig['encoder']; itemPrior: PolicyConfig['itemPrior'] }[] = [
  { encoder: 'attention', itemPrior: 'none' },
  { encoder: 'attention', itemPrior: 'attributes+semantic' },
  { encoder: 'gru', itemPrior: 'attributes' },
];

for (const v of VARIANTS) {
  test(`IncrementalPolicy (${v.encoder}, prior ${v.itemPrior}) equals re-encoding every path: rejected items, rows leaving, rows not appended`, () => {
    const world = generateSyntheticWorld(WORLD);
    const N = world.dataset.items.count;
    const net = new PolicyNetwork(N, { ...v, dim: 16, maxLength: 4 }, { seed: 7, items: world.dataset.items });
    const rng = Rng.stream(3, 'inc');
    const B = 6;
    const cases = Array.from({ length: B }, (_, b) => world.dataset.cases.train[b * 5]);
    const history = Int32Array.from(cases.flatMap((c) => c.history));
    const target = Int32Array.from(cases, (c) => c.target);
    const n0 = tf.memory().numTensors;
    const session = new IncrementalPolicy(net, history, target);
    const paths = cases.map((c) => ({ history: c.history, target: c.target, items: [] as number[], accepted: [] as number[] }));
    let rows = Array.from({ length: B }, (_, b) => b);
    // Six steps: beyond maxLength (later positions share the last position embedding).
    for (let step = 0; step < 6 && rows.length > 0; step++) {
      const got = session.nextLogProbs(rows);
      const want = net.nextLogProbs(packPaths(rows.map((b) => paths[b])));
      assert.equal(got.length, want.length);
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        if (want[i] < -1e8) assert.ok(got[i] < -1e8, 'the same actions are forbidden');
        else worst = Math.max(worst, Math.abs(got[i] - want[i]));
      }
      assert.ok(worst < 1e-4, `step ${step}: max |Δ log p| = ${worst}`);
      // Some rows stop (leave); of the others, some get no item this step (they keep their state).
      const next = rows.filter(() => rng.float() < 0.85);
      const appended = next.filter(() => rng.float() < 0.8);
      const items = appended.map((b) => {
        const A = N + 1;
        const r = rows.indexOf(b);
        let a: number;
        do a = rng.int(N);
        while (want[r * A + a] < -1e8);
        return a;
      });
      const accepted = appended.map(() => (rng.float() < 0.7 ? 1 : 0));
      session.nextLogProbs(next); // narrow to the rows still running
      session.append(appended, items, accepted);
      appended.forEach((b, i) => {
        paths[b].items.push(items[i]);
        paths[b].accepted.push(accepted[i]);
      });
      rows = next;
    }
    session.dispose();
    assert.equal(tf.memory().numTensors, n0, 'the session frees its tensors');
    net.dispose();
  });
}

test('sampling and greedy decoding from probabilities equal those from log-probabilities', () => {
  const B = 40;
  const A = 31;
  const rng = Rng.stream(6, 'probs');
  const logp = new Float32Array(B * A);
  for (let b = 0; b < B; b++) {
    const z = Array.from({ length: A }, (_, a) => (rng.float() < 0.2 ? -1e9 : 2 * rng.normal() + (a === A - 1 && b % 3 === 0 ? 5 : 0)));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
    z.forEach((x, a) => (logp[b * A + a] = x - lse));
  }
  const probs = Float32Array.from(logp, Math.exp);
  for (const seed of [1, 2, 3]) {
    const draws = (b: number) => Rng.stream(seed, `row-${b}`);
    assert.deepEqual(sampleActions(probs, B, A, 'prob', draws), sampleActions(logp, B, A, 'log', draws));
  }
  assert.deepEqual(greedyActions(probs, B, A, 'prob'), greedyActions(logp, B, A, 'log'));
});

test('a rollout with the cached encoder equals one that re-encodes every step (paths, acceptances, rewards)', async () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const env = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, 24, { accept: 'sample' });
  for (const v of VARIANTS) {
    const net = new PolicyNetwork(world.dataset.items.count, { ...v, dim: 16 }, { seed: 4, items: world.dataset.items });
    const cases = Array.from({ length: 24 }, (_, i) => (i * 7) % world.dataset.cases.train.length);
    for (const sampleSeed of [11, null]) {
      const n0 = tf.memory().numTensors;
      const cached = runEpisodes(net, env, 'train', cases, sampleSeed, 3);
      assert.equal(tf.memory().numTensors, n0, 'no tensor left behind');
      const full = runEpisodes(net, env, 'train', cases, sampleSeed, 3, { cache: false });
      assert.deepEqual(cached, full);
      assert.ok(
        cached.some((p) => p.accepted.includes(0)),
        'some items were rejected',
      );
    }
    net.dispose();
  }
  env.close();
});

// Training acts through `runEpisodes` (the cached encoder, the backend's softmax, the policy's own
// mask); the benchmark through `PolicyAgent.act` (re-encoding, log-probabilities, the environment's
// action mask as well). Kept apart because merging them would move the last bits of the numbers;
// this test keeps them choosing the same actions on the same states.
test("the benchmark's PolicyAgent.act plays the same episodes as the training rollout, greedy and sampled", () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const B = 24;
  const env = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, B, { accept: 'sample' });
  const cases = Array.from({ length: B }, (_, i) => (i * 5) % world.dataset.cases.train.length);
  for (const v of VARIANTS) {
    const agent = new PolicyAgent('policy', new PolicyNetwork(world.dataset.items.count, { ...v, dim: 16 }, { seed: 8, items: world.dataset.items }));
    for (const sampleSeed of [21, null]) {
      const training = runEpisodes(agent.net, env, 'train', cases, sampleSeed, 5);
      agent.decode = sampleSeed === null ? 'greedy' : 'sample';
      const benchmark = playEpisodes(env, { act: (obs, _rows, step) => agent.act(obs, actContext(env, sampleSeed ?? 0, step)) }, cases, 5, 'train');
      assert.deepEqual(
        benchmark.map((t) => ({ items: t.items, accepted: t.accepted, stopped: t.stopped })),
        training.map((t) => ({ items: t.items, accepted: t.accepted, stopped: t.stopped })),
        `${v.encoder}/${v.itemPrior}, ${sampleSeed === null ? 'greedy' : 'sampled'}`,
      );
      assert.ok(training.some((t) => t.items.length > 1) && training.some((t) => t.accepted.includes(0)), 'the episodes are not trivial');
    }
    agent.dispose();
  }
  env.close();
});

test('items and STOP logits in one product (PolicyNetwork.stateLogits) are bit-identical to two products and a concatenation: values and gradients', () => {
  for (const [M, N] of [
    [7, 80],
    [640, 1000],
  ]) {
    const z = tf.randomNormal([M, 64], 0, 1, 'float32', 1) as tf.Tensor2D;
    const E = tf.randomNormal([N, 64], 0, 0.1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([N], 0, 0.1, 'float32', 3);
    const w = tf.randomNormal([64, 1], 0, 0.1, 'float32', 4);
    const sb = tf.randomNormal([1], 0, 0.1, 'float32', 5);
    const dy = tf.randomNormal([M, N + 1], 0, 1, 'float32', 6);
    type F = (z: tf.Tensor, E: tf.Tensor, b: tf.Tensor, w: tf.Tensor, sb: tf.Tensor) => tf.Tensor;
    const separate: F = (z, E, b, w, sb) => tf.concat([tf.add(tf.matMul(z, E, false, true), b), tf.add(tf.matMul(z, w), sb)], 1);
    const folded: F = (z, E, b, w, sb) => tf.add(tf.matMul(z, tf.concat([E, tf.transpose(w)], 0), false, true), tf.concat([b, sb]));
    const args = [z, E, b, w, sb];
    // Bit-identical on the wasm kernels; OpenBLAS (PRORL_BLAS=native) blocks a product by its
    // width, so there the two agree to float32 round-off.
    const same = (x: tf.Tensor, y: tf.Tensor, what: string) => {
      if (blasChoice() === 'wasm') return assert.deepEqual(x.dataSync(), y.dataSync(), what);
      const [u, v] = [x.dataSync(), y.dataSync()];
      u.forEach((ui, i) => assert.ok(Math.abs(ui - v[i]) <= 1e-5 * Math.max(1, Math.abs(v[i])), `${what}[${i}]: ${ui} vs ${v[i]}`));
    };
    tf.tidy(() => {
      same(folded(z, E, b, w, sb), separate(z, E, b, w, sb), `logits at M = ${M}`);
      const loss =
        (f: F) =>
        (...x: tf.Tensor[]) =>
          tf.sum(tf.mul(dy, f(x[0], x[1], x[2], x[3], x[4])));
      const gs = tf.grads(loss(separate))(args);
      const gf = tf.grads(loss(folded))(args);
      gs.forEach((g, j) => same(gf[j], g, `gradient ${j} at M = ${M}`));
    });
    tf.dispose([...args, dy]);
  }
});

test('the fused loss op equals autodiff through log-softmax and the exact KL: value, gradient, logged KL and entropy', () => {
  const M = 9;
  const A = 13;
  const rng = Rng.stream(4, 'fused');
  const u0 = tf.tensor2d(
    Float32Array.from({ length: M * A }, () => 3 * rng.normal()),
    [M, A],
  );
  const ur = tf.tensor2d(
    Float32Array.from({ length: M * A }, () => 3 * rng.normal()),
    [M, A],
  );
  const mask = new Float32Array(M * A);
  const actions = new Int32Array(M);
  for (let i = 0; i < M; i++) {
    for (let a = 0; a < A; a++) if (rng.float() < 0.3) mask[i * A + a] = -1e9;
    do actions[i] = rng.int(A);
    while (mask[i * A + actions[i]] !== 0);
  }
  const coef = Float32Array.from({ length: M }, () => rng.normal());
  const maskT = tf.tensor2d(mask, [M, A]);
  for (const kappa of [0, 0.3]) {
    let logged: { loss: number; kl: number; entropy: number; chosen: Float64Array } | null = null;
    const fused = tf.grad((u: tf.Tensor) =>
      policyGradientLoss(u as tf.Tensor2D, { mask: maskT, actions, coef, klCoef: kappa, refLogits: ur }, (l) => (logged = l)),
    )(u0);
    const parts = (u: tf.Tensor) => {
      const m = tf.tensor2d(mask, [M, A]);
      const lp = tf.logSoftmax(tf.add(u, m));
      const lr = tf.logSoftmax(tf.add(ur, m));
      const ell = tf.gather(
        tf.reshape(lp, [-1]),
        tf.tensor1d(
          Int32Array.from(actions, (a, i) => i * A + a),
          'int32',
        ),
      );
      const p = tf.exp(lp);
      const kl = tf.sum(tf.mul(p, tf.sub(lp, lr)));
      const ent = tf.neg(tf.sum(tf.mul(p, tf.maximum(lp, -1e4))));
      return { loss: tf.add(tf.sum(tf.mul(tf.tensor1d(coef), ell)), tf.mul(kappa, kl)) as tf.Scalar, kl, ent, ell };
    };
    const auto = tf.grad((u: tf.Tensor) => parts(u).loss)(u0);
    const want = tf.tidy(() => {
      const r = parts(u0);
      return { loss: r.loss.dataSync()[0], kl: r.kl.dataSync()[0], ent: r.ent.dataSync()[0], ell: Array.from(r.ell.dataSync()) };
    });
    const l = logged as unknown as { loss: number; kl: number; entropy: number; chosen: Float64Array };
    const close = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) <= 1e-5 * (1 + Math.abs(y)), `${what}: ${x} vs ${y}`);
    close(l.loss, want.loss, 'loss');
    close(l.kl, want.kl, 'KL');
    close(l.entropy, want.ent, 'entropy');
    want.ell.forEach((x, i) => close(l.chosen[i], x, `ℓ_${i}`));
    const g1 = fused.dataSync();
    const g2 = auto.dataSync();
    for (let i = 0; i < g1.length; i++) close(g1[i], g2[i], `∂loss/∂u[${i}]`);
    fused.dispose();
    auto.dispose();
  }
  const bad = Int32Array.from(actions);
  const forbidden = mask.findIndex((x) => x !== 0);
  bad[Math.floor(forbidden / A)] = forbidden % A;
  const before = tf.memory().numTensors;
  assert.throws(() => policyGradientLoss(u0, { mask: maskT, actions: bad, coef, klCoef: 0, refLogits: ur }), /is not an allowed action/);
  assert.equal(tf.memory().numTensors, before, 'a rejected action leaks no tensor');
  tf.dispose([maskT, u0, ur]);
});

test('maskTensor is buildMask built in place on the backend', () => {
  const world = generateSyntheticWorld(WORLD);
  const net = new PolicyNetwork(world.dataset.items.count, { ...VARIANTS[1], dim: 8, maxLength: 5 }, { seed: 1, trainable: false, items: world.dataset.items });
  const traj = packPaths([
    { history: world.dataset.cases.train[0].history, target: 3, items: [5, 7], accepted: [1, 1] },
    { history: world.dataset.cases.train[1].history, target: 9, items: [2], accepted: [0] },
  ]);
  const extra = [null, Uint8Array.from({ length: net.numItems + 1 }, (_, a) => (a % 3 === 0 ? 0 : 1))];
  for (const terms of [trainingTerms(traj, net.stop), nextTerms(traj)]) {
    const want = net.buildMask(traj, terms, extra, { maskHistory: true });
    const before = tf.memory().numTensors;
    const t = net.maskTensor(traj, terms, extra, { maskHistory: true });
    assert.deepEqual(t.shape, [terms.count, net.numItems + 1]);
    assert.deepEqual(t.dataSync(), want);
    t.dispose();
    assert.equal(tf.memory().numTensors, before);
    // Into a used buffer: the same values (it is cleared first).
    assert.deepEqual(net.buildMask(traj, terms, extra, { maskHistory: true }, new Float32Array(want.length).fill(7)), want);
  }
  assert.throws(() => net.buildMask(traj, nextTerms(traj), null, {}, new Float32Array(3)), /3 values for/);
  net.dispose();
});

test('policyGradientStep with the fused loss equals the autodiff loss: weights after three updates, logged statistics', () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const G = 4;
  const env = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, 8 * G, { accept: 'sample', maxLength: 5 });
  for (const [v, beta] of [
    [VARIANTS[1], 0.1],
    [VARIANTS[2], 0],
  ] as const) {
    const make = (trainable: boolean, seed: number) =>
      new PolicyNetwork(world.dataset.items.count, { ...v, dim: 16, maxLength: 5 }, { seed, trainable, items: world.dataset.items });
    const fused = make(true, 1);
    const plain = make(true, 1);
    const ref = make(false, 2);
    const opt = (n: PolicyNetwork) => new AdamW(n.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
    const oF = opt(fused);
    const oP = opt(plain);
    const cases = Array.from({ length: 8 }, (_, j) => j * 3).flatMap((c) => new Array<number>(G).fill(c));
    for (let it = 0; it < 3; it++) {
      const paths = runEpisodes(fused, env, 'train', cases, it, 1);
      const rollouts: Rollout[] = paths.map((p, k) => ({
        group: Math.floor(k / G),
        rewards: Float64Array.from(p.ioi, (x, t) => x + 0.01 * p.ior[t] + p.ctr[t]),
        stopped: p.stopped,
      }));
      const traj = packPaths(paths);
      const adv = reinforce(rollouts);
      const a = policyGradientStep(fused, ref, traj, adv, oF, { groupSize: G, chunks: 2, beta });
      const b = policyGradientStep(plain, ref, traj, adv, oP, { groupSize: G, chunks: 2, beta, fusedLoss: false });
      for (const k of Object.keys(a) as (keyof typeof a)[])
        assert.ok(Math.abs(a[k] - b[k]) <= 1e-4 * (1 + Math.abs(b[k])), `update ${it}: ${k} ${a[k]} vs ${b[k]}`);
      const wF = fused.params.snapshot();
      const wP = plain.params.snapshot();
      for (const k of fused.params.keys)
        for (let i = 0; i < wF[k].length; i++) assert.ok(Math.abs(wF[k][i] - wP[k][i]) < 1e-5, `update ${it}: ${k}[${i}] ${wF[k][i]} vs ${wP[k][i]}`);
    }
    for (const x of [fused, plain, ref]) x.dispose();
    oF.dispose();
    oP.dispose();
  }
  env.close();
});

test('policyGradientStep with the update worker equals the main thread alone (chunks: identical; one chunk split in two: round-off)', async () => {
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const G = 4;
  const env = new ProactiveRecVectorEnv('synthetic-v0', { dataset: world.dataset, simulator: sim, evaluator: sim }, 8 * G, { maxLength: 5 });
  const make = (trainable: boolean, seed: number) =>
    new PolicyNetwork(world.dataset.items.count, { ...VARIANTS[1], dim: 16, maxLength: 5 }, { seed, trainable, items: world.dataset.items });
  const withW = make(true, 1);
  const alone = make(true, 1);
  const ref = make(false, 2);
  const opt = (n: PolicyNetwork) => new AdamW(n.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
  const oW = opt(withW);
  const oA = opt(alone);
  const worker = await UpdateWorker.start(withW);
  try {
    const cases = Array.from({ length: 8 }, (_, j) => j * 5).flatMap((c) => new Array<number>(G).fill(c));
    for (const chunks of [4, 3, 1]) {
      const paths = runEpisodes(alone, env, 'train', cases, chunks, 1);
      const rollouts: Rollout[] = paths.map((p, k) => ({
        group: Math.floor(k / G),
        rewards: Float64Array.from(p.ioi, (x, t) => x + 0.01 * p.ior[t] + p.ctr[t]),
        stopped: p.stopped,
      }));
      const traj = packPaths(paths);
      const adv = reinforce(rollouts);
      const n0 = tf.memory().numTensors;
      const a = policyGradientStep(withW, ref, traj, adv, oW, { groupSize: G, chunks, beta: 0.05, worker });
      // (the first update creates the optimiser's moments)
      if (chunks !== 4) assert.equal(tf.memory().numTensors, n0, 'no tensor left behind');
      const b = policyGradientStep(alone, ref, traj, adv, oA, { groupSize: G, chunks, beta: 0.05 });
      const wW = withW.params.snapshot();
      const wA = alone.params.snapshot();
      if (chunks > 1) {
        assert.deepEqual(a, b);
        assert.deepEqual(wW, wA);
      } else {
        for (const k of Object.keys(a) as (keyof typeof a)[]) assert.ok(Math.abs(a[k] - b[k]) <= 1e-5 * (1 + Math.abs(b[k])), `${k} ${a[k]} vs ${b[k]}`);
        for (const k of withW.params.keys) for (let i = 0; i < wW[k].length; i++) assert.ok(Math.abs(wW[k][i] - wA[k][i]) < 1e-6, `${k}[${i}]`);
        // Continue from the same weights.
        withW.params.restore(wA);
        oW.setState(oA.state());
      }
    }
  } finally {
    await worker.terminate();
    env.close();
  }
});

test('PRORL_RL_WORKERS is 0 or 1, default 0', () => {
  const saved = process.env[RL_WORKERS_ENV];
  try {
    delete process.env[RL_WORKERS_ENV];
    assert.equal(rlWorkers(), 0);
    process.env[RL_WORKERS_ENV] = '0';
    assert.equal(rlWorkers(), 0);
    process.env[RL_WORKERS_ENV] = '1';
    assert.equal(rlWorkers(), 1);
    process.env[RL_WORKERS_ENV] = 'two';
    assert.throws(() => rlWorkers(), /PRORL_RL_WORKERS must be 0 or 1, got 'two'/);
  } finally {
    if (saved === undefined) delete process.env[RL_WORKERS_ENV];
    else process.env[RL_WORKERS_ENV] = saved;
  }
});
