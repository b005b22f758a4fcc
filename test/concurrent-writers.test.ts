/**
 * Several writers on one folder (issue: lost updates of derived files, shared temporary names):
 * - two real `bench` processes on one --out end with a leaderboard listing every result file;
 * - the folder lock waits for its holder, is re-entrant, and removes a lock whose owner has exited;
 * - worker threads of one process writing one file at once never share a temporary file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LOCK_NAME, withFolderLock } from '../core/lock.ts';
import { tempName } from '../core/io.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'prorec-writers-'));
after(() => rmSync(work, { recursive: true, force: true }));

const SMALL = ['--world', JSON.stringify({ numItems: 60, numUsers: 80 }), '--episodes', '6', '--seeds', '1', '--progress', 'false', '--no-reference'];

function startBench(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--conditions=prorec-gym-source', '--import', import.meta.resolve('tsx'), path.join(ROOT, 'benchmarks/cli.ts'), ...args],
    {
      cwd: work,
      env: { ...process.env, PRORL_BACKEND: 'cpu', CI: '1', PRORL_CACHE_DIR: path.join(work, 'cache'), ...env },
    },
  );
  let err = '';
  child.stderr.on('data', (d) => void (err += d));
  child.stdout.resume();
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, done, err: () => err };
}

const until = async (what: string, ok: () => boolean, ms = 120_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('two bench processes racing on one --out: the final leaderboard lists every result file', async () => {
  const out = path.join(work, 'race');
  const go = path.join(work, 'race-go');
  // A lists the folder (its own result only), then holds until `go` exists before writing.
  const a = startBench(['--agent', 'random', '--out', out, ...SMALL], { PRORL_TEST_PAUSE_AFTER_LIST: go });
  let aExited = false;
  void a.done.then(() => (aExited = true));
  await until(
    "A's result file",
    () => aExited || (existsSync(path.join(out, 'results')) && readdirSync(path.join(out, 'results')).some((f) => f.includes('random'))),
  );
  assert.ok(!aExited, a.err());
  // B writes its result and its leaderboard while A holds: with the lock B waits for A (and says so);
  // without it B finishes first, and A's stale listing would then replace B's leaderboard.
  const b = startBench(['--agent', 'popularity', '--out', out, ...SMALL]);
  let bExited = false;
  void b.done.then(() => (bExited = true));
  await until('B to wait for the lock or to finish', () => bExited || /waiting for .*locked by pid/.test(b.err()));
  writeFileSync(go, '');
  const [codeA, codeB] = await Promise.all([a.done, b.done]);
  assert.equal(codeA, 0, a.err());
  assert.equal(codeB, 0, b.err());
  const files = readdirSync(path.join(out, 'results')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 2);
  const lb = JSON.parse(readFileSync(path.join(out, 'leaderboard.json'), 'utf8')) as { envs: { entries: { label: string }[] }[] };
  const labels = lb.envs.flatMap((e) => e.entries.map((x) => x.label)).sort();
  assert.deepEqual(labels, ['popularity', 'random'], 'every result file has its row');
  const md = readFileSync(path.join(out, 'leaderboard.md'), 'utf8');
  assert.match(md, /random/);
  assert.match(md, /popularity/);
  assert.ok(!existsSync(path.join(out, LOCK_NAME)), 'the lock is released');
});

test('the folder lock: a second holder waits, the lock is re-entrant, a dead owner’s lock is taken over', () => {
  const dir = path.join(work, 'lock');
  mkdirSync(dir, { recursive: true });
  // Re-entrant in one process.
  assert.equal(
    withFolderLock(dir, () => withFolderLock(dir, () => 7)),
    7,
  );
  assert.ok(!existsSync(path.join(dir, LOCK_NAME)));
  // Held by another live process: this one waits (and times out here).
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
  mkdirSync(path.join(dir, LOCK_NAME));
  writeFileSync(path.join(dir, LOCK_NAME, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: holder.pid, thread: 0, since: 'now', token: 'x' }));
  const lines: string[] = [];
  assert.throws(() => withFolderLock(dir, () => 1, { timeoutMs: 300, log: (l) => lines.push(l) }), /still locked after .* by pid \d+/);
  assert.match(lines.join('\n'), /waiting for .*locked by pid/);
  holder.kill();
  // Its owner has exited: the lock is removed and taken.
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
  writeFileSync(path.join(dir, LOCK_NAME, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: dead, thread: 0, since: 'then', token: 'y' }));
  assert.equal(
    withFolderLock(dir, () => 2, { timeoutMs: 5000, log: (l) => lines.push(l) }),
    2,
  );
  assert.match(lines.join('\n'), /removed the stale lock .*has exited/);
});

test('worker threads writing one file at once never share a temporary file (no ENOENT), and leave none behind', async () => {
  assert.notEqual(tempName('x'), tempName('x'), 'two names in one millisecond differ');
  const dir = path.join(work, 'threads');
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'shared.json');
  // Loader hooks do not reach worker threads: the worker registers tsx itself (as benchmarks/worker-boot.mjs does).
  const script = path.join(work, 'writer.mjs');
  writeFileSync(
    script,
    `import { workerData, parentPort } from 'node:worker_threads';\n` +
      `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\n` +
      `register();\n` +
      `const { writeJsonAtomic } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'core/io.ts')).href)});\n` +
      `let errors = 0; let first = '';\n` +
      `for (let i = 0; i < 400; i++) { try { writeJsonAtomic(workerData.target, { i, worker: workerData.id }); } catch (e) { errors++; first ||= String(e); } }\n` +
      `parentPort.postMessage({ errors, first });\n`,
  );
  const run = (id: number) =>
    new Promise<{ errors: number; first: string }>((resolve, reject) => {
      const w = new Worker(script, { workerData: { target, id } });
      w.once('message', resolve);
      w.once('error', reject);
    });
  const results = await Promise.all([run(1), run(2), run(3)]);
  assert.deepEqual(
    results.map((r) => r.errors),
    [0, 0, 0],
    results.map((r) => r.first).join('\n'),
  );
  assert.deepEqual(readdirSync(dir), ['shared.json']);
  assert.ok([1, 2, 3].includes(JSON.parse(readFileSync(target, 'utf8')).worker));
});
