/**
 * Results in context: reference rows (benchmarks/reference.ts) beside a user's runs, verified by
 * run config hash and package version and marked (ref) in the terminal table, leaderboard.json /
 * .md and the report, never written into the user's results/; the shipped reference set matches
 * what the default suite plans today; degenerate results flagged (results/degenerate.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { codeVersion, main } from '../benchmarks/cli.ts';
import { collectReference, loadReferenceSpec, planReference, shippedReferenceFolder } from '../benchmarks/reference.ts';
import { loadSuite } from '../benchmarks/suite.ts';
import { writeReport } from '../reports/report.ts';
import { degenerateFlags, SHORT_PATH_MAX, type RowStat } from '../results/degenerate.ts';
import { readResult } from '../results/read.ts';

const work = mkdtempSync(path.join(tmpdir(), 'prorec-reference-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function bench(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const SMALL = ['--world', '{"numItems":150,"numUsers":200}', '--seeds', '2', '--progress', 'false'];
const stat = (mean: number, tHalfWidth: number | null = 0.01): RowStat => ({ mean, n: tHalfWidth === null ? 1 : 3, tHalfWidth });
const rules = (metrics: Record<string, RowStat>, agent = 'x', env = { maxLength: 10, randomCtr: 0.5 }) =>
  degenerateFlags({ label: agent, agent, metrics }, env).map((f) => f.rule);

test('degenerate flags: short or always-L_max paths, a target percentile within its t-interval of 0.5, CTR below random', () => {
  assert.deepEqual(rules({ length: stat(SHORT_PATH_MAX) }), ['short-paths']);
  assert.deepEqual(rules({ length: stat(0.99) }), ['short-paths']);
  assert.deepEqual(rules({ length: stat(1.6) }), []);
  assert.deepEqual(rules({ length: stat(10) }), ['full-paths']);
  assert.deepEqual(rules({ length: stat(9.9) }), []);
  assert.deepEqual(rules({ length: stat(5) }, 'x', { maxLength: null as unknown as number, randomCtr: 0.5 }), []);
  // "Within noise" is the table's interval: the 95% t-interval over seeds; one seed has none.
  assert.deepEqual(rules({ targetPercentile: stat(0.52, 0.03) }), ['blind-to-target']);
  assert.deepEqual(rules({ targetPercentile: stat(0.48, 0.03) }), ['blind-to-target']);
  assert.deepEqual(rules({ targetPercentile: stat(0.52, 0.01) }), []);
  assert.deepEqual(rules({ targetPercentile: stat(0.5, null) }), []);
  assert.deepEqual(rules({ ctr: stat(0.49) }), ['ctr-below-random']);
  assert.deepEqual(rules({ ctr: stat(0.5) }), []);
  assert.deepEqual(rules({ ctr: stat(0.3) }, 'random'), [], 'random is the floor, not below it');
  assert.deepEqual(rules({ ctr: stat(0.3) }, 'x', { maxLength: 10, randomCtr: null as unknown as number }), [], 'no random row: no CTR floor');
  const [flag] = degenerateFlags({ label: 'prorl', agent: 'prorl', metrics: { length: stat(0.99) } }, { maxLength: 10, randomCtr: null });
  assert.match(flag.message, /0\.99 items long .*see docs\/agents\.md "Which centring to use"/);
});

test('the shipped reference set of the default suite matches what the suite plans today (config hash, package version)', async () => {
  const ref = loadReferenceSpec('standard');
  assert.ok(ref, 'benchmarks/reference/standard.json');
  const labels = ref.spec.agents.map((a) => a.label ?? a.agent);
  for (const want of ['random', 'supervised', 'grpo', 'prorl', 'prorl-per-position', 'greedy-ioi']) assert.ok(labels.includes(want), want);
  const plan = (await planReference(loadSuite('standard'), {}))!;
  assert.equal(plan.runs.length, labels.length * 3);
  const out = path.join(work, 'shipped');
  const status = collectReference(plan, { out, code: codeVersion(), skipLabels: new Set(), command: 'CMD' });
  assert.deepEqual(
    status.unmatched.map(([r, why]) => `${r.file}: ${why}`),
    [],
    'stale or missing shipped reference results: regenerate them with `npm run reference -- --update`',
  );
  assert.equal(status.results.length, plan.runs.length);
  // The build copies them into the package.
  assert.match(readFileSync(path.join(import.meta.dirname, '../scripts/build.mjs'), 'utf8'), /'benchmarks\/reference'/);
  assert.ok(existsSync(shippedReferenceFolder('standard')));
});

test('bench shows reference rows of the same setting marked (ref), outside results/; another setting or version is stale, with the command', async () => {
  const dir = path.join(work, 'runs');
  // The reference rows of this setting, computed by the project's command (into DIR/reference/).
  const ref = await bench(['reference', '--agent', 'random', '--episodes', '16', '--out', dir, ...SMALL]);
  assert.equal(ref.code, 0, ref.err);
  assert.deepEqual(readdirSync(path.join(dir, 'reference/results')).sort(), ['synthetic-v0__random__seed1.json', 'synthetic-v0__random__seed2.json']);
  assert.ok(!existsSync(path.join(dir, 'results')), 'reference runs are not the user results');

  const r = await bench(['--agent', 'popularity', '--episodes', '16', '--out', dir, ...SMALL]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^random \(ref\)\s+2\s/m);
  assert.match(r.out, /^popularity\s+2\s/m);
  assert.match(r.err, /reference rows \(ref\): random \(suite standard, budget standard; 2 result files/);
  // The rest of the reference set has no result for this setting: said, with the command that computes it.
  assert.match(r.err, /reference runs not shown \(greedy-ctr, supervised, grpo, prorl, prorl-per-position, greedy-ioi\)/);
  assert.match(
    r.err,
    /Compute them for this setting: npm run bench -- reference --episodes 16 --out \S+ --world '\{"numItems":150,"numUsers":200\}' --seeds 2\n/,
  );
  assert.deepEqual(readdirSync(path.join(dir, 'results')).sort(), ['synthetic-v0__popularity__seed1.json', 'synthetic-v0__popularity__seed2.json']);
  const lb = JSON.parse(readFileSync(path.join(dir, 'leaderboard.json'), 'utf8'));
  assert.deepEqual(lb.envs[0].entries.map((e: { label: string; reference: boolean }) => [e.label, e.reference]).sort(), [
    ['popularity', false],
    ['random', true],
  ]);
  assert.equal(lb.interval.method, 't');
  assert.match(readFileSync(path.join(dir, 'leaderboard.md'), 'utf8'), /^\| random \(ref\)/m);
  assert.match(readFileSync((await writeReport(dir)).file, 'utf8'), /<td class="name">random <span class="ref">\(ref\)<\/span>/);

  // --no-reference leaves them out.
  const plain = await bench(['--agent', 'popularity', '--episodes', '16', '--out', dir, '--no-reference', ...SMALL]);
  assert.doesNotMatch(plain.out, /^\S+ \(ref\)/m);

  // Another setting (12 cases): the stored reference is for 16, so it is stale, not shown.
  const other = await bench(['--agent', 'popularity', '--episodes', '12', '--out', dir, ...SMALL]);
  assert.equal(other.code, 0, other.err);
  assert.doesNotMatch(other.out, /^\S+ \(ref\)/m);
  assert.match(other.err, /another run config \(episodes\)/);
  assert.match(other.err, /Compute them for this setting: npm run bench -- reference --episodes 12 /);

  // Another package version: stale too.
  const file = path.join(dir, 'reference/results/synthetic-v0__random__seed1.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...doc, code: { ...doc.code, version: '0.0.1' } }));
  const loaded = loadSuite('standard');
  const plan = (await planReference(loaded, { episodes: 16, seeds: [1, 2], world: { numItems: 150, numUsers: 200 } }, 'random'))!;
  const status = collectReference(plan, { out: dir, code: codeVersion(), skipLabels: new Set(), command: 'CMD' });
  assert.equal(status.results.length, 1, 'seed 2 still matches');
  assert.match(status.unmatched[0][1], /computed by prorec-gym 0\.0\.1, this is prorec-gym /);
  assert.equal(readResult(file).code.version, '0.0.1', 'a stale file is never overwritten by the check');
});
