import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { validate } from '../core/validate.ts';
import { ResultFileSchema } from '../results/schema.ts';
import { benchIn } from './support/bench-in-process.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-bench-'));
after(() => rmSync(work, { recursive: true, force: true }));

// In-process: the CLI writes through an Io, so a test captures its output without paying for a
// new process and backend per call. One test below runs the real entry point.
process.env.PRORL_BACKEND = 'cpu';
process.env.CI = '1';
const bench = (args: string[]) => benchIn(work, args);

function benchProcess(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'benchmarks/cli.ts'), ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, PRORL_BACKEND: 'cpu', CI: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SMALL = ['--world', '{"numItems":150,"numUsers":200}', '--episodes', '40', '--progress', 'false'];

test('bench runs an agent over seeds, prints the table and writes valid result files; a rerun gives identical files (timings aside)', async () => {
  const a = await bench(['--agent', 'popularity', '--seeds', '2', '--out', 'a', ...SMALL]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /popularity\s+2\s/);
  // Headline columns, target-specific IoI first; no eval columns: on synthetic-v0 the evaluator is the simulator.
  assert.match(a.out, /agent\s+seeds\s+specific IoI\s+percentile\s+IoI\s+IoR\s+CTR\s+length\s+success@10\s+flags/);
  assert.match(a.out, /synthetic-v0: under the reward simulator \(= the evaluator here\)/);
  assert.doesNotMatch(a.out, /eval IoI|under the evaluator simulator/);
  assert.ok(Math.max(...a.out.split('\n').map((l) => l.length)) <= 140, 'the table fits 140 columns');
  assert.doesNotMatch(a.out, /metrics@K/, 'popularity proposes no candidate paths: no note about them');
  const files = readdirSync(path.join(work, 'a/results')).sort();
  assert.deepEqual(files, ['synthetic-v0__popularity__seed1.json', 'synthetic-v0__popularity__seed2.json']);
  const b = await bench(['--agent', 'popularity', '--seeds', '2', '--out', 'b', ...SMALL]);
  assert.equal(b.code, 0, b.err);
  for (const f of files) {
    const x = validate(ResultFileSchema, JSON.parse(readFileSync(path.join(work, 'a/results', f), 'utf8')), f);
    const y = validate(ResultFileSchema, JSON.parse(readFileSync(path.join(work, 'b/results', f), 'utf8')), f);
    assert.equal(x.backend.name, 'cpu');
    assert.equal(x.episodes, 40);
    assert.deepEqual({ ...x, timings: null }, { ...y, timings: null });
  }
});

test('an unknown env or agent lists the known ones and exits 2; a bad option names the option and accepted values', async () => {
  const agent = benchProcess(['--agent', 'nope']);
  assert.equal(agent.code, 2, 'the real entry point exits 2');
  assert.match(agent.err, /unknown agent 'nope'.*random.*popularity.*greedy-ctr/s);
  const env = await bench(['--agent', 'random', '--env', 'nope-v0']);
  assert.equal(env.code, 2);
  assert.match(env.err, /unknown environment 'nope-v0'.*synthetic-v0/s);
  const split = await bench(['--agent', 'random', '--split', 'everything']);
  assert.equal(split.code, 2);
  assert.match(split.err, /split.*test.*valid/s);
  const seeds = await bench(['--agent', 'random', '--seeds', '0']);
  assert.equal(seeds.code, 2);
  assert.match(seeds.err, /--seeds must be a positive integer/);
  const negative = await bench(['--agent', 'random', '--seed-start', '-3']);
  assert.equal(negative.code, 2, 'a negative seed would write …seed-3.json');
  assert.match(negative.err, /--seed-start must be a non-negative integer, got -3/);
  const cfg = await bench(['--agent', 'random', '--agent-config', '{"pathLength":-1}']);
  assert.equal(cfg.code, 2);
  assert.match(cfg.err, /pathLength/);
});

test('a plug-in agent loads from a path', async () => {
  const file = path.join(work, 'first-item.ts');
  writeFileSync(
    file,
    `export default {
  name: 'first-allowed',
  description: 'the lowest allowed item id, three times, then STOP',
  create() {
    return {
      name: 'first-allowed',
      act(observations, ctx) {
        return Int32Array.from(observations, (o) => (o.step >= 3 ? ctx.env.actionSpace.stop : o.actionMask.indexOf(1)));
      },
    };
  },
};
`,
  );
  const r = await bench(['--agent', './first-item.ts', '--seeds', '1', '--out', 'plug', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(readFileSync(path.join(work, 'plug/results/synthetic-v0__first-allowed__seed1.json'), 'utf8'));
  assert.equal(result.metrics.length, 3);
  assert.equal(result.metrics.stopRate, 1);
  // Bad agent modules are bad input: exit 2 with one clear line (no stack).
  const missing = await bench(['--agent', './missing.ts']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^bench: agent module .*missing\.ts: no such file\n/);
  writeFileSync(path.join(work, 'broken.ts'), 'export default { name: "broken", create( };\n');
  const broken = await bench(['--agent', './broken.ts']);
  assert.equal(broken.code, 2);
  assert.match(broken.err, /^bench: agent module .*broken\.ts: could not be loaded: \w*Error: [^\n]+\n$/);
  writeFileSync(path.join(work, 'not-agent.ts'), 'export default { name: 3 };\n');
  const notAgent = await bench(['--agent', './not-agent.ts']);
  assert.equal(notAgent.code, 2);
  assert.match(notAgent.err, /^bench: agent module .*not-agent\.ts: the default export is not an agent factory/);
});

test('the table explains why metrics@1 differ from the headline metrics when the agent proposes candidate paths', async () => {
  const r = await bench(['--agent', path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts'), '--seeds', '1', '--out', 'atk', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /metrics@K .* score the paths of the agent's proposePaths.*different decodings.*IoI@1 differs from IoI/s);
  assert.match(readFileSync(path.join(work, 'atk/leaderboard.md'), 'utf8'), /### Metrics@K[\s\S]*different decodings/);
});
