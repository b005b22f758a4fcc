/**
 * Agents in other processes (agents/process/, docs/agent-protocol.md): a Python agent through the
 * harness (trained through the env channel, seeded, beating random), the Python client's
 * ProrecVectorEnv against the TypeScript environment bit for bit, and agent processes that crash,
 * hang, raise, send garbage or are interrupted: each a failed run (non-zero exit) with a clear
 * message, and its process reaped. Skips, saying why, without python3 or NumPy.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readResults } from '../results/read.ts';
import '../envs/index.ts';
import { makeVec } from '../envs/registry.ts';
import { AGENT_TIMEOUT_VARIABLE } from '../agents/process/channel.ts';
import { encodeFrame, decodeFrame, splitFrame } from '../agents/process/protocol.ts';
import { benchIn } from './support/bench-in-process.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIXTURES = path.join(ROOT, 'test/fixtures/agent-process');
const REINFORCE = path.join(ROOT, 'examples/python/reinforce_numpy.py');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-agent-process-'));
after(() => rmSync(work, { recursive: true, force: true }));

const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const skip = probe.error
  ? `python3 is not available (${probe.error.message})`
  : probe.status !== 0
    ? `NumPy is not importable by python3 (${probe.stderr.trim().split('\n').pop()})`
    : false;
if (skip) process.stderr.write(`agent-process tests skipped: ${skip}\n`);
/** The slower failure-mode tests run under `npm run test:long` (CI runs it), not in `npm test`. */
const long = process.env.PRORL_TEST_LONG === '1' ? false : 'a longer test: `npm run test:long` runs it (CI does)';

process.env.PRORL_BACKEND = 'cpu';
process.env.CI = '1';
const WORLD = '{"numItems":150,"numUsers":200}';
const SMALL = ['--env', 'synthetic-v0', '--world', WORLD, '--episodes', '64', '--progress', 'false', '--no-reference'];

