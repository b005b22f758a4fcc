/**
 * The report in a real browser: headless Chromium (Debian's `chromium` package) driven by
 * playwright-core opens DIR/report.html from disk, logs no console error, loads nothing but the
 * file, runs no script (the untrusted title shows as text), lays out the tables and the plots,
 * and leaves a full-page screenshot (path printed as a test diagnostic; PRORL_REPORT_SCREENSHOT
 * chooses it). Skipped, with a message, where /usr/bin/chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { codeVersion } from '../benchmarks/cli.ts';
import { runPlan } from '../benchmarks/runner.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';
import { writeReport } from '../reports/report.ts';
import { buildLeaderboard } from '../results/leaderboard.ts';
import { readResults } from '../results/read.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-browser-'));
after(() => rmSync(work, { recursive: true, force: true }));
const EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

async function makeReport(): Promise<string> {
  const suite = path.join(work, 'suite.json');
  writeFileSync(
    suite,
    JSON.stringify({
      name: 'browser-test',
      description: 'report browser test',
      seeds: [1, 2, 3],
      budget: 'smoke',
      budgets: { smoke: { episodes: 16, ks: [1, 5, 10], examples: 2, trainEpochs: 1 } },
      envs: [{ id: 'synthetic-v0', world: { numItems: 120, numUsers: 100 } }],
      agents: [{ agent: 'random' }, { agent: 'popularity' }, { agent: 'greedy-ctr' }, { agent: path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts') }],
    }),
  );
  const dir = path.join(work, 'runs');
  const plan = await planRuns(loadSuite(suite));
  const report = await runPlan(plan.runs, { out: dir, code: codeVersion(), progress: false, log: () => {} });
  assert.equal(report.failed.length, 0);
  for (const f of readdirSync(path.join(dir, 'results'))) {
    const file = path.join(dir, 'results', f);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    r.examples.items[String(r.examples.cases[0].target)].title = EVIL;
    writeFileSync(file, JSON.stringify(r));
  }
  return (await writeReport(dir)).file;
}

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y --no-install-recommends chromium) to run the browser test`;

test(
  'headless Chromium opens the report: no console errors, no requests, no script; tables and plots laid out; screenshot',
  { skip, timeout: 120_000 },
  async (t) => {
    const file = await makeReport();
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(file).href;
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url], 'the page loads nothing but itself');

      // Browser-side code as text: the TypeScript loader would wrap named functions in a helper
      // the page does not have.
      const facts = (await page.evaluate(`(() => {
      const box = (e) => e.getBoundingClientRect();
      const svgs = [...document.querySelectorAll('figure.chart svg')];
      return {
        scripts: document.scripts.length,
        pwned: window.__pwned ?? null,
        title: document.title,
        leaderboardRows: [...document.querySelectorAll('table.leaderboard tbody tr')].map((tr) => tr.querySelector('td').textContent.trim()),
        leaderboardCells: document.querySelectorAll('table.leaderboard tbody td .ci').length,
        atKTables: document.querySelectorAll('table.atk').length,
        runRows: document.querySelectorAll('table.runs tbody tr').length,
        charts: svgs.length,
        tinyCharts: svgs.filter((s) => box(s).width < 100 || box(s).height < 100).length,
        bars: [...document.querySelectorAll('figure[data-metric="ioi"] [aria-roledescription="bar"]')].map((b) => box(b).height),
        curves: [...document.querySelectorAll('figure[data-curve]')].map((f) => f.getAttribute('data-curve')),
        evilShownAsText: document.body.textContent.includes('<script>window.__pwned = 1</script>'),
        examplePaths: document.querySelectorAll('.items.path').length,
        width: document.documentElement.scrollWidth,
        lead: [...document.querySelectorAll('figure[data-lead]')].map((f) => f.getAttribute('data-lead')),
        leadAboveTables: box(document.querySelector('figure[data-lead]')).bottom <= box(document.querySelector('table.leaderboard')).top,
        runRowHeights: [...document.querySelectorAll('table.runs tbody tr')].map((tr) => box(tr).height),
        pathEnds: [...document.querySelectorAll('.items.path')].map((p) => p.lastElementChild.className),
      };
    })()`)) as {
        scripts: number;
        pwned: number | null;
        title: string;
        leaderboardRows: string[];
        leaderboardCells: number;
        atKTables: number;
        runRows: number;
        charts: number;
        tinyCharts: number;
        bars: number[];
        curves: string[];
        evilShownAsText: boolean;
        examplePaths: number;
        width: number;
        lead: string[];
        leadAboveTables: boolean;
        runRowHeights: number[];
        pathEnds: string[];
      };
      assert.equal(facts.scripts, 0);
      assert.equal(facts.pwned, null, 'the untrusted title did not run');
      assert.ok(facts.evilShownAsText, 'the untrusted title shows as text');
      assert.equal(facts.title, 'prorec-gym benchmark report');
      // Rows by target-specific IoI, best first (as leaderboard.json orders them), flags beside the name.
      assert.deepEqual(
        facts.leaderboardRows.map((s) => s.replace(/\s*\(oracle\)/, '').replace(/\s*⚠.*$/, '')),
        buildLeaderboard(readResults(path.dirname(file))).envs[0].entries.map((e) => e.label),
      );
      assert.deepEqual([...facts.leaderboardRows.map((s) => s.replace(/\s*\(oracle\)/, '').replace(/\s*⚠.*$/, ''))].sort(), [
        'greedy-ctr',
        'popularity',
        'random',
        'sampler',
      ]);
      assert.ok(facts.leaderboardCells >= 4 * 7, 'intervals in the leaderboard (reward-simulator metrics)');
      assert.equal(facts.atKTables, 1, 'reward simulator only: the evaluator is the same model here');
      assert.equal(facts.runRows, 12);
      assert.equal(facts.charts, 2 + 9 + 3 + 3, 'lead plots, bar charts (no eval. twins: the evaluator is the simulator), @K charts, learning curves');
      assert.deepEqual(facts.lead, ['specificIoi against CTR', 'path length over training']);
      assert.ok(
        facts.runRowHeights.every((h) => h < 40),
        `run rows stay one line high (config folded): ${facts.runRowHeights}`,
      );
      assert.ok(facts.pathEnds.every((c) => c === 'item target' || c === 'item end'));
      assert.ok(facts.pathEnds.includes('item end'), 'a path that did not arrive does not end in the target');
      assert.ok(facts.leadAboveTables, 'the trade-off and path-length plots come before the tables');
      assert.equal(facts.tinyCharts, 0, 'every plot is laid out at a readable size');
      assert.equal(facts.bars.length, 4);
      assert.ok(
        facts.bars.every((h) => h > 0),
        `bars have a height: ${facts.bars}`,
      );
      assert.deepEqual(facts.curves.slice(0, 3), ['return', 'length', 'kl']);
      assert.equal(facts.examplePaths, 2 * 4, 'two example cases, one path per agent');
      assert.ok(facts.width <= 1280, `no horizontal page scroll (${facts.width}px)`);

      // At 1400 px every table fits its column: no table scrolls sideways.
      await page.setViewportSize({ width: 1400, height: 900 });
      // The trade-off plot is on the first screen (nothing above it pushes it down).
      const leadTop = (await page.evaluate(`document.querySelector('figure[data-lead]').getBoundingClientRect().bottom`)) as number;
      assert.ok(leadTop <= 900, `the lead plot ends within the first 900 px (${leadTop})`);
      const overflowing = (await page.evaluate(
        `[...document.querySelectorAll('table')].filter((t) => t.scrollWidth > t.parentElement.clientWidth).map((t) => t.className + ' ' + t.scrollWidth + '>' + t.parentElement.clientWidth)`,
      )) as string[];
      assert.deepEqual(overflowing, [], 'tables wider than the page at 1400 px');

      const shot = process.env.PRORL_REPORT_SCREENSHOT ?? path.join(tmpdir(), 'prorec-report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(readFileSync(shot).length > 10_000);
      t.diagnostic(`screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  },
);
