/**
 * The HTML report from result files: one self-contained file (no script, no external reference,
 * a CSP that forbids loading anything), leaderboard tables with intervals, bar charts with error
 * bars, metrics@K, learning curves, example paths with item titles, run metadata; untrusted text
 * (item titles, labels) escaped; the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { codeVersion } from '../benchmarks/cli.ts';
import { runPlan } from '../benchmarks/runner.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';
import { reportMain } from '../reports/cli.ts';
import { assertSafeSvg } from '../reports/plots.ts';
import { renderReport, writeReport } from '../reports/report.ts';
import { readResults } from '../results/read.ts';
import { buildLeaderboard } from '../results/leaderboard.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-report-'));
after(() => rmSync(work, { recursive: true, force: true }));
const dir = path.join(work, 'runs');
export const EVIL = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)"> & "Tom\'s"';

before(async () => {
  const suite = path.join(work, 'suite.json');
  writeFileSync(
    suite,
    JSON.stringify({
      name: 'report-test',
      description: 'report test',
      seeds: [1, 2, 3],
      budget: 'smoke',
      budgets: { smoke: { episodes: 16, ks: [1, 5], examples: 2, trainEpochs: 1 } },
      envs: [{ id: 'synthetic-v0', world: { numItems: 120, numUsers: 100 } }],
      agents: [
        { agent: 'random' },
        { agent: 'popularity' },
        { agent: 'greedy-ctr', config: { pathLength: 4 } },
        { agent: path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts') },
      ],
    }),
  );
  const plan = await planRuns(loadSuite(suite));
  const report = await runPlan(plan.runs, { out: dir, code: codeVersion(), progress: false, log: () => {} });
  assert.equal(report.failed.length, 0);
  // An untrusted item title in every file's example items: the report must show it as text.
  for (const f of readdirSync(path.join(dir, 'results'))) {
    const file = path.join(dir, 'results', f);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const first = String(r.examples.cases[0].path[0] ?? r.examples.cases[0].target);
    r.examples.items[first].title = EVIL;
    writeFileSync(file, JSON.stringify(r));
  }
});

test('the report is one self-contained, script-free file with tables, inline SVG plots, curves, @K and example paths', async () => {
  const { file, bytes } = await writeReport(dir);
  const html = readFileSync(file, 'utf8');
  assert.equal(Buffer.byteLength(html), bytes);
  assert.ok(bytes < 1_000_000, `${bytes} bytes`);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  assert.doesNotMatch(html, /<script/i, 'no script element, and the untrusted title is escaped');
  assert.doesNotMatch(html, /<img/i);
  assert.doesNotMatch(html, /\s(?:src|href)\s*=\s*["']?(?:https?:|\/\/)/i, 'nothing loaded from the network');
  assert.ok(
    html.includes('&lt;script&gt;window.__pwned &#x3D; 1&lt;/script&gt;&lt;img src&#x3D;x onerror&#x3D;&quot;alert(1)&quot;&gt; &amp; &quot;Tom&#x27;s&quot;'),
  );
  // Tables: leaderboard with intervals, IQM, metrics@K for the agent that proposes paths, runs.
  assert.equal((html.match(/<table class="leaderboard">/g) ?? []).length, 1);
  for (const label of ['random', 'popularity', 'greedy-ctr', 'sampler']) assert.match(html, new RegExp(`<td class="name">${label}`));
  // One interval everywhere: the 95% t-interval over seeds, as ± its half-width (the terminal's).
  assert.match(html, /<span class="ci">± \d+\.\d+<\/span>/);
  assert.doesNotMatch(html, /bootstrap/);
  assert.doesNotMatch(html, /<span class="ci">\[/);
  assert.match(html, /<table class="iqm">/);
  assert.equal((html.match(/<table class="atk">/g) ?? []).length, 1, 'reward simulator only: the evaluator is the same model here');
  assert.equal((html.match(/<tr><td class="name">sampler<\/td><td>5<\/td>/g) ?? []).length, 1);
  assert.match(html, /<table class="runs">/);
  assert.equal((html.match(/<tr><td class="name">synthetic-v0<\/td>/g) ?? []).length, 12, 'one metadata row per run');
  // Plots: one bar chart per headline metric, @K lines, learning curves of return, length and KL.
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  svgs.forEach(assertSafeSvg);
  assert.equal(
    (html.match(/<figure class="chart" data-metric="(?!\w+@K)/g) ?? []).length,
    9,
    'one bar chart per headline metric (IoI, target-specific IoI, percentile, ...); none of the eval. twins, equal on synthetic-v0',
  );
  assert.doesNotMatch(html, /data-metric="eval\./);
  assert.match(html, /The evaluator is the reward simulator here[^<]*not repeated/);
  for (const m of ['ioi@K', 'ior@K', 'ctr@K']) assert.ok(html.includes(`data-metric="${m}"`), m);
  for (const c of ['return', 'length', 'kl']) assert.ok(html.includes(`data-curve="${c}"`), c);
  assert.equal(svgs.length, 2 + 9 + 3 + 3, 'lead plots, bars, @K, curves');
  // The report leads with the trade-off on target-specific IoI (raw IoI cannot tell steering from
  // flattening) against CTR, and path length over training; the world's JSON comes after them.
  const lead = html.indexOf('data-lead="specificIoi against CTR"');
  assert.ok(lead > 0 && lead < html.indexOf('data-lead="path length over training"'));
  assert.ok(html.indexOf('<details class="setting">') > lead, 'the config JSON is folded away below the plots');
  // Rows sorted by target-specific IoI, best first.
  const order = [...html.matchAll(/<table class="leaderboard">[\s\S]*?<\/table>/g)][0][0]
    .match(/<tr><td class="name">[\w-]+/g)!
    .map((m) => m.replace(/.*>/, ''));
  const lb = buildLeaderboard(readResults(dir)).envs[0];
  assert.deepEqual(
    order,
    lb.entries.map((e) => e.label),
  );
  const specific = lb.entries.map((e) => e.metrics.specificIoi.mean);
  assert.deepEqual(
    specific,
    [...specific].sort((a, b) => b - a),
  );
  // An example path ends in the target only when it got there (success).
  assert.match(html, /<span class="item end">ended: target not reached<\/span>/);
  // The runs table keeps each agent config folded (rows one line high).
  assert.match(html, /<td class="name"><details><summary>config<\/summary><code>\{/);
  assert.ok(html.indexOf('data-lead="path length over training"') < html.indexOf('<table class="leaderboard">'), 'before the tables');
  assert.doesNotMatch(html, /class="warning"/, 'every row has the same seeds and cases');
  assert.ok(html.includes('different decodings'), 'the @K section says why @1 is not the headline');
  // Bars with error bars: a rect mark per agent and rule marks (the whiskers) in a bar chart.
  const ioi = /<figure class="chart" data-metric="ioi">[\s\S]*?<\/figure>/.exec(html)?.[0] ?? '';
  assert.equal((ioi.match(/aria-roledescription="bar"/g) ?? []).length, 4, 'four bars');
  assert.ok((ioi.match(/class="mark-rule role-mark/g) ?? []).length >= 1, 'error bars');
  // Example paths with titles and attributes.
  assert.match(html, /test case \d+ \(seed 1\)/);
  // Synthetic titles name their attributes ("Item 7 (genre-2)"): not repeated after them; other
  // titles (here the untrusted one) are followed by the item's attributes.
  assert.match(html, /Item \d+ \(genre-\d+/);
  assert.doesNotMatch(html, /Item \d+ \(genre-[^)]*\) <span class="attrs">/);
  assert.match(html, /Tom&#x27;s&quot; <span class="attrs">\[genre-\d+/);
});

test('report edge cases: a warning for rows with other seeds or cases, all-zero charts, counters and one-point logs are not curves', async () => {
  const dir2 = path.join(work, 'edge');
  mkdirSync(path.join(dir2, 'results'), { recursive: true });
  for (const f of readdirSync(path.join(dir, 'results'))) {
    if (f === 'synthetic-v0__random__seed3.json') continue; // random: seeds 1 and 2 only
    const r = JSON.parse(readFileSync(path.join(dir, 'results', f), 'utf8'));
    r.metrics.success = 0;
    if (r.evaluatorMetrics) r.evaluatorMetrics.success = 0;
    if (r.curves.train) {
      r.curves.train = r.curves.train.map((p: Record<string, number>, i: number) => ({ ...p, epoch: 1 + Math.floor(i / 4), 'sampler/seconds': i }));
      r.curves.train.push({ step: 99, 'sampler/bestValid': 0.25 + r.seed });
    }
    writeFileSync(path.join(dir2, 'results', f), JSON.stringify(r));
  }
  const html = await renderReport(readResults(dir2));
  assert.match(html, /<p class="warning" role="note"><strong>Not comparable:<\/strong> These rows were not measured alike/);
  // Degenerate results are flagged in the row and explained under the table (results/degenerate.ts):
  // popularity and random always take L_max = 10 items.
  assert.match(html, /<td class="name">popularity <span class="flag">⚠ always 10[,<]/);
  assert.match(html, /<ul class="flags" role="note"><li>[^<]*random[^<]*: every path is L_max &#x3D; 10 items long: the agent never stops/);
  assert.doesNotMatch(html, /<td class="name">greedy-ctr[^\n]*class="flag"/, 'greedy-ctr (4 items, above random in CTR) is not flagged');
  assert.match(html, /random \(seeds 1, 2; 16 test cases\)/);
  assert.match(html, /(?:(?:greedy-ctr|popularity|sampler)(?:, )?){3} \(seeds 1, 2, 3; 16 test cases\)/, 'rows in headline order');
  const success = /<figure class="chart" data-metric="success">[\s\S]*?<\/figure>/.exec(html)?.[0] ?? '';
  assert.match(success, /\(0 for every agent\)/);
  assert.doesNotMatch(success, /0\.0{4,}/, 'no "0.000000" tick');
  assert.match(success, />1<\/text>/, 'the axis runs to 1');
  for (const counter of ['epoch', 'sampler/seconds', 'sampler/bestValid']) assert.ok(!html.includes(`data-curve="${counter}"`), counter);
  assert.match(html, /<table class="summaries">[\s\S]*<th>sampler\/bestValid<\/th>[\s\S]*<td class="name">sampler<\/td><td>2\.2500<\/td>/);
});

test('the same results give the same report (timestamps aside), whatever the file order', async () => {
  const results = readResults(dir);
  const a = await renderReport(results);
  const b = await renderReport([...results].reverse());
  assert.equal(a, b);
});

test('npm run report: missing folder or invalid result files exit 2 with the file named', async () => {
  let err = '';
  const capture = (t: string) => void (err += t);
  assert.equal(await reportMain([path.join(work, 'nope')], capture), 2);
  assert.match(err, /nope: no results folder/);
  assert.equal(await reportMain([], capture), 2);
  const broken = path.join(work, 'broken');
  mkdirSync(path.join(broken, 'results'), { recursive: true });
  writeFileSync(path.join(broken, 'results', 'x.json'), JSON.stringify({ schemaVersion: 1 }));
  err = '';
  assert.equal(await reportMain([broken], capture), 2);
  assert.match(err, /results\/x\.json: invalid\n\s+- schemaVersion: 1; this code reads version 5/);
});

test('a run folder with an estimator-variance study gets the Estimators section; an invalid study fails naming the file', async () => {
  const { exactVariance } = await import('../benchmarks/estimator-variance.ts');
  const vdir = path.join(work, 'with-variance');
  mkdirSync(path.join(vdir, 'results'), { recursive: true });
  for (const f of readdirSync(path.join(dir, 'results'))) writeFileSync(path.join(vdir, 'results', f), readFileSync(path.join(dir, 'results', f)));
  const exact = exactVariance(2); // groups of 2: the same rows as the study's default of 3, in 0.4 s instead of 15
  const study = { kind: 'estimator-variance', version: 1, exact, monteCarlo: null };
  writeFileSync(path.join(vdir, 'estimator-variance.json'), JSON.stringify(study));
  const html = readFileSync((await writeReport(vdir)).file, 'utf8');
  assert.match(html, /<section id="estimators">/);
  for (const row of exact.rows) assert.ok(html.includes(`<td class="name">${row.label}</td>`), row.label);
  assert.doesNotMatch(readFileSync((await writeReport(dir)).file, 'utf8'), /id="estimators"/, 'no study, no section');
  writeFileSync(path.join(vdir, 'estimator-variance.json'), JSON.stringify({ ...study, version: 2 }));
  await assert.rejects(writeReport(vdir), /estimator-variance\.json/);
});
