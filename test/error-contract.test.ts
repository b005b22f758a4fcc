/**
 * The error contract and labels that tell the truth:
 * - a bad environment variable or option is exit 2 with a message naming it, before anything is
 *   written (the bench and sim command lines, spawned as users run them);
 * - a JSON option nested thousands of levels deep is a validation error, not a stack overflow;
 * - a plug-in agent's name is checked when its module is resolved (empty, line breaks);
 * - labels from plug-ins and hand-edited result files cannot break Markdown or text tables, and a
 *   harmless label such as `tuned onpolicy=yes` does not trip the report's markup check;
 * - every episode has one end cause (STOP, L_max, the user left) and the metrics say which;
 * - errors raised on purpose are typed, bugs go through invariant(), and ESLint keeps bare
 *   `throw new Error` out of the library folders.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { ESLint } from 'eslint';
import { main } from '../benchmarks/cli.ts';
import { AgentModuleError, registerAgent, resolveAgent } from '../agents/registry.ts';
import { randomAgent } from '../agents/heuristics.ts';
import { ConfigError, describeError, exitCodeOf, InternalError, invariant } from '../core/errors.ts';
import { Type } from '@sinclair/typebox';
import { validate, ValidationError } from '../core/validate.ts';
import { make, makeVec } from '../envs/registry.ts';
import { checkEnv, type CheckableEnv } from '../envs/check.ts';
import '../envs/index.ts';
import { buildLeaderboard, leaderboardMarkdown, leaderboardTerminal } from '../results/leaderboard.ts';
import { readResults } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';
import { assertSafeSvg } from '../reports/plots.ts';
import { writeReport } from '../reports/report.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-contract-'));
after(() => rmSync(work, { recursive: true, force: true }));

process.env.PRORL_BACKEND = 'cpu';
process.env.CI = '1';
const SMALL = ['--world', '{"numItems":120,"numUsers":150}', '--episodes', '24', '--seeds', '1', '--budget', 'smoke', '--progress', 'false'];

async function bench(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** A plug-in agent module: the built-in random agent under another name. */
function plugin(file: string, name: string): string {
  const p = path.join(work, file);
  const heuristics = pathToFileURL(path.join(ROOT, 'agents/heuristics.ts')).href;
  writeFileSync(p, `import { randomAgent } from ${JSON.stringify(heuristics)};\nexport default { ...randomAgent, name: ${JSON.stringify(name)} };\n`);
  return p;
}

function spawnCli(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=prorec-gym-source', '--import', import.meta.resolve('tsx'), path.join(ROOT, script), ...args], {
      cwd: work,
      env: { ...process.env, CI: '1', ...env },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, err }));
  });
}

test('a bad environment variable is exit 2 naming it, before anything is written (bench and sim)', async () => {
  const notAFolder = path.join(work, 'cache-file');
  writeFileSync(notAFolder, 'x');
  const cases: [Record<string, string>, RegExp][] = [
    [{ PRORL_BACKEND: 'foo' }, /unknown backend 'foo' from PRORL_BACKEND=foo/],
    [{ PRORL_SIM_WORKERS: '-1' }, /PRORL_SIM_WORKERS must be a non-negative integer, got '-1'/],
    [{ PRORL_SIM_WORKERS: 'abc' }, /PRORL_SIM_WORKERS must be a non-negative integer, got 'abc'/],
    [{ PRORL_RL_WORKERS: 'abc' }, /PRORL_RL_WORKERS must be 0 or 1, got 'abc'/],
    [{ PRORL_BLAS: 'garbage' }, /PRORL_BLAS=garbage is not one of/],
    [{ PRORL_CACHE_DIR: notAFolder }, /PRORL_CACHE_DIR=.* is not a folder/],
    [{ PRORL_CACHE_DIR: '' }, /PRORL_CACHE_DIR is set but empty/],
  ];
  const check = (what: string, r: { code: number | null; err: string }, message: RegExp, out: string) => {
    assert.equal(r.code, 2, `${what}: ${r.err}`);
    assert.match(r.err, message, what);
    assert.doesNotMatch(r.err, /\n\s+at /, `${what}: no stack trace`);
    assert.ok(!existsSync(out), `${what}: nothing written (no manifest, no result)`);
  };
  // The command lines as users run them (two of the cases, and the sim command).
  const spawned = await Promise.all([
    spawnCli('benchmarks/cli.ts', ['--agent', 'random', '--env', 'synthetic-v0', '--out', path.join(work, 'env-s0'), ...SMALL], cases[0][0]),
    spawnCli('benchmarks/cli.ts', ['--agent', 'random', '--env', 'synthetic-v0', '--out', path.join(work, 'env-s1'), ...SMALL], cases[1][0]),
    spawnCli('simulators/cli.ts', ['info', path.join(work, 'no-such.ckpt')], { PRORL_SIM_WORKERS: 'x' }),
  ]);
  check('spawned PRORL_BACKEND=foo', spawned[0], cases[0][1], path.join(work, 'env-s0'));
  check('spawned PRORL_SIM_WORKERS=-1', spawned[1], cases[1][1], path.join(work, 'env-s1'));
  check('spawned sim PRORL_SIM_WORKERS=x', spawned[2], /^sim: PRORL_SIM_WORKERS must be a non-negative integer, got 'x'/, path.join(work, 'none'));
  // Every case in process (the same main, without paying for a process each).
  for (const [i, [env, message]] of cases.entries()) {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const out = path.join(work, `env-${i}`);
      check(JSON.stringify(env), await bench(['--agent', 'random', '--env', 'synthetic-v0', '--out', out, ...SMALL]), message, out);
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  }
});

