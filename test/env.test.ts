import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEnv, make, makeVec, listEnvs, UnknownEnvError, generateSyntheticWorld, SyntheticExactSimulator, shareAttribute, sigmoid } from '../envs/index.ts';
import { ValidationError } from '../core/validate.ts';

const SMALL = { world: { numItems: 120, numUsers: 150, seed: 3 } };

test('synthetic-v0 passes checkEnv (default size and a small world, both invalid-action modes)', async () => {
  checkEnv(await make('synthetic-v0'));
  checkEnv(await make('synthetic-v0', SMALL), { seeds: [10, 11, 12] });
  checkEnv(await make('synthetic-v0', { ...SMALL, accept: 'sample' }), { seeds: [1, 2] });
  checkEnv(await make('synthetic-v0', { ...SMALL, invalidAction: 'penalize' }), { seeds: [1, 2] });
});

test('IoI and IoR telescope to the change in log p(T) and rank(T); CTR is sigmoid of the score before the step', async () => {
  const env = await make('synthetic-v0', SMALL);
  const sim = env.world.simulator;
  for (const seed of [1, 2, 3]) {
    const { observation, info } = env.reset({ seed });
    let obs = observation;
    const seq = [...obs.history];
    let sumIoi = 0;
    let sumIor = 0;
    let last: { info: { logProbAfter: number; rankAfter: number; episode: unknown } } | null = null;
    for (let t = 0; t < 4; t++) {
      const action = obs.actionMask.findIndex((m, a) => m === 1 && a !== obs.target && a >= 5 * t + seed);
      const b = sim.open([seq]);
      const expectedCtr = sigmoid(b.scores()[action]);
      const r = env.step(action);
      assert.ok(Math.abs(r.info.ctr - expectedCtr) < 1e-6, `ctr ${r.info.ctr} vs ${expectedCtr}`);
      seq.push(action);
      sumIoi += r.info.ioi;
      sumIor += r.info.ior;
      obs = r.observation;
      last = r;
      const fresh = sim.open([seq]).targetStats(Int32Array.of(obs.target));
      assert.ok(Math.abs(fresh.logProb[0] - r.info.logProbAfter) < 1e-9, 'incremental state equals recomputation');
      assert.equal(fresh.rank[0], r.info.rankAfter);
    }
    assert.ok(Math.abs(sumIoi - (last!.info.logProbAfter - (info.logProb as number))) < 1e-9);
    assert.equal(sumIor, (info.rank as number) - last!.info.rankAfter);
    const end = env.step(env.actionSpace.stop);
    assert.equal(end.terminated, true);
    assert.equal(end.info.episode!.length, 4);
    assert.ok(Math.abs(end.info.episode!.ioi - sumIoi) < 1e-9);
  }
});

test('the vector env gives the same transitions as single envs, row by row', async () => {
  const vec = await makeVec('synthetic-v0', 3, SMALL);
  const single = await make('synthetic-v0', SMALL);
  const cases = [0, 5, 9];
  let { observations } = vec.reset({ seed: 1, options: { caseIndices: cases } });
  const actionsPerStep: number[][] = [];
  const vecRewards: number[][] = [];
  for (let t = 0; t < 3; t++) {
    const acts = observations.map((o, k) => o.actionMask.findIndex((m, a) => m === 1 && a > 10 * (t + k)));
    actionsPerStep.push(acts);
    const r = vec.step(Int32Array.from(acts));
    vecRewards.push([...r.rewards]);
    observations = r.observations;
  }
  cases.forEach((c, k) => {
    single.reset({ seed: 1, options: { caseIndex: c } });
    for (let t = 0; t < 3; t++) assert.equal(single.step(actionsPerStep[t][k]).reward, vecRewards[t][k]);
  });
});

test('truncation at maxLength, STOP terminates, finished rows ignore actions until reset', async () => {
  const vec = await makeVec('synthetic-v0', 2, { ...SMALL, maxLength: 2 });
  let { observations } = vec.reset({ seed: 4 });
  const stop = vec.actionSpace.stop;
  const first = observations.map((o) => o.actionMask.findIndex((m) => m === 1));
  let r = vec.step(Int32Array.from([stop, first[1]]));
  assert.deepEqual([...r.terminated], [1, 0]);
  assert.equal(r.infos[0].episode!.length, 0);
  assert.equal(r.infos[0].episode!.coherence, null);
  observations = r.observations;
  r = vec.step(Int32Array.from([0, observations[1].actionMask.findIndex((m) => m === 1)]));
  assert.equal(r.infos[0].active, false, 'a finished row ignores its action');
  assert.equal(r.rewards[0], 0);
  assert.deepEqual([...r.truncated], [0, 1]);
  assert.equal(r.infos[1].episode!.length, 2);
  assert.deepEqual([...vec.active()], [0, 0]);
  assert.equal(
    r.observations[1].actionMask.subarray(0, stop).reduce((a, b) => a + b, 0),
    0,
    'no item allowed after truncation',
  );
});

