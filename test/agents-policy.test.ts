/**
 * The item-level policy network: masks, seeded sampling, beam search, the gradients of its
 * log-probabilities (finite differences), the KL term's gradient, and tensor hygiene.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { makeVec } from '../envs/index.ts';
import { Rng } from '../core/rng.ts';
import { ensureBackend } from '../agents/nn.ts';
import { beamSearch, nextTerms, packPaths, PolicyNetwork, sampleActions, trainingTerms, type PathRecord } from '../agents/policy.ts';
import { PolicyAgent } from '../agents/policy-agent.ts';
import { actContext } from '../agents/agent.ts';

const WORLD = { numItems: 60, numUsers: 120 };

before(async () => {
  await ensureBackend();
});

/** Random paths over N items: distinct items, none the target or in the history. */
function randomPaths(rng: Rng, N: number, B: number, maxLen: number): PathRecord[] {
  return Array.from({ length: B }, () => {
    const pool = rng.shuffle(Array.from({ length: N }, (_, i) => i));
    const history = pool.slice(0, 10);
    const target = pool[10];
    const L = rng.int(maxLen + 1);
    return { history, target, items: pool.slice(11, 11 + L), stopped: rng.float() < 0.5 };
  });
}

for (const encoder of ['attention', 'gru'] as const) {
  test(`${encoder}: forbidden actions get probability 0 and sampling never picks them`, () => {
    const N = 40;
    const net = new PolicyNetwork(N, { itemPrior: 'none', encoder, dim: 16 }, { seed: 3 });
    const rng = Rng.stream(1, 'paths');
    const paths = randomPaths(rng, N, 32, 5);
    const traj = packPaths(paths);
    // An extra (environment) mask forbidding item 0 on every row.
    const extra = paths.map(() => {
      const m = new Uint8Array(N + 1).fill(1);
      m[0] = 0;
      return m;
    });
    const logp = net.nextLogProbs(traj, extra);
    const A = N + 1;
    paths.forEach((p, b) => {
      let total = 0;
      for (let a = 0; a < A; a++) total += Math.exp(logp[b * A + a]);
      assert.ok(Math.abs(total - 1) < 1e-4, `row ${b} sums to ${total}`);
      const forbidden = new Set<number>([p.target, 0, ...Array.from(p.history), ...Array.from(p.items)]);
      for (const a of forbidden) assert.ok(Math.exp(logp[b * A + a]) === 0, `row ${b}: forbidden action ${a} has probability ${Math.exp(logp[b * A + a])}`);
      assert.ok(Math.exp(logp[b * A + N]) > 0, 'STOP is always allowed');
    });
    const draws = new Rng(7);
    for (let k = 0; k < 20; k++) {
      const actions = sampleActions(logp, paths.length, A, 'log', () => draws);
      actions.forEach((a, b) => assert.ok(a === N || !new Set([paths[b].target, 0, ...Array.from(paths[b].history), ...Array.from(paths[b].items)]).has(a)));
    }
    net.dispose();
  });
}

test('acting in the environment: every sampled action is valid (the env rejects invalid ones)', async () => {
  const env = await makeVec('synthetic-v0', 24, { world: WORLD, split: 'train' });
  const agent = new PolicyAgent('p', new PolicyNetwork(env.numItems, { itemPrior: 'none', dim: 16 }, { seed: 1 }), 'sample');
  let { observations } = env.reset({ seed: 1 });
  let steps = 0;
  while (env.active().some((x) => x)) {
    const r = env.step(agent.act(observations, actContext(env, 1, steps)));
    observations = r.observations;
    steps++;
  }
  assert.ok(steps >= 1 && steps <= env.config.maxLength + 1);
  agent.dispose();
  env.close();
});

test('sampling is deterministic per seed', () => {
  const N = 50;
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5 });
  const traj = packPaths(randomPaths(Rng.stream(2, 'p'), N, 64, 4));
  const logp = net.nextLogProbs(traj);
  const streams = (seed: number) => (b: number) => Rng.stream(seed, `sampling-${b}`);
  const a1 = sampleActions(logp, 64, N + 1, 'log', streams(11));
  const a2 = sampleActions(logp, 64, N + 1, 'log', streams(11));
  const a3 = sampleActions(logp, 64, N + 1, 'log', streams(12));
  assert.deepEqual(a1, a2);
  assert.notDeepEqual(a1, a3);
  // The same weights from the same seed: identical distributions.
  const again = new PolicyNetwork(N, { itemPrior: 'none', dim: 16 }, { seed: 5 });
  assert.deepEqual(again.nextLogProbs(traj), logp);
  net.dispose();
  again.dispose();
});

