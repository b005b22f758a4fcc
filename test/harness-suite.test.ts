/**
 * Suites and the run matrix (no runs here): shipped suites validate, errors name the file and the
 * field, unknown environments and agents list the known ones, --agent/--env select or add,
 * shards partition the matrix deterministically; the statistics the leaderboard uses; and the
 * project-wide rule that nothing draws from Math's global generator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { listAgents, UnknownAgentError } from '../agents/registry.ts';
import '../envs/index.ts';
import { OFFICIAL_RL_OPTIONS, PAPER_SETTINGS } from '../results/operating-point.ts';
import { listEnvs, UnknownEnvError } from '../envs/registry.ts';
import { Rng } from '../core/rng.ts';
import { ValidationError } from '../core/validate.ts';
import { aggregate } from '../results/leaderboard.ts';
import { bootstrapCI, iqm } from '../results/stats.ts';
import { checkSuite, listSuites, loadSuite, parseShard, planRuns, PlanError, shardRuns } from '../benchmarks/suite.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-suite-'));
after(() => rmSync(work, { recursive: true, force: true }));

function suiteFile(name: string, value: unknown): string {
  const file = path.join(work, `${name}.json`);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

const BASE = {
  name: 'mini',
  description: 'test suite',
  seeds: [1, 2, 3],
  budget: 'smoke',
  budgets: { smoke: { episodes: 16 }, standard: { episodes: 64, seeds: [1, 2] } },
  envs: [{ id: 'synthetic-v0', world: { numItems: 100, numUsers: 100 } }],
  agents: [{ agent: 'random' }, { agent: 'popularity', config: { pathLength: 2 } }, { agent: 'popularity', label: 'popularity-1', config: { pathLength: 1 } }],
};

test('the shipped suites (agents, agents-real, estimators, fidelity, smoke, standard, paper) validate structurally; agents, agents-real, estimators, fidelity, smoke and standard plan against the registries', async () => {
  assert.deepEqual(listSuites(), ['agents', 'agents-real', 'estimators', 'fidelity', 'paper', 'smoke', 'standard', 'tuning']);
  for (const name of ['agents', 'agents-real', 'estimators', 'fidelity', 'smoke', 'standard', 'paper', 'tuning']) {
    const s = loadSuite(name);
    assert.equal(s.suite.name, name);
    // The paper suite's one-machine budget is 'preset' (765 updates per RL run); the others' is 'standard'.
    for (const b of ['smoke', name === 'paper' ? 'preset' : 'standard', 'paper']) assert.ok(b in s.suite.budgets, `${name} has budget ${b}`);
  }
  // `agents` holds every built-in agent on synthetic-v0 and ml-1m-v0, 3 seeds.
  const agents = await planRuns(loadSuite('agents'));
  const builtIn = listAgents()
    .map((a) => a.name)
    .sort();
  assert.deepEqual([...new Set(agents.runs.map((r) => r.label))].filter((l) => l !== 'prorl-per-position').sort(), builtIn);
  assert.deepEqual([...new Set(agents.runs.map((r) => r.config.envId))], ['synthetic-v0', 'ml-1m-v0']);
  assert.equal(agents.runs.length, 2 * (builtIn.length + 1) * 3);
  // The published tables' suites pin the prior they were measured with; `agents-real` uses the default.
  const priorOf = (r: (typeof agents.runs)[number]) => (r.config.agentConfig as { policy?: { itemPrior?: string } }).policy?.itemPrior;
  const learned = agents.runs.filter((r) => priorOf(r) !== undefined);
  assert.equal(new Set(learned.map((r) => r.label)).size, 9);
  assert.ok(learned.every((r) => priorOf(r) === 'attributes'));
  const real = await planRuns(loadSuite('agents-real'));
  assert.deepEqual([...new Set(real.runs.map((r) => r.config.envId))], ['ml-1m-v0', 'steam-v0', 'books-v0']);
  assert.equal(real.runs.length, 3 * 8 * 3);
  assert.ok(real.runs.filter((r) => priorOf(r) !== undefined).every((r) => priorOf(r) === 'attributes+cooccurrence'));
  // `estimators`: every estimator (and per-position ProRL) in three worlds, 5 seeds, from the supervised row's policy.
  const est = await planRuns(loadSuite('estimators'));
  assert.deepEqual([...new Set(est.runs.map((r) => r.config.envId))], ['synthetic-v0', 'synthetic-patience-v0', 'synthetic-satiation-v0']);
  for (const name of ['reinforce', 'reinforce-baseline', 'grpo', 'prorl', 'prorl-no-src', 'prorl-no-psae', 'prorl-per-position', 'supervised'])
    assert.ok(
      est.runs.some((r) => r.label === name),
      name,
    );
  assert.equal(new Set(est.runs.map((r) => r.config.seed)).size, 5);
  // `fidelity`: agents that need no training (and supervised) on synthetic-learned-v0, run once per data share.
  const fidelity = await planRuns(loadSuite('fidelity'), { world: { simulatorDataFraction: 0.1 } });
  assert.deepEqual([...new Set(fidelity.runs.map((r) => r.config.envId))], ['synthetic-learned-v0']);
  assert.equal(fidelity.runs.length, 7 * 3);
  assert.ok(fidelity.runs.every((r) => r.config.world.simulatorDataFraction === 0.1));
  // `smoke` (the gate): the learned agents on synthetic-v0, the heuristics and the supervised start on ml-1m-v0 too.
  const smoke = await planRuns(loadSuite('smoke'));
  const entries = (env: string) => [...new Set(smoke.runs.filter((r) => r.config.envId === env).map((r) => r.label))].sort();
  assert.deepEqual(entries('synthetic-v0'), [
    'beam-planner',
    'greedy-ctr',
    'greedy-ioi',
    'grpo',
    'ipg',
    'irn',
    'popularity',
    'prorl',
    'prorl-per-position',
    'random',
    'reinforce-baseline',
    'supervised',
  ]);
  assert.deepEqual(entries('ml-1m-v0'), ['greedy-ctr', 'popularity', 'random', 'supervised']);
  assert.equal(smoke.runs.length, 16 * 3);
  const standard = await planRuns(loadSuite('standard'), { agent: 'random' });
  // `npm run bench -- --agent random`: synthetic-v0, seeds 1..3, 256 test cases each, as the README says.
  assert.deepEqual(
    standard.runs.map((r) => [r.config.envId, r.label, r.config.seed, r.config.episodes, r.file]),
    [
      ['synthetic-v0', 'random', 1, 256, path.join('results', 'synthetic-v0__random__seed1.json')],
      ['synthetic-v0', 'random', 2, 256, path.join('results', 'synthetic-v0__random__seed2.json')],
      ['synthetic-v0', 'random', 3, 256, path.join('results', 'synthetic-v0__random__seed3.json')],
    ],
  );
});

test("the paper suite trains at the paper's operating point (the official code's options, per-dataset lr, the environments' own weights); unregistered environments fail with the known list", async () => {
  const paper = loadSuite('paper').suite;
  assert.deepEqual(
    paper.envs.map((e) => e.id),
    ['ml-1m-v0', 'steam-v0', 'books-v0'],
  );
  // No weights in the suite: each environment keeps its paper weights (Steam's CTR 0.1).
  assert.equal(paper.weights, undefined);
  assert.ok(paper.envs.every((e) => e.weights === undefined));
  const prorl = paper.agents.find((a) => a.agent === 'prorl' && a.label === undefined)!;
  const rl = (prorl.config as { rl: Record<string, unknown> }).rl;
  for (const [k, v] of Object.entries(OFFICIAL_RL_OPTIONS)) assert.equal(rl[k], v, `rl.${k}`);
  assert.equal(rl.casesPerEpoch, 153 * 16, 'the official Steam epoch: 153 updates of 16 cases');
  assert.equal(rl.targets, 'random');
  const caseTargets = paper.agents.find((a) => a.label === 'prorl-case-targets')!;
  assert.deepEqual(caseTargets.config, { rl: { ...rl, targets: 'case' } });
  for (const a of [prorl, caseTargets])
    assert.deepEqual(a.perEnv, Object.fromEntries(Object.entries(PAPER_SETTINGS).map(([id, p]) => [id, { rl: { lr: p.lr } }])));
  assert.equal(paper.budget, 'preset');
  assert.equal(paper.budgets.preset.trainEpochs, 5, '765 updates');
  assert.equal(paper.budgets.paper.trainEpochs, 50, '7,650 updates');
  // The agents are registered: their configs (per environment) validate against their schemas,
  // checked here with synthetic-v0 standing in for each real environment.
  const loaded = loadSuite('paper');
  for (const real of ['ml-1m-v0', 'steam-v0', 'books-v0']) {
    const stand = {
      ...loaded,
      suite: {
        ...loaded.suite,
        envs: [{ id: 'synthetic-v0' }],
        agents: loaded.suite.agents.map((a) => ({ ...a, perEnv: a.perEnv ? { 'synthetic-v0': a.perEnv[real] } : undefined })),
      },
    };
    const runs = (await planRuns(stand)).runs;
    assert.equal(runs.length, paper.agents.length * paper.seeds.length);
    const lr = runs.find((r) => r.label === 'prorl')!.config.agentConfig as { rl: { lr: number; groupSize: number } };
    assert.equal(lr.rl.lr, { 'ml-1m-v0': 1e-4, 'steam-v0': 1e-5, 'books-v0': 5e-4 }[real]);
    assert.equal(lr.rl.groupSize, 16);
  }
  const known = listEnvs().map((e) => e.id);
  const missing = paper.envs.map((e) => e.id).filter((id) => !known.includes(id));
  if (missing.length === 0) return; // the real environments have landed: nothing to check here
  await assert.rejects(planRuns(loadSuite('paper')), (e: unknown) => {
    assert.ok(e instanceof UnknownEnvError);
    assert.match(e.message, new RegExp(`unknown environment '${missing[0]}'.*synthetic-v0`));
    return true;
  });
});

test('structural errors name the file and the field', () => {
  const cases: [unknown, RegExp][] = [
    [{ ...BASE, seeds: 'three' }, /seeds: must be array/],
    [{ ...BASE, budget: 'huge' }, /budget: 'huge' is not one of budgets \(smoke, standard\)/],
    [{ ...BASE, agents: [{ agent: 'random', confg: {} }] }, /agents\.0: unknown field 'confg'/],
    [{ ...BASE, envs: [{ id: 'synthetic-v0', config: { maxLength: 0 } }] }, /envs\.0\.config\.maxLength: must be >= 1/],
    [{ ...BASE, envs: [{ id: 'synthetic-v0', weights: { ioi: 1 } }] }, /envs\.0\.weights: missing field 'ior'/],
    [{ ...BASE, budgets: { smoke: { episodes: -1 } } }, /budgets\.smoke\.episodes: must be >= 0/],
    [{ ...BASE, agents: [{ agent: 'random' }, { agent: 'random' }] }, /agents\.1: label 'random' is also agents\.0's/],
    [{ ...BASE, agents: [{ agent: 'random', perEnv: { 'nope-v0': {} } }] }, /agents\.0\.perEnv: 'nope-v0' is not an environment of this suite/],
  ];
  for (const [value, re] of cases) {
    const file = suiteFile('bad', value);
    assert.throws(
      () => loadSuite(file),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.ok(e.message.startsWith(file), e.message);
        assert.match(e.message, re);
        return true;
      },
    );
  }
  assert.throws(() => loadSuite(suiteFile('notjson', '{ nope')), /notjson\.json: invalid\n.*not valid JSON/);
  assert.throws(() => loadSuite('no-such-suite'), /no such suite file \(suites: agents, agents-real, estimators, fidelity, paper, smoke, standard/);
});

test('resolution: unknown environments and agents list the known ones; agent configs and world options are checked against their schemas', async () => {
  const plan = (v: unknown, o = {}) => planRuns(loadSuite(suiteFile('r', v)), o);
  await assert.rejects(
    plan({ ...BASE, envs: [{ id: 'ml-99-v0' }] }),
    (e: unknown) => e instanceof UnknownEnvError && /known environments: .*synthetic-v0/.test(e.message),
  );
  await assert.rejects(
    plan({ ...BASE, agents: [{ agent: 'nope' }] }),
    (e: unknown) => e instanceof UnknownAgentError && /known agents: .*random.*popularity/.test(e.message),
  );
  await assert.rejects(
    plan({ ...BASE, agents: [{ agent: 'random', config: { pathLength: -2 } }] }),
    (e: unknown) => e instanceof ValidationError && /r\.json: agents\.0\.config for agent random.*pathLength/s.test(e.message),
  );
  await assert.rejects(
    plan({ ...BASE, envs: [{ id: 'synthetic-v0', world: { numItems: 3 } }] }),
    (e: unknown) => e instanceof ValidationError && /r\.json: envs\.0\.world.*numItems/s.test(e.message),
  );
  await assert.rejects(
    plan(BASE, { budget: 'paper' }),
    (e: unknown) => e instanceof PlanError && /no budget 'paper'; budgets: smoke, standard/.test(e.message),
  );
});

test('the run matrix: env × agent × seed in order, budgets, selection and addition with --agent/--env, stable hashes', async () => {
  const loaded = loadSuite(suiteFile('m', BASE));
  const p = await planRuns(loaded);
  assert.deepEqual(
    p.runs.map((r) => `${r.label}/${r.config.seed}`),
    ['random/1', 'random/2', 'random/3', 'popularity/1', 'popularity/2', 'popularity/3', 'popularity-1/1', 'popularity-1/2', 'popularity-1/3'],
  );
  assert.ok(p.runs.every((r) => r.config.episodes === 16 && r.config.batchSize === 256 && r.config.ks.join() === '1,5,10'));
  assert.deepEqual(p.runs[3].config.agentConfig, { pathLength: 2, avoidHistory: true }, 'omitted fields take the schema defaults');
  assert.equal((await planRuns(loaded)).matrixHash, p.matrixHash, 'planning is deterministic');
  assert.equal(new Set(p.runs.map((r) => r.configHash)).size, p.runs.length);

  const std = await planRuns(loaded, { budget: 'standard' });
  assert.deepEqual(
    std.runs.filter((r) => r.label === 'random').map((r) => [r.config.seed, r.config.episodes]),
    [
      [1, 64],
      [2, 64],
    ],
  );

  const one = await planRuns(loaded, { agent: 'popularity', seeds: [7] });
  assert.deepEqual(
    one.runs.map((r) => [r.label, r.config.seed]),
    [['popularity', 7]],
  );
  assert.equal(one.runs[0].configHash, (await planRuns(loaded, { agent: 'popularity', seeds: [7] })).runs[0].configHash);
  const added = await planRuns(loaded, {
    agent: 'greedy-ctr',
    agentConfig: { pathLength: 3 },
    env: 'synthetic-v0',
    envConfig: { maxLength: 5, weights: { ctr: 0.1 } },
  });
  assert.deepEqual(
    added.runs.map((r) => r.label),
    ['greedy-ctr', 'greedy-ctr', 'greedy-ctr'],
  );
  assert.equal(added.runs[0].config.envConfig.maxLength, 5);
  assert.deepEqual(added.runs[0].config.envConfig.weights, { ioi: 1, ior: 1, ctr: 0.1 });
  const world = added.runs[0].config.world;
  assert.equal(world.numItems, 100);
  assert.equal(world.numUsers, 100);
  assert.equal(world.drift, 0.35, 'the recorded world options are complete: omitted fields take the schema defaults');
  const changed = await planRuns(loaded, { agent: 'random', episodes: 17 });
  assert.notEqual(changed.runs[0].configHash, p.runs[0].configHash, 'a config change changes the hash');

  const fixture = path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts');
  const plug = await planRuns(loaded, { agent: fixture });
  assert.deepEqual([...new Set(plug.runs.map((r) => r.label))], ['sampler']);
  assert.equal(plug.runs[0].file, path.join('results', 'synthetic-v0__sampler__seed1.json'));
});

test('shards partition the matrix: disjoint, complete, deterministic, balanced; bad shard specs are usage errors', async () => {
  const { runs } = await planRuns(loadSuite(suiteFile('s', BASE)));
  for (const n of [1, 2, 4, 9, 12]) {
    const parts = Array.from({ length: n }, (_, i) => shardRuns(runs, parseShard(`${i + 1}/${n}`)));
    const indices = parts
      .flat()
      .map((r) => r.index)
      .sort((a, b) => a - b);
    assert.deepEqual(
      indices,
      runs.map((r) => r.index),
      `shards of ${n}`,
    );
    const sizes = parts.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
  assert.deepEqual(
    shardRuns(runs, parseShard('2/3')).map((r) => r.index),
    [1, 4, 7],
  );
  for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1-2', '']) assert.throws(() => parseShard(bad), PlanError, bad);
});

test('checkSuite accepts the minimal suite and rejects an empty agent list', () => {
  assert.equal(checkSuite(BASE, 'inline').name, 'mini');
  assert.throws(() => checkSuite({ ...BASE, agents: [] }, 'inline'), /inline: invalid\n.*agents: must NOT have fewer than 1 items/);
});

test('IQM trims a quarter from each end; the bootstrap interval is seeded, reproducible and brackets the mean', () => {
  assert.equal(iqm([1, 2, 3]), 2);
  assert.equal(iqm([1, 2, 3, 100]), 2.5);
  assert.equal(iqm([0, 1, 2, 3, 4, 5, 6, 1000]), 3.5);
  const values = [0.1, 0.5, 0.3, 0.9, 0.2];
  const a = bootstrapCI(values, Rng.stream(1, 'bootstrap'));
  const b = bootstrapCI(values, Rng.stream(1, 'bootstrap'));
  assert.deepEqual(a, b);
  const mean = values.reduce((x, y) => x + y) / values.length;
  assert.ok(a[0] < mean && mean < a[1] && a[0] >= 0.1 && a[1] <= 0.9, String(a));
  assert.deepEqual(bootstrapCI([4], Rng.stream(1, 'x')), [4, 4]);
  assert.deepEqual(aggregate(values, 'k'), aggregate(values, 'k'));
  assert.equal(aggregate(values, 'k').n, 5);
});

test("a suite's weights never replace an environment's own (Steam's CTR 0.1); an entry's explicit weights do, and the rows are flagged", async () => {
  const suite = (envs: unknown[]) => ({
    suite: checkSuite({ ...BASE, weights: { ioi: 1, ior: 1, ctr: 1 }, envs, agents: [{ agent: 'random' }] }, 'w.json'),
    source: 'w.json',
  });
  const weightsOf = async (envs: unknown[]) =>
    (await planRuns({ ...suite(envs), suite: { ...suite(envs).suite, seeds: [1] } })).runs.map((r) => [
      r.config.envId,
      (r.config.envConfig as { weights: unknown }).weights,
    ]);
  assert.deepEqual(await weightsOf([{ id: 'synthetic-v0' }, { id: 'steam-v0' }]), [
    ['synthetic-v0', { ioi: 1, ior: 1, ctr: 1 }],
    ['steam-v0', { ioi: 1, ior: 1, ctr: 0.1 }],
  ]);
  assert.deepEqual(await weightsOf([{ id: 'steam-v0', weights: { ioi: 1, ior: 1, ctr: 1 } }]), [['steam-v0', { ioi: 1, ior: 1, ctr: 1 }]]);
  // The paper weights the leaderboard compares with are the environments' own.
  const { resolveEnvConfigOf } = await import('../envs/registry.ts');
  for (const [id, p] of Object.entries(PAPER_SETTINGS)) assert.deepEqual(resolveEnvConfigOf(id, {}, 'test').weights, p.weights, id);
});