/** `bench ARGS` in this process from the work folder; the agent timeout variable a test sets is cleared after. */
async function bench(args: string[]) {
  try {
    return await benchIn(work, args);
  } finally {
    delete process.env[AGENT_TIMEOUT_VARIABLE];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidOf(file: string): number {
  const pid = Number(readFileSync(file, 'utf8'));
  assert.ok(Number.isInteger(pid) && pid > 0, `${file}: ${pid}`);
  return pid;
}

test('frames round-trip: header, arrays of every dtype, alignment; bytes that are not a frame are refused', () => {
  const arrays = {
    a: { data: Int32Array.from([1, -2, 3]), shape: [3] },
    m: { data: Uint8Array.from([1, 0, 1, 1, 0, 1]), shape: [2, 3] },
    f: { data: Float64Array.from([0.1, -Infinity]), shape: [2] },
  };
  const frame = encodeFrame({ type: 'x', k: 'v' }, arrays);
  const f = splitFrame(frame, 'test')!;
  assert.equal(f.length, frame.length);
  assert.equal(splitFrame(frame.subarray(0, frame.length - 1), 'test'), null);
  const m = decodeFrame(f.header, f.payload, 'test');
  assert.equal(m.header.k, 'v');
  for (const [name, a] of Object.entries(arrays)) {
    assert.deepEqual(m.arrays.get(name)!.data, a.data);
    assert.deepEqual(m.arrays.get(name)!.shape, a.shape);
  }
  assert.throws(
    () => splitFrame(Buffer.from('Loading...'), 'an agent'),
    /an agent wrote bytes that are not a protocol frame \(expected "PRG1", got "Loading\.\.\."\)/,
  );
});

test('a Python agent trains through the env channel, is seeded, and beats random on specific IoI', { skip }, async () => {
  const a = await bench(['--agent', REINFORCE, '--agent-config', '{"epochs":8}', '--seeds', '2', '--out', 'py', ...SMALL]);
  assert.equal(a.code, 0, a.err);
  const r = await bench(['--agent', 'random', '--seeds', '2', '--out', 'py', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  const results = readResults(path.join(work, 'py'));
  const mean = (label: string) => {
    const rows = results.filter((x) => x.run.label === label);
    assert.equal(rows.length, 2, label);
    return rows.reduce((s, x) => s + x.metrics.specificIoi, 0) / rows.length;
  };
  const py = results.find((x) => x.run.label === 'reinforce_numpy')!;
  assert.match(String(py.run.config.agentCode), /^[0-9a-f]{64}$/, 'the run hash covers the agent folder');
  assert.ok((py.curves?.train?.length ?? 0) === 8, 'the learning curve came through the protocol');
  assert.ok(mean('reinforce_numpy') > mean('random') + 0.5, `reinforce_numpy ${mean('reinforce_numpy')} vs random ${mean('random')}`);

  // Per-row seeds reach the agent: a sampling agent gives the same paths twice.
  const pidfile = path.join(work, 'sampler.pid');
  const config = JSON.stringify({ mode: 'sampler', pidfile });
  const runs = [];
  for (const out of ['s1', 's2']) {
    const s = await bench(['--agent', path.join(FIXTURES, 'misbehaving.py'), '--agent-config', config, '--seeds', '1', '--out', out, ...SMALL]);
    assert.equal(s.code, 0, s.err);
    runs.push(readResults(path.join(work, out))[0]);
  }
  assert.deepEqual(
    runs[0].cases.map((c) => c.path),
    runs[1].cases.map((c) => c.path),
  );
  assert.ok(new Set(runs[0].cases.map((c) => c.path.join(','))).size > 1, 'the agent sampled');
  assert.equal(alive(pidOf(pidfile)), false, 'the agent process was reaped');
});

test('ProrecVectorEnv in Python reproduces the TypeScript environment bit for bit', { skip }, async () => {
  const serve = [
    process.execPath,
    '--conditions=prorec-gym-source',
    '--import',
    import.meta.resolve('tsx'),
    path.join(ROOT, 'bin/prorec-gym.ts'),
    'serve',
    '--env',
    'synthetic-v0',
    '--world',
    WORLD,
  ];
  const r = spawnSync('python3', [path.join(FIXTURES, 'vector_loop.py'), '8', '7', '4', ...serve], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: path.join(ROOT, 'clients/python') },
  });
  assert.equal(r.status, 0, r.stderr);
  const rec = JSON.parse(r.stdout) as { case_index: number[]; actions: number[][]; rewards: string[][]; terminated: boolean[][] };
  const env = await makeVec('synthetic-v0', 8, { world: JSON.parse(WORLD) as Record<string, unknown>, split: 'train' });
  const { infos } = env.reset({ seed: 7 });
  assert.deepEqual(
    infos.map((i) => i.caseIndex),
    rec.case_index,
  );
  // The bits of a double, as the fixture prints them.
  const hex = (x: number) => {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x);
    return b.getBigUint64(0).toString(16).padStart(16, '0');
  };
  rec.actions.forEach((actions, t) => {
    const s = env.step(Int32Array.from(actions));
    assert.deepEqual(Array.from(s.rewards, hex), rec.rewards[t], `rewards of step ${t}`);
    assert.deepEqual(Array.from(s.terminated, Boolean), rec.terminated[t]);
  });
  env.close();
});

test(
  'an agent process that crashes, hangs, raises, sends garbage or breaks the protocol fails its run with its message, exit 1, process reaped',
  { skip: skip || long },
  async () => {
    const misbehaving = path.join(FIXTURES, 'misbehaving.py');
    const cases = [
      {
        mode: 'crash',
        extra: [],
        expect: /exited with code 3 while the harness waited for the reply to 'act'[\s\S]*stderr of the agent process[\s\S]*about to crash/,
      },
      {
        mode: 'hang',
        extra: ['--agent-timeout', '2'],
        expect: /sent nothing for 2 s while the harness waited for the reply to 'act': taken as hung and killed/,
      },
      { mode: 'error', extra: [], expect: /failed \(the reply to 'act'\): ValueError: the agent's own message\n[\s\S]*Traceback/ },
    ];
    for (const c of cases) {
      const pidfile = path.join(work, `${c.mode}.pid`);
      const r = await bench([
        '--agent',
        misbehaving,
        '--agent-config',
        JSON.stringify({ mode: c.mode, pidfile }),
        '--seeds',
        '1',
        '--out',
        c.mode,
        ...c.extra,
        ...SMALL,
      ]);
      assert.equal(r.code, 1, `${c.mode}: ${r.err}`);
      assert.match(r.err, c.expect, c.mode);
      assert.equal(alive(pidOf(pidfile)), false, `${c.mode}: the process was reaped`);
    }
    const pidfile = path.join(work, 'garbage.pid');
    const g = await bench(['--agent', `exec:python3 ${path.join(FIXTURES, 'garbage.py')} ${pidfile}`, '--seeds', '1', '--out', 'garbage', ...SMALL]);
    assert.equal(g.code, 1, g.err);
    assert.match(
      g.err,
      /wrote bytes that are not a protocol frame \(expected "PRG1", got "Loading model\.\.\.\\n"\)[^\n]*print to stderr \(while waiting for the reply to 'hello'\)/,
    );
    assert.equal(alive(pidOf(pidfile)), false, 'garbage: the process was reaped');

    const badPid = path.join(work, 'bad-hello.pid');
    const bad = await bench(['--agent', `exec:python3 ${path.join(FIXTURES, 'bad_hello.py')} ${badPid}`, '--seeds', '1', '--out', 'bad', ...SMALL]);
    assert.equal(bad.code, 1, bad.err);
    assert.match(bad.err, /bad_hello\.py [^\n]*: message 'hello': invalid\n\s+- \(root\): missing field 'trains'/);
    assert.equal(alive(pidOf(badPid)), false, 'bad hello: the process was reaped');
  },
);

// The PyTorch example runs where some Python imports torch (PRORL_PYTHON, python3, or Debian's /usr/bin/python3 with python3-torch).
const torchPython = skip
  ? null
  : ([process.env.PRORL_PYTHON, 'python3', '/usr/bin/python3'].find(
      (py) => py && spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 60_000 }).status === 0,
    ) ?? null);