test('beam search: K distinct valid paths per case, ordered by their log-probability', () => {
  const N = 30;
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 16, maxLength: 4 }, { seed: 9 });
  const cases = randomPaths(Rng.stream(3, 'p'), N, 6, 0).map((p) => ({ history: p.history, target: p.target }));
  const K = 5;
  for (const stopRule of ['gate', 'joint'] as const) {
    const out = beamSearch(net, cases, K, 4, { stopRule });
    out.forEach((paths, c) => {
      assert.equal(paths.length, K, `case ${c}: ${paths.length} paths`);
      const keys = new Set(paths.map((p) => `${p.items.join(',')}|${p.stopped}`));
      assert.equal(keys.size, K, 'paths are distinct');
      for (let i = 1; i < K; i++) assert.ok(paths[i - 1].logProb >= paths[i].logProb - 1e-9, 'ordered by score');
      for (const p of paths) {
        assert.ok(p.items.length <= 4);
        assert.equal(new Set(p.items).size, p.items.length, 'no repeats');
        for (const i of p.items) assert.ok(i !== cases[c].target && !Array.from(cases[c].history).includes(i) && i >= 0 && i < N);
        // The score is the path's log-probability under the network (STOP term included when stopped).
        const lp = net.pathLogProbs(packPaths([{ ...cases[c], items: p.items, stopped: p.stopped }]))[0];
        assert.ok(Math.abs(lp - p.logProb) < 1e-3, `score ${p.logProb} vs log-probability ${lp}`);
      }
    });
  }
  net.dispose();
});

/**
 * Finite differences (issue 6): for random small instances, the directional derivative of
 * Σ log π over all terms along random directions v matches (f(θ+εv) − f(θ−εv)) / 2ε.
 */
for (const encoder of ['attention', 'gru'] as const) {
  test(`${encoder}: log-probability gradients match central finite differences`, () => {
    const rng = Rng.stream(4, `fd-${encoder}`);
    for (let instance = 0; instance < 3; instance++) {
      const N = 12;
      const net = new PolicyNetwork(N, { itemPrior: 'none', encoder, dim: 6, maxLength: 3 }, { seed: 100 + instance });
      // Six paths over N items: history of 8 distinct items (two repeated), target, 0-3 path items,
      // STOP or not; with the GRU one path item is rejected (accept: 'sample').
      const valid = Array.from({ length: 6 }, (_, k) => {
        const pool = Rng.stream(50 + k + instance * 10, 'pool').shuffle(Array.from({ length: N }, (_, i) => i));
        const L = k % 4;
        return {
          history: Array.from({ length: 10 }, (_, j) => pool[j % 8]),
          target: pool[8],
          items: pool.slice(9, 9 + L),
          stopped: k % 2 === 0,
          accepted: [1, encoder === 'gru' ? 0 : 1, 1],
        };
      });
      const traj = packPaths(valid);
      const terms = trainingTerms(traj, net.stop);
      const mask = net.buildMask(traj, terms);
      const f = (): number => {
        const t = tf.tidy(() => tf.sum(net.chosenLogProbs(net.termLogProbs(traj, terms, mask), terms)));
        const v = t.dataSync()[0];
        t.dispose();
        return v;
      };
      const vars = net.params.list();
      const { value, grads } = tf.variableGrads(() => tf.sum(net.chosenLogProbs(net.termLogProbs(traj, terms, mask), terms)) as tf.Scalar, vars);
      value.dispose();
      const g = vars.map((v) => grads[v.name].dataSync().slice());
      tf.dispose(Object.values(grads));
      const base = net.params.snapshot();
      for (let dir = 0; dir < 3; dir++) {
        // A random unit direction over all parameters (a small total step: the head has ReLU kinks).
        const vdir = vars.map((v) => Float32Array.from({ length: v.size }, () => rng.normal()));
        const norm = Math.sqrt(vdir.reduce((a, d) => a + d.reduce((x, y) => x + y * y, 0), 0));
        vdir.forEach((d) => d.forEach((x, j) => (d[j] = x / norm)));
        let analytic = 0;
        vdir.forEach((d, i) => d.forEach((x, j) => (analytic += x * g[i][j])));
        const eps = 2e-3;
        const shifted = (sign: number) => {
          const vals: Record<string, Float32Array> = {};
          net.params.keys.forEach((k, i) => (vals[k] = base[k].map((x, j) => x + sign * eps * vdir[i][j])));
          net.params.restore(vals);
          return f();
        };
        const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
        net.params.restore(base);
        const tol = 1e-2 * Math.max(1, Math.abs(analytic));
        assert.ok(Math.abs(numeric - analytic) < tol, `instance ${instance} dir ${dir}: analytic ${analytic}, numeric ${numeric}`);
      }
      net.dispose();
    }
  });
}