test('a JSON option nested 3,000 levels deep is exit 2 naming the option, not a stack overflow', async () => {
  const deep = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
  const out = path.join(work, 'deep');
  const r = await bench(['--agent', 'random', '--env', 'synthetic-v0', '--out', out, '--agent-config', deep, ...SMALL]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--agent-config: invalid\n\s+- a\.a\.a\.a\.…: nested more than 64 levels deep/);
  assert.ok(!existsSync(out));
  // Every config and file goes through validate(): it refuses the depth before anything recursive.
  const value = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
  assert.throws(
    () => validate(Type.Array(Type.Unknown()), value, 'deep.json'),
    (e: unknown) => e instanceof ValidationError && /deep\.json: invalid/.test(e.message),
  );
  // 64 levels are fine.
  validate(Type.Unknown(), JSON.parse('['.repeat(64) + ']'.repeat(64)), 'ok.json');
});

test("a plug-in agent's name is checked when its module is resolved: empty, line breaks and control characters are refused", async () => {
  let n = 0;
  for (const [name, why] of [
    ['', /the name "" is empty/],
    ['  ', /is empty/],
    ['two\nlines', /has a line break or another control character/],
    ['tab\there', /control character/],
    [' padded', /starts or ends with a space/],
    ['x'.repeat(101), /101 characters, more than 100/],
  ] as const) {
    const file = plugin(`bad-${n++}.mts`, name);
    await assert.rejects(resolveAgent(file), (e: unknown) => e instanceof AgentModuleError && e.kind === 'input' && why.test(e.message), JSON.stringify(name));
  }
  assert.throws(
    () => registerAgent({ ...randomAgent, name: 'a\nb' }),
    (e: unknown) => e instanceof ConfigError && /line break/.test(e.message),
  );
  // Through the command line: exit 2 before any run, no result folder.
  const out = path.join(work, 'empty-name');
  const r = await bench(['--agent', plugin('empty.mts', ''), '--env', 'synthetic-v0', '--out', out, ...SMALL]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /its agent: the name "" is empty/);
  assert.ok(!existsSync(path.join(out, 'results')));
});

test("labels with '|' and line breaks keep leaderboard.md's and the terminal's tables whole; the report accepts `tuned onpolicy=yes`", async () => {
  const out = path.join(work, 'labels');
  for (const [file, name] of [
    ['tuned.mts', 'tuned onpolicy=yes'],
    ['pipe.mts', 'pipe | name'],
  ]) {
    const r = await bench(['--agent', plugin(file, name), '--env', 'synthetic-v0', '--out', out, ...SMALL]);
    assert.equal(r.code, 0, r.err);
  }
  const md = readFileSync(path.join(out, 'leaderboard.md'), 'utf8');
  assert.match(md, /^\| pipe \\\| name( ⚠[^|]*)? \| 1 \|/m);
  // A hand-edited result file: a label with a line break and a pipe.
  const results = readResults(out);
  const edited: ResultFile[] = results.map((r) =>
    r.run.label === 'pipe | name' ? { ...r, run: { ...r.run, label: 'evil | label\nsecond line\r\nthird' } } : r,
  );
  for (const text of [leaderboardMarkdown(buildLeaderboard(edited)), md]) {
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.startsWith('| agent |'));
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    const rows = [];
    for (let i = header + 2; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i]);
    assert.equal(rows.length, 2, text);
    for (const row of rows) assert.equal(cells(row), cells(lines[header]), `row with the header's cell count: ${row}`);
    assert.ok(!lines.some((l) => l.startsWith('second line') || l.startsWith('third')), 'no label text on a line of its own');
  }
  const terminal = leaderboardTerminal(buildLeaderboard(edited));
  assert.match(terminal, /evil \| label second line third {2}/);
  assert.ok(!terminal.split('\n').some((l) => l.startsWith('second line')));

  // The report: a label that merely reads like an event handler is text, not markup.
  const { file } = await writeReport(out);
  const html = readFileSync(file, 'utf8');
  assert.match(html, /tuned onpolicy&#x3D;yes|tuned onpolicy=yes/);
  // The check still refuses active markup.
  for (const bad of [
    '<svg><g onload="x"></g></svg>',
    '<svg><script>1</script></svg>',
    '<svg><a href="https://example.org/">x</a></svg>',
    '<svg><a xlink:href="&#106;avascript:x">x</a></svg>',
    '<svg><!-- c --></svg>',
  ])
    assert.throws(() => assertSafeSvg(bad), /plot: unsafe SVG content/, bad);
  assertSafeSvg('<svg><text aria-label="tuned onpolicy=yes; x: javascript:1">tuned onpolicy=yes &lt;script&gt;</text><a href="#m"/></svg>');
});

