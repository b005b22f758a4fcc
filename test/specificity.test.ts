/**
 * Target specificity (benchmarks/specificity.ts): its IoI equals the environment's, an empty path
 * is target-blind (0 and 0.5), a target chosen as the item the path raises most scores near 1, and
 * `bench specificity DIR` reads a result folder (bad input exits 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import '../envs/index.ts';
import { makeVec } from '../envs/registry.ts';
import { Rng } from '../core/rng.ts';
import { main } from '../benchmarks/cli.ts';
import { pathSpecificity, type PathCase } from '../benchmarks/specificity.ts';

const WORLD = { numItems: 80, numUsers: 100 };
const work = mkdtempSync(path.join(tmpdir(), 'prorec-specificity-'));
after(() => rmSync(work, { recursive: true, force: true }));

test("IoI equals the environment's; an empty path is blind to its target; a target the path favours scores near 1", async () => {
  const n = 12;
  const env = await makeVec('synthetic-v0', n, { world: WORLD, split: 'test' });
  const rng = Rng.stream(3, 'agent');
  let { observations } = env.reset({ seed: 3, options: { caseIndices: Array.from({ length: n }, (_, i) => i) } });
  const ioi = new Float64Array(n);
  const paths: number[][] = Array.from({ length: n }, () => []);
  // Three random allowed items per case, as the environment steps them.
  for (let t = 0; t < 3; t++) {
    const actions = Int32Array.from(observations, (o) => {
      for (;;) {
        const a = rng.int(env.numItems);
        if (o.actionMask[a]) return a;
      }
    });
    const r = env.step(actions);
    r.infos.forEach((info, k) => {
      if (!info.active) return;
      ioi[k] += info.ioi;
      paths[k].push(actions[k]);
    });
    observations = r.observations;
  }
  const cases: PathCase[] = observations.map((o, k) => ({ history: [...o.history], target: o.target, path: paths[k] }));
  const spec = pathSpecificity(env.world.simulator, cases, 5);
  spec.forEach((s, k) => {
    assert.ok(Math.abs(s.ioi - ioi[k]) < 1e-4, `case ${k}: ${s.ioi} vs the env's ${ioi[k]}`);
    assert.ok(Math.abs(s.specific - (s.ioi - s.randomTargetIoi)) < 1e-12);
    assert.ok(s.percentile >= 0 && s.percentile <= 1);
  });
  // Chunking does not change anything.
  assert.deepEqual(pathSpecificity(env.world.simulator, cases, 1000), spec);
  // No path: every item's IoI is 0, the target sits in the middle.
  for (const s of pathSpecificity(
    env.world.simulator,
    cases.map((c) => ({ ...c, path: [] })),
  )) {
    assert.equal(s.ioi, 0);
    assert.equal(s.specific, 0);
    assert.equal(s.percentile, 0.5);
  }
  // The item each path raises most, taken as the target: specific > 0 and percentile near 1.
  const favoured = cases.map((c) => {
    const excluded = new Set([...c.history, ...c.path]);
    let best = -1;
    let bestIoi = -Infinity;
    for (let i = 0; i < env.numItems; i++) {
      if (excluded.has(i)) continue;
      const s = pathSpecificity(env.world.simulator, [{ ...c, target: i }])[0];
      if (s.ioi > bestIoi) {
        bestIoi = s.ioi;
        best = i;
      }
    }
    return { ...c, target: best };
  });
  for (const s of pathSpecificity(env.world.simulator, favoured)) {
    assert.ok(s.specific > 0, `specific ${s.specific}`);
    assert.ok(s.percentile > 0.95, `percentile ${s.percentile}`);
  }
  env.close();
});

test('bench specificity DIR prints a row per agent and writes --out; bad input exits 2', async () => {
  const suite = path.join(work, 'suite.json');
  writeFileSync(
    suite,
    JSON.stringify({
      name: 'spec',
      description: 'specificity test',
      seeds: [1, 2],
      budget: 'smoke',
      budgets: { smoke: { episodes: 16, ks: [1], examples: 1 } },
      envs: [{ id: 'synthetic-v0', world: WORLD }],
      agents: [{ agent: 'random' }, { agent: 'greedy-ioi' }],
    }),
  );
  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: (t: string) => void (o.out += t), err: (t: string) => void (o.err += t) } };
  };
  const run = io();
  const dir = path.join(work, 'runs');
  assert.equal(await main(['--suite', suite, '--out', dir], run.io), 0, run.o.err);
  const a = io();
  const out = path.join(work, 'spec.json');
  assert.equal(await main(['specificity', dir, '--out', out], a.io), 0, a.o.err);
  assert.match(a.o.out, /synthetic-v0\s+random\s+2/);
  assert.match(a.o.out, /greedy-ioi/);
  const rows = JSON.parse(readFileSync(out, 'utf8')) as { label: string; reward: { specific: number } }[];
  assert.equal(rows.length, 4);
  // The oracle steers toward its target; random items do not single it out.
  const greedy = rows.filter((r) => r.label === 'greedy-ioi').map((r) => r.reward.specific);
  assert.ok(
    greedy.every((x) => x > 0),
    `greedy-ioi specific IoI ${greedy}`,
  );
  const bad = io();
  assert.equal(await main(['specificity', path.join(work, 'nowhere')], bad.io), 2);
  assert.match(bad.o.err, /no result files/);
  assert.equal(await main(['specificity'], io().io), 2);
});