test("invalid actions: 'error' throws and changes nothing; 'penalize' charges and appends nothing", async () => {
  const env = await make('synthetic-v0', SMALL);
  const { observation } = env.reset({ seed: 2 });
  assert.throws(() => env.step(observation.target), /target/);
  assert.throws(() => env.step(env.actionSpace.n), /not an item/);
  const ok = env.step(observation.actionMask.findIndex((m) => m === 1));
  assert.equal(ok.observation.step, 1);
  const pen = await make('synthetic-v0', { ...SMALL, invalidAction: 'penalize', invalidPenalty: -2 });
  const o2 = pen.reset({ seed: 2 }).observation;
  const r = pen.step(o2.target);
  assert.equal(r.reward, -2);
  assert.equal(r.info.invalid, true);
  assert.equal(r.observation.path.length, 0);
  assert.equal(r.observation.step, 1);
});

test("accept 'sample': the draws are seeded, rejected items are not appended", async () => {
  const env = await make('synthetic-v0', { ...SMALL, accept: 'sample', maxLength: 10 });
  const run = (seed: number) => {
    let { observation: o } = env.reset({ seed, options: { caseIndex: 0 } });
    const accepted: boolean[] = [];
    for (let t = 0; t < 10; t++) {
      const r = env.step(o.actionMask.findIndex((m, a) => m === 1 && a >= 7 * t));
      accepted.push(r.info.accepted);
      if (!r.info.accepted) assert.equal(r.info.ioi, 0);
      o = r.observation;
      assert.equal(o.path.length, accepted.filter(Boolean).length);
    }
    return accepted;
  };
  assert.deepEqual(run(1), run(1));
  const runs = [1, 2, 3, 4, 5].map((s) => JSON.stringify(run(s)));
  assert.ok(new Set(runs).size > 1, 'different seeds give different acceptance draws');
});

test('the observation says which proposed items were accepted, exactly, also when the same item is proposed again after a rejection', async () => {
  const env = await make('synthetic-v0', { ...SMALL, accept: 'sample', allowRepeats: true, maxLength: 10 });
  let sawRepeatAfterRejection = false;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    let { observation: o } = env.reset({ seed, options: { caseIndex: 0 } });
    const flags: number[] = [];
    // Propose two items alternately, so that an item comes back after being rejected.
    for (let t = 0; t < 10; t++) {
      const item = [3, 5][t % 2] === o.target ? 7 : [3, 5][t % 2];
      const r = env.step(item);
      flags.push(r.info.accepted ? 1 : 0);
      o = r.observation;
      assert.deepEqual([...o.accepted], flags, `seed ${seed} step ${t}`);
      assert.deepEqual(
        [...o.path],
        [...o.proposed].filter((_, i) => o.accepted[i] === 1),
      );
      const first = [...o.proposed].indexOf(item);
      if (first < o.proposed.length - 1 && o.accepted[first] === 0 && o.accepted[o.proposed.length - 1] === 1) sawRepeatAfterRejection = true;
      if (r.terminated || r.truncated) break;
    }
  }
  assert.ok(sawRepeatAfterRejection, 'some episode re-proposed a rejected item and had it accepted (the case subsequence matching got wrong)');
});

test('the synthetic world: deterministic per seed, users disjoint across splits, coherent real paths, test targets outside the history', () => {
  const a = generateSyntheticWorld({ seed: 5, numItems: 100, numUsers: 90 });
  const b = generateSyntheticWorld({ seed: 5, numItems: 100, numUsers: 90 });
  const c = generateSyntheticWorld({ seed: 6, numItems: 100, numUsers: 90 });
  assert.deepEqual(a.dataset.sequences, b.dataset.sequences);
  assert.notDeepEqual(a.dataset.sequences, c.dataset.sequences);
  assert.equal(a.dataset.meta.hash, b.dataset.meta.hash);
  assert.notEqual(a.dataset.meta.hash, c.dataset.meta.hash);
  const ds = a.dataset;
  const users = (s: 'train' | 'valid' | 'test') => new Set(ds.cases[s].map((x) => x.user));
  for (const u of users('test')) assert.ok(!users('train').has(u) && !users('valid').has(u));
  for (const u of users('valid')) assert.ok(!users('train').has(u));
  for (const c of [...ds.cases.train, ...ds.cases.valid]) {
    const run = [...c.path!, c.target];
    assert.ok(run.length >= 2 && run.length <= 10);
    for (let i = 0; i + 1 < run.length; i++) assert.ok(shareAttribute(ds.items, run[i], run[i + 1]), 'real paths are attribute-coherent');
  }
  for (const c of ds.cases.test) {
    assert.equal(c.history.length, 10);
    assert.ok(!c.history.includes(c.target));
  }
  assert.throws(() => generateSyntheticWorld({ numItems: 3 }), ValidationError);
});

