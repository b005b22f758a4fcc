/**
 * Running suites (in-process, small worlds): result files, reruns skipped by config hash and
 * redone with --force, metrics@K and curves from a plug-in agent, --jobs 2 (worker threads) equal
 * to --jobs 1, two shards merged equal to the unsharded run, merge's completeness and conflict
 * checks, and `bench --agent random` as the README describes it.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { codeVersion, main } from '../benchmarks/cli.ts';
import { mergeDirs, MergeError } from '../benchmarks/merge.ts';
import { readResult, readResults, withoutTimings } from '../results/read.ts';
import { runPlan } from '../benchmarks/runner.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-run-'));
after(() => rmSync(work, { recursive: true, force: true }));

const SUITE = path.join(work, 'tiny.json');
writeFileSync(
  SUITE,
  JSON.stringify({
    name: 'tiny',
    description: 'harness test',
    seeds: [1, 2],
    budget: 'smoke',
    budgets: { smoke: { episodes: 24, ks: [1, 5], examples: 2, trainEpochs: 1 } },
    envs: [{ id: 'synthetic-v0', world: { numItems: 120, numUsers: 100 } }],
    agents: [
      { agent: 'random' },
      { agent: 'popularity', config: { pathLength: 4 } },
      { agent: path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts'), config: { pathLength: 3 } },
    ],
  }),
);

const CODE = codeVersion();

/** Runs the CLI in this process with its output captured. */
async function bench(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

function sameResults(a: string, b: string): void {
  const xs = readdirSync(path.join(a, 'results')).sort();
  assert.deepEqual(readdirSync(path.join(b, 'results')).sort(), xs);
  for (const f of xs) {
    const x = withoutTimings(readResult(path.join(a, 'results', f)));
    const y = withoutTimings(readResult(path.join(b, 'results', f)));
    assert.ok(isDeepStrictEqual(x, y), `${f} differs between ${a} and ${b}`);
  }
}

const full = path.join(work, 'full');

test('a suite run writes one valid result file per run, with metrics@K, curves and example items; a rerun skips; --force redoes', async () => {
  const plan = await planRuns(loadSuite(SUITE));
  assert.equal(plan.runs.length, 6);
  const quiet = () => {};
  const first = await runPlan(plan.runs, { out: full, code: CODE, progress: false, log: quiet });
  assert.deepEqual(
    first.outcomes.map((o) => o.status),
    Array(6).fill('done'),
  );
  const results = readResults(full);
  assert.equal(results.length, 6);
  for (const r of results) {
    assert.equal(r.episodes, 24);
    assert.equal(r.run.suite, 'tiny');
    assert.equal(r.run.budget, 'smoke');
    assert.match(r.run.configHash, /^[0-9a-f]{64}$/);
    assert.equal(r.examples.cases.length, 2);
    for (const c of r.examples.cases) for (const id of [...c.history, ...c.path, c.target]) assert.match(r.examples.items[String(id)].title, /^Item \d+/);
  }
  const sampler = results.find((r) => r.run.label === 'sampler')!;
  assert.ok(sampler.atK, 'the plug-in agent has proposePaths');
  assert.deepEqual(
    sampler.atK.results.map((x) => x.k),
    [1, 5],
  );
  assert.equal(sampler.atK.meanCandidates, 5);
  const [k1, k5] = sampler.atK.results;
  assert.ok(k5.max.ioi >= k5.mean.ioi && k5.max.ioi >= k1.max.ioi, 'max over more candidates is no smaller');
  assert.equal(k1.max.ioi, k1.mean.ioi, 'one candidate: max = mean');
  assert.ok(k5.evaluator, 'synthetic-v0 has an evaluator');
  assert.equal(sampler.curves.train.length, 8);
  assert.deepEqual(Object.keys(sampler.curves.train[0]).sort(), ['kl', 'length', 'return', 'step']);
  assert.equal(results.find((r) => r.run.label === 'random')!.atK, null, 'no proposePaths: no metrics@K');
  assert.equal(results.find((r) => r.run.label === 'popularity')!.metrics.length, 4);

  const again = await runPlan(plan.runs, { out: full, code: CODE, progress: false, log: quiet });
  assert.deepEqual(
    again.outcomes.map((o) => o.status),
    Array(6).fill('skipped'),
  );
  const stamp = readResult(path.join(full, plan.runs[0].file)).timings.createdAt;
  const forced = await runPlan(plan.runs.slice(0, 1), { out: full, code: CODE, progress: false, force: true, log: quiet });
  assert.equal(forced.outcomes[0].status, 'done');
  assert.notEqual(readResult(path.join(full, plan.runs[0].file)).timings.createdAt, stamp);
  // A changed config is not "complete": the run is redone.
  const changed = await planRuns(loadSuite(SUITE), { agent: 'random', seeds: [1], episodes: 12 });
  const redo = await runPlan(changed.runs, { out: path.join(work, 'changed'), code: CODE, progress: false, log: quiet });
  cpSync(path.join(full, 'results'), path.join(work, 'changed', 'results'), { recursive: true });
  const redo2 = await runPlan(changed.runs, { out: path.join(work, 'changed'), code: CODE, progress: false, log: quiet });
  assert.equal(redo.outcomes[0].status, 'done');
  assert.equal(redo2.outcomes[0].status, 'done', 'the file on disk has another config hash');
});

test('--jobs 2 (worker threads, a backend each) gives the same result files as --jobs 1', async () => {
  const par = path.join(work, 'par');
  const r = await bench(['--suite', SUITE, '--out', par, '--jobs', '2', '--progress', 'false']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /in each of 2 workers/);
  sameResults(full, par);
});

test('two shards merged equal the unsharded run (results and leaderboard); merge checks completeness and conflicts', async () => {
  const whole = path.join(work, 'whole');
  const s1 = path.join(work, 'shard1');
  const s2 = path.join(work, 'shard2');
  for (const [dir, extra] of [
    [whole, []],
    [s1, ['--shard', '1/2']],
    [s2, ['--shard', '2/2']],
  ] as const) {
    const r = await bench(['--suite', SUITE, '--out', dir, '--progress', 'false', ...extra]);
    assert.equal(r.code, 0, r.err);
  }
  assert.equal(readdirSync(path.join(s1, 'results')).length, 3);
  assert.equal(readdirSync(path.join(s2, 'results')).length, 3);
  const merged = path.join(work, 'merged');
  const r = await bench(['merge', s1, s2, '--out', merged]);
  assert.equal(r.code, 0, r.err);
  sameResults(whole, merged);
  assert.deepEqual(
    JSON.parse(readFileSync(path.join(merged, 'leaderboard.json'), 'utf8')),
    JSON.parse(readFileSync(path.join(whole, 'leaderboard.json'), 'utf8')),
  );
  assert.equal(readFileSync(path.join(merged, 'leaderboard.md'), 'utf8'), readFileSync(path.join(whole, 'leaderboard.md'), 'utf8'));

  // One shard alone is incomplete.
  assert.throws(
    () => mergeDirs([s1], path.join(work, 'partial')),
    (e: unknown) => e instanceof MergeError && /missing shard 2\/2/.test(e.message),
  );
  assert.equal(mergeDirs([s1], path.join(work, 'partial'), { allowPartial: true }).files, 3);
  const partial = await bench(['merge', s1, '--out', path.join(work, 'partial2')]);
  assert.equal(partial.code, 1);
  assert.match(partial.err, /missing shard 2\/2.*--allow-partial/s);
  // The same file with different contents is a conflict.
  const bad = path.join(work, 'bad');
  cpSync(s2, bad, { recursive: true });
  const f = readdirSync(path.join(bad, 'results'))[0];
  const doc = JSON.parse(readFileSync(path.join(bad, 'results', f), 'utf8'));
  doc.metrics.ioi += 1;
  writeFileSync(path.join(bad, 'results', f), JSON.stringify(doc));
  assert.throws(
    () => mergeDirs([s1, s2, bad], path.join(work, 'conflict')),
    (e: unknown) => e instanceof MergeError && new RegExp(`conflict: .*${f}.*same config, different results`).test(e.message),
  );
  assert.equal((await bench(['merge', path.join(work, 'nope')])).code, 2);
});

test('`bench --agent random` runs the default suite for one agent as the README says; bad input exits 2', async () => {
  const cwd = process.cwd();
  const dir = path.join(work, 'readme');
  mkdirSync(dir);
  process.chdir(dir);
  try {
    const r = await bench(['--agent', 'random', '--progress', 'false']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      readdirSync('runs/results').sort(),
      [1, 2, 3].map((s) => `synthetic-v0__random__seed${s}.json`),
    );
    assert.ok(readResults('runs').every((x) => x.episodes === 256 && x.env.id === 'synthetic-v0' && x.split === 'test'));
    assert.match(r.out, /^random\s+3\s/m);
    assert.ok(existsSync('runs/leaderboard.md') && existsSync('runs/leaderboard.json'));
  } finally {
    process.chdir(cwd);
  }
  for (const args of [
    ['--agent', 'random', '--shard', '3/2'],
    ['--suite', 'no-such-suite'],
    [],
    ['--agent', 'random', '--jobs', '0'],
    ['--agent', 'random', '--budget', 'huge'],
  ]) {
    const r = await bench(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
});