test('synthetic-patience-v0: each episode has one end cause; random (never STOP) has stopRate 0', async () => {
  const out = path.join(work, 'patience');
  const r = await bench(['--agent', 'random', '--env', 'synthetic-patience-v0', '--out', out, ...SMALL]);
  assert.equal(r.code, 0, r.err);
  const [result] = readResults(out);
  const m = result.metrics;
  assert.equal(m.stopRate, 0, 'random never sends STOP');
  assert.ok(m.leftRate > 0.5, `leftRate ${m.leftRate}`);
  assert.ok(Math.abs(m.stopRate + m.maxLengthRate + m.leftRate - 1) < 1e-12);
  const share = (end: string) => result.cases.filter((c) => c.end === end).length / result.cases.length;
  assert.deepEqual([share('stop'), share('maxLength'), share('left')], [m.stopRate, m.maxLengthRate, m.leftRate]);

  // The environment itself: the summary's cause matches the step that ended the episode.
  const env = await makeVec('synthetic-patience-v0', 16, { world: { numItems: 120, numUsers: 150, seed: 3 } });
  const seen = new Set<string>();
  let { observations } = env.reset({ seed: 7 });
  const done = new Array<boolean>(16).fill(false);
  for (let t = 0; t < 40 && done.some((d) => !d); t++) {
    // Rows 0-3 STOP at step 2; the rest recommend the first allowed item.
    const actions = observations.map((o, k) =>
      k < 4 && t === 2 ? env.actionSpace.stop : o.actionMask.findIndex((a, i) => a === 1 && i < env.actionSpace.stop),
    );
    const s = env.step(actions);
    s.infos.forEach((info, k) => {
      if (!info.episode || done[k]) return;
      done[k] = true;
      const e = info.episode;
      const expected = info.stop ? 'stop' : info.left ? 'left' : 'maxLength';
      assert.equal(e.end, expected, `row ${k}`);
      assert.equal(e.stopped, expected === 'stop');
      assert.equal(e.left, expected === 'left');
      assert.equal(s.truncated[k] === 1, expected === 'maxLength');
      seen.add(e.end);
    });
    observations = s.observations;
  }
  env.close();
  assert.deepEqual([...seen].sort(), ['left', 'stop'], 'both causes occurred');

  // checkEnv checks the cause against the step that ended the episode: honest passes, a liar fails.
  const single = await make('synthetic-patience-v0', { world: { numItems: 120, numUsers: 150, seed: 3 } });
  checkEnv(single, { seeds: [0, 1, 2] });
  const liar: CheckableEnv = {
    id: single.id,
    config: single.config,
    observationSpec: single.observationSpec,
    actionSpace: single.actionSpace,
    infoKeys: single.infoKeys,
    reset: (args) => single.reset(args as Parameters<typeof single.reset>[0]),
    step: (action) => {
      const r = single.step(action);
      const e = r.info.episode;
      return e?.left ? { ...r, info: { ...r.info, episode: { ...e, end: 'stop', stopped: true } } } : r;
    },
    close: () => single.close(),
  };
  assert.throws(() => checkEnv(liar, { seeds: [0, 1, 2] }), /the episode ended without STOP or truncation, its summary says end 'stop'/);
});

test('errors: invariant() is a bug (exit 1, stack); ESLint refuses a bare throw new Error in the library folders', async () => {
  assert.doesNotThrow(() => invariant(true, 'fine'));
  assert.throws(
    () => invariant(0, () => 'broken'),
    (e: unknown) => e instanceof InternalError && /internal error \(a bug in prorec-gym\): broken/.test(e.message),
  );
  let caught: unknown;
  try {
    invariant(false, 'x');
  } catch (e) {
    caught = e;
  }
  assert.equal(exitCodeOf(caught), 1);
  assert.match(describeError('bench', caught), /\n\s+at /, 'a bug is reported with its stack');
  assert.equal(exitCodeOf(new ConfigError('bad')), 2);

  const eslint = new ESLint({ cwd: ROOT });
  for (const folder of ['agents', 'envs', 'benchmarks', 'simulators', 'data', 'results', 'reports']) {
    const [r] = await eslint.lintText("export function f(x: number): void {\n  if (x) throw new Error('no');\n}\n", {
      filePath: path.join(ROOT, folder, 'probe.ts'),
    });
    assert.ok(
      r.messages.some((m) => m.ruleId === 'no-restricted-syntax'),
      `${folder}: ${JSON.stringify(r.messages)}`,
    );
  }
  const [ok] = await eslint.lintText("import { invariant } from '../core/errors.ts';\nexport function f(x: number): void {\n  invariant(x, 'no');\n}\n", {
    filePath: path.join(ROOT, 'agents', 'probe.ts'),
  });
  assert.deepEqual(
    ok.messages.map((m) => m.ruleId),
    [],
  );
});