test('the exact KL term has a real gradient; the official sampled log-ratio has zero expected gradient', () => {
  const N = 20;
  const net = new PolicyNetwork(N, { itemPrior: 'none', dim: 8 }, { seed: 1 });
  const ref = new PolicyNetwork(N, { itemPrior: 'none', dim: 8 }, { seed: 2, trainable: false, label: 'reference' });
  const traj = packPaths(randomPaths(Rng.stream(6, 'p'), N, 8, 2));
  const terms = nextTerms(traj);
  const mask = net.buildMask(traj, terms);
  const refLogp = tf.tidy(() => ref.termLogProbs(traj, terms, mask));
  const vars = net.params.list();
  // Exact KL(π ‖ π_ref) per state, summed: the gradient is not zero (π ≠ π_ref).
  const exact = tf.variableGrads(() => {
    const logp = net.termLogProbs(traj, terms, mask);
    return tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, refLogp))) as tf.Scalar;
  }, vars);
  const normExact = tf.tidy(() => tf.sqrt(tf.addN(Object.values(exact.grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  // The official loss β(ℓ(a) − ℓ_ref(a)) on a ∼ π: its expected gradient Σ_a π(a) ∇(ℓ(a) − ℓ_ref(a)),
  // computed exactly over all actions with π's weights held fixed, is Σ_a ∇π(a) = 0.
  const weights = tf.tidy(() => tf.exp(net.termLogProbs(traj, terms, mask)));
  const official = tf.variableGrads(() => tf.sum(tf.mul(weights, tf.sub(net.termLogProbs(traj, terms, mask), refLogp))) as tf.Scalar, vars);
  const normOfficial = tf.tidy(() => tf.sqrt(tf.addN(Object.values(official.grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  assert.ok(normExact > 1e-3, `exact KL gradient norm ${normExact}`);
  assert.ok(normOfficial < 1e-4 * Math.max(1, normExact) + 1e-5, `expected gradient of the sampled log-ratio: ${normOfficial}`);
  // A small step against the exact KL's gradient lowers the KL.
  const before = exact.value.dataSync()[0];
  vars.forEach((v) => tf.tidy(() => v.assign(tf.sub(v, tf.mul(exact.grads[v.name], 0.01)))));
  const after = tf.tidy(() => {
    const logp = net.termLogProbs(traj, terms, mask);
    return tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, refLogp)));
  });
  assert.ok(after.dataSync()[0] < before, `KL ${before} -> ${after.dataSync()[0]}`);
  tf.dispose([exact.value, official.value, refLogp, weights, after, ...Object.values(exact.grads), ...Object.values(official.grads)]);
  net.dispose();
  ref.dispose();
});

test('acting and beam search leave no tensors behind', async () => {
  const env = await makeVec('synthetic-v0', 8, { world: WORLD, split: 'test' });
  const agent = new PolicyAgent('p', new PolicyNetwork(env.numItems, { itemPrior: 'none', dim: 16 }, { seed: 1 }));
  const { observations } = env.reset({ seed: 2 });
  const ctx = actContext(env, 1, 0);
  agent.act(observations, ctx);
  agent.proposePaths(observations, 3, ctx);
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    agent.act(observations, ctx);
    agent.proposePaths(observations, 3, ctx);
  }
  assert.equal(tf.memory().numTensors, n0);
  agent.dispose();
  env.close();
});
