/**
 * `npm run data -- list | stats`: output, --json, and exit codes. The CLI runs in-process (spawning
 * node + tsx costs seconds per call on a busy machine); one test runs the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../data/cli.ts';
import { repoRoot } from '../data/paths.ts';
import { writeRelease, VAL_WINDOWS, TEST_RECORDS } from './fixtures/data/release.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-data-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCli(args, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

function spawnCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'data/cli.ts'), ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('stats --json: counts per split, path lengths and coverage of a dataset in --data-dir', async () => {
  const data = path.join(tmp, 'data');
  writeRelease(data, 'Books', { internalIds: true });
  const r = await cli(['stats', 'books', '--data-dir', data, '--cache-dir', path.join(tmp, 'cache'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.name, 'books');
  assert.equal(s.splits.train.cases + s.splits.valid.cases, VAL_WINDOWS.length);
  assert.equal(s.splits.test.cases, TEST_RECORDS.length);
  assert.deepEqual(s.splits.test.pathLengths, { 2: 2 });
  assert.equal(s.itemAttributeCoverage, 1);
  assert.ok(Array.isArray(s.notes) && typeof s.loadMs === 'number');
  // The table form, and a folder with nothing in it (bad input: exit 2, says where it looked).
  const t = await cli(['stats', 'books', '--data-dir', data, '--cache-dir', path.join(tmp, 'cache')]);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /split\s+users\s+sequences\s+interactions\s+cases\s+mean path/);
  const e = await cli(['stats', 'steam', '--data-dir', data, '--cache-dir', path.join(tmp, 'cache')]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /no data for 'steam'.*\n.*--data-dir, no recognised files/);
});

test('list --json: where each dataset would come from and every place searched', async () => {
  const data = path.join(tmp, 'list');
  writeRelease(data, 'ml-1m');
  const r = await cli(['list', '--json', '--cache-dir', path.join(tmp, 'cache2')], { PRORL_DATA_DIR: data, PRORL_SNAPSHOT_DIR: path.join(tmp, 'nowhere') });
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { name: string; source: { kind: string; via: string } | null; places: { via: string }[] }[];
  assert.deepEqual(
    list.map((d) => d.name),
    ['ml-1m', 'steam', 'books'],
  );
  assert.deepEqual(list[0].source && { kind: list[0].source.kind, via: list[0].source.via }, { kind: 'release', via: 'PRORL_DATA_DIR' });
  assert.equal(list[1].source, null);
  assert.deepEqual(
    list[1].places.map((p) => p.via),
    ['PRORL_DATA_DIR', 'cache', 'cache (prorl-release)', 'PRORL_SNAPSHOT_DIR'],
  );
  const bad = await cli(['stats']);
  assert.equal(bad.code, 2);
});

test('the entry point itself: an unknown dataset name lists the known ones and exits 2', async () => {
  const r = await spawnCli(['stats', 'movielens']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown dataset 'movielens'; known datasets: ml-1m, steam, books/);
});
