/**
 * Agent-level fidelity (results/fidelity.ts): Kendall's τ_b on hand-checked inputs; from result
 * files with metrics under a learned reward model and an exact evaluator, the per-metric τ between
 * the agents' orders and the pairs that flip; `bench fidelity DIR` prints it; the HTML report shows
 * it. The result files come from a real run on synthetic-v0 whose evaluator metrics are then
 * rewritten, so that the expected orders are known.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { codeVersion, main } from '../benchmarks/cli.ts';
import { kendallTauB, rankAgreement } from '../results/fidelity.ts';
import { readResults } from '../results/read.ts';
import { runPlan } from '../benchmarks/runner.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';
import { renderReport } from '../reports/report.ts';

const work = mkdtempSync(path.join(tmpdir(), 'prorec-bench-fidelity-'));
after(() => rmSync(work, { recursive: true, force: true }));
const dir = path.join(work, 'runs');

test("Kendall's tau_b: concordant minus discordant pairs, ties as in tau_b, undefined without an order", () => {
  assert.equal(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(kendallTauB([1, 2, 3, 4], [1, 3, 2, 4])! - 4 / 6) < 1e-12);
  assert.ok(Math.abs(kendallTauB([1, 1, 2], [1, 2, 3])! - 2 / Math.sqrt(6)) < 1e-12);
  assert.equal(kendallTauB([1, 1, 1], [1, 2, 3]), null);
  assert.equal(kendallTauB([1], [1]), null);
});

// Evaluator IoI per agent: reverses popularity and random, keeps greedy-ctr on top.
const EXACT_IOI: Record<string, number> = { 'greedy-ctr': 3, popularity: 1, random: 2 };

before(async () => {
  const suite = path.join(work, 'suite.json');
  writeFileSync(
    suite,
    JSON.stringify({
      name: 'fidelity-test',
      description: 'fidelity test',
      seeds: [1, 2],
      budget: 'smoke',
      budgets: { smoke: { episodes: 16, ks: [1], examples: 1 } },
      envs: [{ id: 'synthetic-v0', world: { numItems: 120, numUsers: 100 } }],
      agents: [{ agent: 'random' }, { agent: 'popularity' }, { agent: 'greedy-ctr', config: { pathLength: 4 } }],
    }),
  );
  const plan = await planRuns(loadSuite(suite));
  const report = await runPlan(plan.runs, { out: dir, code: codeVersion(), progress: false, log: () => {} });
  assert.equal(report.failed.length, 0);
  // As if the reward model were learned and the evaluator the exact dynamics.
  for (const f of readdirSync(path.join(dir, 'results'))) {
    const file = path.join(dir, 'results', f);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    r.env.id = 'synthetic-learned-v0';
    r.env.simulator = 'sasrec@synthetic#seed1';
    r.env.evaluator = 'synthetic-exact';
    r.evaluatorMetrics = { ...r.evaluatorMetrics, ioi: EXACT_IOI[r.run.label] + r.seed / 100 };
    writeFileSync(file, JSON.stringify(r));
  }
});

test('rank agreement from result files: tau per metric against the learned order, and the pairs that flip', () => {
  const results = readResults(dir);
  const [row] = rankAgreement(results);
  assert.equal(row.envId, 'synthetic-learned-v0');
  assert.equal(row.evaluator, 'synthetic-exact');
  const labels = row.agents.map((a) => a.label);
  assert.deepEqual([...labels].sort(), ['greedy-ctr', 'popularity', 'random']);
  const rewardIoi = row.agents.map((a) => a.reward.ioi);
  const exactIoi = row.agents.map((a) => EXACT_IOI[a.label] + 0.015);
  assert.deepEqual(
    row.agents.map((a) => a.evaluator.ioi.toFixed(6)),
    exactIoi.map((x) => x.toFixed(6)),
  );
  assert.equal(row.tau.ioi, kendallTauB(rewardIoi, exactIoi));
  // The flips are exactly the pairs ordered differently.
  for (const [a, b] of row.flips.ioi) {
    const i = labels.indexOf(a);
    const j = labels.indexOf(b);
    assert.ok(Math.sign(rewardIoi[i] - rewardIoi[j]) !== Math.sign(exactIoi[i] - exactIoi[j]));
  }
  // Untouched metrics are equal under both simulators here: tau 1 (or undefined when constant).
  assert.ok(row.tau.ctr === 1 || row.tau.ctr === null);
});

test('bench fidelity DIR prints the table and tau; no evaluator metrics is a usage error', async () => {
  let out = '';
  let err = '';
  const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
  assert.equal(await main(['fidelity', dir, '--out', path.join(work, 'fidelity.json')], io), 0, err);
  assert.match(out, /synthetic-learned-v0.*reward simulator sasrec@synthetic#seed1.*vs evaluator synthetic-exact/);
  assert.match(out, /Kendall's tau_b: ioi -?\d\.\d{3}/);
  assert.ok(JSON.parse(readFileSync(path.join(work, 'fidelity.json'), 'utf8'))[0].tau);
  assert.equal(await main(['fidelity'], io), 2);
});

test('the HTML report shows the fidelity table when the results hold a learned simulator and an exact evaluator', async () => {
  const html = await renderReport(readResults(dir));
  assert.match(html, /Fidelity: the leaderboard under the learned simulator \(sasrec@synthetic#seed1\) against the exact dynamics/);
  const [row] = rankAgreement(readResults(dir));
  // ioi is the first metric column.
  assert.ok(html.includes(`Kendall's τ<sub>b</sub></td><td>${row.tau.ioi!.toFixed(3)}</td>`));
});