test('guidance is possible: the real coherent path raises the target probability more than a random path', () => {
  const world = generateSyntheticWorld({ seed: 1, numItems: 300, numUsers: 400 });
  const sim = new SyntheticExactSimulator(world);
  let realGain = 0;
  let randomGain = 0;
  const cases = world.dataset.cases.valid.filter((c) => c.path!.length >= 2).slice(0, 100);
  cases.forEach((c, k) => {
    const before = sim.open([c.history]).targetStats(Int32Array.of(c.target)).logProb[0];
    const real = sim.open([[...c.history, ...c.path!]]).targetStats(Int32Array.of(c.target)).logProb[0];
    const rnd = c.path!.map((_, i) => (c.target + 17 * (i + 1) + k) % 300);
    const random = sim.open([[...c.history, ...rnd]]).targetStats(Int32Array.of(c.target)).logProb[0];
    realGain += real - before;
    randomGain += random - before;
  });
  assert.ok(
    realGain / cases.length > 0.5 && realGain > randomGain + 0.5 * cases.length,
    `real ${realGain / cases.length}, random ${randomGain / cases.length}`,
  );
});

test('a batch does not depend on its composition: each row scores the same alone or with others', () => {
  const world = generateSyntheticWorld({ seed: 2, numItems: 80, numUsers: 60 });
  const sim = new SyntheticExactSimulator(world);
  const seqs = [[1, 2, 3], [4, 5, 6, 7, 8], [9]];
  const together = sim.open(seqs).scores();
  seqs.forEach((s, r) => assert.deepEqual(sim.open([s]).scores(), together.subarray(r * 80, (r + 1) * 80)));
  assert.throws(() => sim.open([[]]), /empty/);
  assert.throws(() => sim.open([[80]]), /not in/);
});

test('registry: listing, unknown ids list the known ones, bad overrides name the field', async () => {
  assert.ok(listEnvs().some((e) => e.id === 'synthetic-v0'));
  await assert.rejects(make('nope-v0'), (e: unknown) => e instanceof UnknownEnvError && /synthetic-v0/.test((e as Error).message));
  await assert.rejects(make('synthetic-v0', { maxLength: 0 }), /maxLength/);
  await assert.rejects(make('synthetic-v0', { accept: 'maybe' as 'always' }), /accept.*always.*sample/s);
  await assert.rejects(make('synthetic-v0', { world: { numItems: 120, colour: 1 } }), /colour/);
});

test('satiation: an item sharing attributes with n of the last `window` accepted items has CTR × (1 − strength)^n', async () => {
  const { shareAttribute } = await import('../data/dataset.ts');
  const plain = await makeVec('synthetic-v0', 1, { ...SMALL });
  const sated = await makeVec('synthetic-v0', 1, { ...SMALL, satiation: { strength: 0.4, window: 2 } });
  const items = plain.world.dataset.items;
  const { observations } = plain.reset({ seed: 4, options: { caseIndices: [5] } });
  sated.reset({ seed: 4, options: { caseIndices: [5] } });
  // A path of items that share attributes with each other, so satiation applies.
  const first = observations[0].actionMask.indexOf(1);
  const path = [first];
  for (let i = 0; i < items.count && path.length < 5; i++)
    if (i !== observations[0].target && !path.includes(i) && shareAttribute(items, i, first)) path.push(i);
  for (let t = 0; t < path.length; t++) {
    const a = plain.step([path[t]]).infos[0];
    const b = sated.step([path[t]]).infos[0];
    const n = path.slice(Math.max(0, t - 2), t).filter((p) => shareAttribute(items, p, path[t])).length;
    assert.ok(Math.abs(b.ctr - a.ctr * 0.6 ** n) < 1e-12, `step ${t}: ${b.ctr} vs ${a.ctr}·0.6^${n}`);
    assert.equal(b.ioi, a.ioi, 'accept: always appends every item: the interest shift is unchanged');
  }
  plain.close();
  sated.close();
});

test('patience: the user leaves at the k-th rejection; the episode ends there and pays the penalty', async () => {
  const env = await make('synthetic-v0', { ...SMALL, accept: 'sample', patience: { rejections: 2, penalty: -5 } });
  let left = 0;
  for (let seed = 0; seed < 30; seed++) {
    const { observation } = env.reset({ seed });
    let obs = observation;
    let rejected = 0;
    let sum = 0;
    for (;;) {
      const r = env.step(obs.actionMask.lastIndexOf(1, env.actionSpace.stop - 1)); // an unlikely item: many rejections
      sum += r.reward;
      if (!r.info.accepted) rejected++;
      if (r.terminated || r.truncated) {
        const e = r.info.episode!;
        assert.ok(Math.abs(e.return - sum) < 1e-9);
        if (e.left) {
          left++;
          assert.equal(rejected, 2);
          assert.ok(r.terminated && r.info.left);
          assert.ok(r.reward <= -5 + 1 + 1e-9, 'the penalty is paid on the step the user leaves');
        } else assert.ok(rejected < 2);
        break;
      }
      obs = r.observation;
    }
  }
  assert.ok(left > 0, 'some users left');
  env.close();
});
