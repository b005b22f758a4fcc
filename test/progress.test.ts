/**
 * Progress and the end of a bench invocation: durations, ETAs (no estimate before there is a rate,
 * set-up time not in the rate), plain lines named by run, the closing summary, and Ctrl-C (what
 * was kept, how to resume, exit 130).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { EtaEstimator, formatDuration, progress } from '../core/progress.ts';
import { runSummary, suiteProgress } from '../benchmarks/progress.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A clock the test moves by hand (milliseconds). */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

test('durations round to whole seconds before splitting into minutes: never "1m60s"', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(59.6), '1m00s');
  assert.equal(formatDuration(119.6), '2m00s');
  assert.equal(formatDuration(61), '1m01s');
  assert.equal(formatDuration(3599.7), '1h00m');
  assert.equal(formatDuration(2 * 3600 + 3 * 60 + 10), '2h03m');
  assert.equal(formatDuration(Number.NaN), '?');
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), '?');
});

test('the ETA is measured from the first step of work: five minutes of set-up do not make it "289m"', () => {
  const c = clock();
  const eta = new EtaEstimator(1000, c.now);
  assert.equal(eta.update(0), null);
  c.advance(300); // set-up: loading data, building a model
  assert.equal(eta.update(1), null, 'one point is no rate');
  c.advance(0.5);
  assert.equal(eta.update(2), null, 'under a second of work is no rate either');
  c.advance(1.5);
  assert.equal(eta.update(4), (1000 - 4) * (2 / 3)); // 3 units in 2 s
  assert.equal(eta.update(1), null, 'a decrease (a new phase on the same bar) restarts the estimate');
  c.advance(10);
  assert.equal(eta.update(2), 998 * 10, 'from the new reference point');
});

test('plain progress lines: elapsed and ETA in m/s, no ETA before there is a rate, never "LL"', () => {
  const c = clock();
  const lines: string[] = [];
  const p = progress('train', 100, { plain: true, plainEverySeconds: 0, write: (l) => lines.push(l), now: c.now });
  p.update(0);
  c.advance(200);
  p.update(1);
  c.advance(2);
  p.update(3, 'loss 1.2');
  c.advance(118);
  p.update(50);
  p.stop();
  assert.equal(lines[0], 'train: 0/100 (0%) elapsed 0s');
  assert.equal(lines[1], 'train: 1/100 (1%) elapsed 3m20s');
  assert.equal(lines[2], 'train: 3/100 (3%) elapsed 3m22s eta 1m37s loss 1.2');
  assert.equal(lines[3], 'train: 50/100 (50%) elapsed 5m20s eta 2m02s'); // 49 units in 120 s, 50 left
  assert.ok(
    lines.every((l) => !/LL|m60s/.test(l)),
    lines.join('\n'),
  );
});

test('suite progress in plain mode names the run, not a worker; the suite ETA comes from finished runs', () => {
  const c = clock();
  const lines: string[] = [];
  const s = suiteProgress('smoke', 3, { plain: true, plainEverySeconds: 0, write: (l) => lines.push(l), now: c.now });
  s.start(1, 'synthetic-v0/prorl/seed1');
  s.update(1, 'train', 0, 1000);
  c.advance(60);
  s.update(1, 'train', 10, 1000);
  c.advance(10);
  s.update(1, 'train', 110, 1000, 'epoch 1');
  c.advance(20);
  s.finish(1, 'synthetic-v0/prorl/seed1', 'done');
  assert.ok(
    lines.every((l) => !l.includes('[worker')),
    lines.join('\n'),
  );
  assert.equal(lines[0], '  synthetic-v0/prorl/seed1: train 0/1000 elapsed 0s');
  assert.equal(lines[2], '  synthetic-v0/prorl/seed1: train 110/1000 elapsed 1m10s eta 1m29s (train) epoch 1');
  assert.equal(lines[3], 'suite smoke: 1/3 (33%) elapsed 1m30s eta 3m00s: synthetic-v0/prorl/seed1 done in 1m30s');
});

test('the closing summary counts runs in words a reader parses: never "0 run, 0 skipped"', () => {
  assert.equal(runSummary({ done: 3, skipped: 0, failed: 0 }, 4.94), '3 runs: 3 done, 0 skipped (result file already complete), 0 failed, in 4.9s');
  assert.equal(runSummary({ done: 0, skipped: 1, failed: 0 }, 0.2), '1 run: 0 done, 1 skipped (result file already complete), 0 failed, in 0.2s');
  assert.equal(runSummary({ done: 0, skipped: 0, failed: 0 }, 0.1), 'no runs to do (the plan or this shard is empty); 0s');
  assert.match(runSummary({ done: 5, skipped: 0, failed: 1 }, 125), /in 2m05s$/);
});

const work = mkdtempSync(path.join(tmpdir(), 'prorec-interrupt-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('Ctrl-C during a run: says which result files are kept, what was lost and how to resume, exits 130; the rerun skips the kept run', async () => {
  const agent = path.join(ROOT, 'test/fixtures/slow-agent.ts');
  const args = ['--agent', agent, '--world', '{"numItems":120,"numUsers":150}', '--episodes', '8', '--out', 'runs', '--progress', 'false'];
  const env = { ...process.env, PRORL_BACKEND: 'cpu', CI: '1' };
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'benchmarks/cli.ts'), ...args, '--seeds', '3'], {
    cwd: work,
    env,
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  try {
    const kept = path.join(work, 'runs/results/synthetic-v0__slow__seed1.json');
    const deadline = Date.now() + 60_000;
    while (!existsSync(kept) || !err.includes('training slow on synthetic-v0 (seed 2)')) {
      assert.ok(Date.now() < deadline, `seed 1 never finished:\n${err}`);
      assert.equal(child.exitCode, null, `bench exited early:\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT'); // seed 2 is waiting in train()
    assert.equal(await exited, 130, err);
  } finally {
    child.kill('SIGKILL');
  }
  assert.match(err, /interrupted: 1 of 3 runs complete, their result files kept:\n\s+runs\/results\/synthetic-v0__slow__seed1\.json/);
  assert.match(err, /lost \(in flight, no result file written\): synthetic-v0\/slow\/seed2/);
  assert.match(err, /not started: 1/);
  assert.match(err, /To resume, run the same command again: complete runs are skipped/);

  const rerun = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'benchmarks/cli.ts'), ...args, '--seeds', '1'], {
    cwd: work,
    env,
  });
  let err2 = '';
  rerun.stderr.on('data', (d) => (err2 += d));
  assert.equal(await new Promise<number | null>((resolve) => rerun.on('exit', (c) => resolve(c))), 0, err2);
  assert.match(err2, /1 run: 0 done, 1 skipped/);
});