test(
  'the PyTorch example trains through the protocol, beats random and repeats itself',
  { skip: skip || long || (torchPython === null && 'no Python here imports torch (PRORL_PYTHON, python3, /usr/bin/python3)') },
  async () => {
    const before = process.env.PRORL_PYTHON;
    process.env.PRORL_PYTHON = torchPython!;
    try {
      const agent = path.join(ROOT, 'examples/python/torch_reinforce.py');
      const runs = [];
      for (const out of ['torch1', 'torch2']) {
        const r = await bench(['--agent', agent, '--agent-config', '{"epochs":8}', '--seeds', '1', '--out', out, ...SMALL]);
        assert.equal(r.code, 0, r.err);
        runs.push(readResults(path.join(work, out))[0]);
      }
      assert.deepEqual(runs[0].cases, runs[1].cases, 'a seeded PyTorch agent repeats its results');
      const random = await bench(['--agent', 'random', '--seeds', '1', '--out', 'torch1', ...SMALL]);
      assert.equal(random.code, 0, random.err);
      const rnd = readResults(path.join(work, 'torch1')).find((x) => x.run.label === 'random')!;
      assert.ok(runs[0].metrics.specificIoi > rnd.metrics.specificIoi + 0.5, `torch ${runs[0].metrics.specificIoi} vs random ${rnd.metrics.specificIoi}`);
    } finally {
      if (before === undefined) delete process.env.PRORL_PYTHON;
      else process.env.PRORL_PYTHON = before;
    }
  },
);

test('SIGINT of the harness while an agent process trains: exit 130, the process reaped', { skip: skip || long }, async () => {
  const pidfile = path.join(work, 'sigint.pid');
  const child = spawn(
    process.execPath,
    [
      '--conditions=prorec-gym-source',
      '--import',
      import.meta.resolve('tsx'),
      path.join(ROOT, 'benchmarks/cli.ts'),
      '--agent',
      path.join(FIXTURES, 'misbehaving.py'),
      '--agent-config',
      JSON.stringify({ mode: 'hang-train', pidfile }),
      '--seeds',
      '1',
      '--out',
      path.join(work, 'sigint'),
      ...SMALL,
    ],
    { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PRORL_BACKEND: 'cpu', CI: '1' } },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!(existsSync(pidfile) && err.includes('training forever')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(pidfile), `the agent never started: ${err}`);
  const pid = pidOf(pidfile);
  child.kill('SIGINT');
  assert.equal(await exited, 130, err);
  assert.match(err, /interrupted: 0 of 1 runs complete/);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(pid), false, 'the agent process was reaped');
});

test("an exec: agent is labelled by the script it runs, and its run identity covers that script's code", async () => {
  const { loadSuite, planRuns } = await import('../benchmarks/suite.ts');
  const dir = mkdtempSync(path.join(work, 'exec-identity-'));
  const script = path.join(dir, 'my_agent.py');
  writeFileSync(script, 'print("v1")\n');
  const plan = async () => (await planRuns(loadSuite('standard'), { agent: `exec:python3 ${script} --flag`, env: 'synthetic-v0', cwd: dir })).runs;
  const first = await plan();
  assert.ok(first.length > 0);
  assert.ok(
    first.every((r) => r.label === 'my_agent' && r.file.includes('__my_agent__')),
    first.map((r) => r.file).join(', '),
  );
  assert.match(first[0].config.agentCode ?? '', /^[0-9a-f]{64}$/);
  writeFileSync(script, 'print("v2")\n');
  const second = await plan();
  assert.notEqual(second[0].config.agentCode, first[0].config.agentCode, 'an edited script is another run');
  assert.notEqual(second[0].configHash, first[0].configHash);
});
