/**
 * The regression gate: the tolerance rule, a deliberately worse agent config (popularity with
 * pathLength 1) failing the check with a table, an unchanged rerun passing, --update rewriting the
 * baseline and printing the diff, missing baselines failing; and the committed smoke baseline
 * matching the smoke suite.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { BASELINES_DIR, baselineDiff, BaselineSchema, checkMain, compareWithBaseline, readBaseline, tolerance, type Baseline } from '../benchmarks/check.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';
import { validate } from '../core/validate.ts';

const work = mkdtempSync(path.join(tmpdir(), 'prorec-check-'));
after(() => rmSync(work, { recursive: true, force: true }));

function suite(file: string, popularityConfig: Record<string, unknown>): string {
  const p = path.join(work, file);
  writeFileSync(
    p,
    JSON.stringify({
      name: 'gate',
      description: 'gate test',
      seeds: [1, 2, 3],
      budget: 'smoke',
      budgets: { smoke: { episodes: 48, examples: 1 } },
      envs: [{ id: 'synthetic-v0', world: { numItems: 200, numUsers: 300 } }],
      agents: [{ agent: 'random' }, { agent: 'popularity', config: popularityConfig }],
    }),
  );
  return p;
}

async function check(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await checkMain([...args, '--progress', 'false'], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const baselines = path.join(work, 'baselines');

test('the tolerance is a t-quantile times the standard error of the difference, with a floor for rounding', () => {
  // n = m = 3: t(0.975, 4) = 2.776.
  assert.ok(Math.abs(tolerance({ mean: 1, std: 0.3, n: 3 }, { std: 0.3, n: 3 }) - 2.776 * Math.sqrt(0.06)) < 1e-9);
  assert.equal(tolerance({ mean: 2, std: 0, n: 3 }, { std: 0, n: 3 }), 1e-9 + 2e-6);
  const b = (mean: number, std: number): Baseline => ({
    version: 1,
    suite: 's',
    budget: 'b',
    rule: '',
    backend: null,
    commit: null,
    entries: {
      'e/a': {
        variant: 'v',
        seeds: [1, 2, 3],
        episodes: 1,
        metrics: { ioi: { mean, std, n: 3, values: [] }, duplicateRate: { mean: 0.1, std: 0, n: 3, values: [] } },
      },
    },
  });
  assert.equal(compareWithBaseline(b(1, 0.1), b(1, 0.1)).shortfalls.length, 0);
  assert.equal(compareWithBaseline(b(0.8, 0.1), b(1, 0.1)).shortfalls.length, 0, 'a drop within the seeds spread passes');
  assert.deepEqual(
    compareWithBaseline(b(0.7, 0.1), b(1, 0.1)).shortfalls.map((s) => s.metric),
    ['ioi'],
  );
  assert.equal(compareWithBaseline(b(5, 0.1), b(1, 0.1)).shortfalls.length, 0, 'an improvement passes');
  assert.deepEqual(
    compareWithBaseline(b(5, 0.1), b(1, 0.1)).improvements.map((s) => [s.entry, s.metric, s.why]),
    [['e/a', 'ioi', 'higher']],
    'and is reported as one',
  );
  const fewerDup = b(1, 0.1);
  fewerDup.entries['e/a'].metrics.duplicateRate.mean = 0.05;
  assert.deepEqual(
    compareWithBaseline(fewerDup, b(1, 0.1)).improvements.map((s) => [s.metric, s.why]),
    [['duplicateRate', 'lower']],
  );
  const added = compareWithBaseline(b(1, 0.1), { ...b(1, 0.1), entries: {} }, { newEntries: 'report' });
  assert.equal(added.shortfalls.length, 0, 'against a base commit, an entry only the change has is new, not a failure');
  assert.match(added.notes[0], /e\/a: new in this change/);
  const worseDup = b(1, 0.1);
  worseDup.entries['e/a'].metrics.duplicateRate.mean = 0.2;
  assert.deepEqual(
    compareWithBaseline(worseDup, b(1, 0.1)).shortfalls.map((s) => s.metric),
    ['duplicateRate'],
    'lower is better for duplicates',
  );
  const gone = { ...b(1, 0.1), entries: {} };
  assert.match(compareWithBaseline(gone, b(1, 0.1)).shortfalls[0].why, /no result now/);
  assert.match(compareWithBaseline(b(1, 0.1), gone).shortfalls[0].why, /no baseline/);
  assert.match(baselineDiff(b(1, 0.1), b(0.5, 0.1)), /e\/a\s+ioi\s+1\s+0\.5000\s+-0\.5000/);
});

test('bench:check passes on an unchanged rerun and fails, with a table, on a deliberately worse agent config', async () => {
  const good = suite('good.json', {});
  const noBaseline = await check(['--suite', good, '--baselines', baselines, '--out', path.join(work, 'o0')]);
  assert.equal(noBaseline.code, 1);
  assert.match(noBaseline.err, /no baseline .*gate\.json; create it deliberately with --update/);

  const update = await check(['--suite', good, '--baselines', baselines, '--out', path.join(work, 'o1'), '--update']);
  assert.equal(update.code, 0, update.err);
  assert.match(update.out, /wrote .*gate\.json\nnew baseline with 2 entries/);
  const baseline = validate(BaselineSchema, JSON.parse(readFileSync(path.join(baselines, 'gate.json'), 'utf8')), 'gate.json');
  assert.deepEqual(Object.keys(baseline.entries), ['synthetic-v0/popularity', 'synthetic-v0/random']);
  assert.ok(!('length' in baseline.entries['synthetic-v0/random'].metrics), 'descriptive metrics are not gated');

  const same = await check(['--suite', good, '--baselines', baselines, '--out', path.join(work, 'o2')]);
  assert.equal(same.code, 0, same.out + same.err);
  assert.match(same.out, /bench:check: all \d+ gated metrics of 2 entries within tolerance/);

  const worse = await check(['--suite', suite('worse.json', { pathLength: 1 }), '--baselines', baselines, '--out', path.join(work, 'o3')]);
  assert.equal(worse.code, 1, worse.out);
  assert.match(worse.out, /note: synthetic-v0\/popularity: config differs from the baseline's/);
  assert.match(worse.out, /metric\(s\) fell short of/);
  assert.match(worse.out, /entry\s+metric\s+baseline\s+now\s+shortfall\s+tolerance/);
  assert.match(worse.out, /synthetic-v0\/popularity\s+ioi\s/);
  assert.doesNotMatch(worse.out, /synthetic-v0\/random\s+\w/, 'the unchanged agent does not fall short');

  // --update on the worse config rewrites the baseline deliberately and shows what moved.
  const rewrite = await check(['--results', path.join(work, 'o3'), '--suite', suite('worse.json', { pathLength: 1 }), '--baselines', baselines, '--update']);
  assert.equal(rewrite.code, 0, rewrite.err);
  assert.match(rewrite.out, /entry\s+metric\s+old\s+new\s+change/);
  assert.match(rewrite.out, /synthetic-v0\/popularity\s+ioi\s/);
  assert.doesNotMatch(rewrite.out, /synthetic-v0\/random/);
  assert.equal((await check(['--results', path.join(work, 'o3'), '--suite', suite('worse.json', { pathLength: 1 }), '--baselines', baselines])).code, 0);

  assert.equal((await check(['--suite', path.join(work, 'missing.json')])).code, 2);
  assert.equal((await check(['--jobs', '0'])).code, 2);
});

test('the committed smoke baseline is valid and covers exactly the smoke suite', async () => {
  const b = readBaseline(path.join(BASELINES_DIR, 'smoke.json'));
  assert.ok(b, 'benchmarks/baselines/smoke.json exists');
  const plan = await planRuns(loadSuite('smoke'));
  assert.equal(b.suite, 'smoke');
  assert.equal(b.budget, plan.budget);
  assert.deepEqual(Object.keys(b.entries).sort(), [...new Set(plan.runs.map((r) => `${r.config.envId}/${r.label}`))].sort());
  for (const e of Object.values(b.entries)) assert.deepEqual(e.seeds, loadSuite('smoke').suite.seeds);
});
