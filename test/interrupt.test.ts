/**
 * Ctrl-C during long loops, with a real SIGINT to a real `bench` process: during a simulator's
 * training the process stops within 2 s (the loop yields to the event loop after every batch),
 * says which training state is kept and how to resume, exits 130; the next run resumes from the
 * kept epoch. Yielding changes no number: fixed-seed training is bit-identical to the plain loop
 * (test/sim-resume.test.ts and the regression gate check the numbers themselves).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-sigint-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A synthetic world whose learned reward model trains for as long as it is let (no early stop). */
const WORLD = {
  numItems: 150,
  numUsers: 400,
  rewardConfig: { hidden: 16, blocks: 1, heads: 2, feedForward: 32, maxLen: 20 },
  rewardTrain: { maxEpochs: 1000, patience: 1000, batchSize: 32 },
};

/** Starts `bench` on synthetic-learned-v0; `waitFor` resolves when stderr matches. */
function bench(cache: string) {
  const args = ['--agent', 'random', '--env', 'synthetic-learned-v0', '--world', JSON.stringify(WORLD), '--seeds', '1', '--episodes', '4'];
  const child = spawn(
    process.execPath,
    [
      '--conditions=prorec-gym-source',
      '--import',
      import.meta.resolve('tsx'),
      path.join(ROOT, 'benchmarks/cli.ts'),
      ...args,
      '--out',
      'runs',
      '--progress',
      'false',
    ],
    { cwd: work, env: { ...process.env, PRORL_CACHE_DIR: cache, PRORL_BACKEND: 'wasm', PRORL_SIM_WORKERS: '0', CI: '1' } },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const waitFor = async (re: RegExp, seconds: number) => {
    const deadline = Date.now() + seconds * 1000;
    while (!re.test(err)) {
      assert.ok(Date.now() < deadline, `no ${re} within ${seconds} s:\n${err}`);
      assert.equal(child.exitCode, null, `bench exited early:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Sends SIGINT and returns the exit code and the milliseconds until the process ended. */
  const interrupt = async () => {
    const t = performance.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return { code, ms: performance.now() - t };
  };
  return { child, waitFor, interrupt, log: () => err };
}

test('Ctrl-C during simulator training: stops within 2 s, says which epoch is kept and how to resume, exits 130; the next run resumes there', async () => {
  const cache = path.join(work, 'cache');
  const first = bench(cache);
  try {
    await first.waitFor(/training it now/, 120);
    await first.waitFor(/epoch 1\/1000: loss/, 120); // epoch 1's state is written
    await first.waitFor(/epoch 2\/1000/, 60); // well inside epoch 2 or later
    const { code, ms } = await first.interrupt();
    assert.equal(code, 130, first.log());
    assert.ok(ms < 2000, `stopped ${ms.toFixed(0)} ms after SIGINT (limit 2000):\n${first.log()}`);
  } finally {
    first.child.kill('SIGKILL');
  }
  const log = first.log();
  assert.match(
    log,
    /sasrec@synthetic#seed1: training interrupted in epoch \d+; the state after epoch \d+ is kept in \S+\.simstate: the next run with the same data and settings resumes from it/,
  );
  assert.match(log, /To resume, run the same command again/);
  assert.ok(readdirSync(path.join(cache, 'sim')).some((f) => f.endsWith('.simstate')));

  const second = bench(cache);
  try {
    await second.waitFor(/resuming its training from \S+\.simstate/, 120);
    await second.waitFor(/resuming after epoch [1-9]\d* of at most 1000/, 30);
    const { code, ms } = await second.interrupt();
    assert.equal(code, 130, second.log());
    assert.ok(ms < 2000, `stopped ${ms.toFixed(0)} ms after SIGINT:\n${second.log()}`);
  } finally {
    second.child.kill('SIGKILL');
  }
  assert.ok(!existsSync(path.join(work, 'runs/results/synthetic-learned-v0__random__seed1.json')));
});

test('Ctrl-C during a training outside bench (no other SIGINT handler): the same message, exit 130 within 2 s', async () => {
  const statePath = path.join(work, 'alone.simstate');
  const options = {
    dataset: { numItems: 60, users: 120, length: 20, follow: 0.8 },
    model: 'sasrec',
    config: { hidden: 16, blocks: 1, heads: 2, feedForward: 32, maxLen: 20 },
    train: { maxEpochs: 1000, patience: 1000, batchSize: 16 },
    statePath,
    hangAfter: 1_000_000,
  };
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'test/fixtures/sim-train-child.ts'), JSON.stringify(options)]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  try {
    const deadline = Date.now() + 120_000;
    while (!out.includes('EPOCH 2')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `no second epoch:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const t = performance.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    const ms = performance.now() - t;
    assert.equal(code, 130, err);
    assert.ok(ms < 2000, `stopped ${ms.toFixed(0)} ms after SIGINT`);
  } finally {
    child.kill('SIGKILL');
  }
  assert.match(err, /sasrec@successor#seed1: training interrupted in epoch \d+; the state after epoch [2-9]\d* is kept in \S+alone\.simstate/);
  assert.ok(existsSync(statePath));
});
