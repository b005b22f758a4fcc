/**
 * `prorec-gym new-agent` and the command's dispatch: the scaffold's files, their own test passing,
 * refusals (existing files, bad names), and the binary's exit codes. (The scaffold installed from
 * the packed package, benchmarked and typechecked with tsc --strict: test/package-install.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliMain } from '../bin/prorec-gym.ts';
import { newAgentMain } from '../bin/new-agent.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
// Inside the checkout (a gitignored folder), so that the scaffold's `import 'prorec-gym/...'`
// resolves to this package by its own name, as it does in a user's project.
const dir = path.join(ROOT, '.scratch', `new-agent-${process.pid}`);
mkdirSync(dir, { recursive: true });
after(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const io = { out: '', err: '' };
  return { io, sink: { out: (t: string) => void (io.out += t), err: (t: string) => void (io.err += t) } };
}

test('new-agent writes a typed agent and its test, prints the bench command, and the test passes', async () => {
  const { io, sink } = capture();
  assert.equal(await newAgentMain(['demo-agent', '--dir', dir], sink), 0, io.err);
  const rel = path.relative(process.cwd(), path.join(dir, 'demo-agent.ts')).split(path.sep).join('/');
  assert.equal(io.out, `npx prorec-gym bench --agent ./${rel}\n`);
  const agent = readFileSync(path.join(dir, 'demo-agent.ts'), 'utf8');
  assert.match(agent, /name: 'demo-agent'/);
  assert.match(agent, /configSchema: ConfigSchema/);
  assert.match(readFileSync(path.join(dir, 'demo-agent.test.ts'), 'utf8'), /const demoAgent = await agent\.create/);
  const r = spawnSync(process.execPath, ['--conditions=prorec-gym-source', '--import', import.meta.resolve('tsx'), '--test', 'demo-agent.test.ts'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PRORL_BACKEND: 'cpu', NODE_TEST_CONTEXT: undefined },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /# pass 1/);
});

test('new-agent refuses to overwrite (unless --force) and refuses names that are not file and agent names', async () => {
  const { io, sink } = capture();
  assert.equal(await newAgentMain(['twice', '--dir', dir], sink), 0);
  assert.equal(await newAgentMain(['twice', '--dir', dir], sink), 2);
  assert.match(io.err, /twice\.ts, .*twice\.test\.ts already exist; --force overwrites/);
  assert.equal(await newAgentMain(['twice', '--dir', dir, '--force'], sink), 0);
  for (const bad of ['Mine', '1st', 'a/b', '../up', 'with space']) {
    io.err = '';
    assert.equal(await newAgentMain([bad, '--dir', dir], sink), 2, bad);
    assert.match(io.err, /is not a valid agent name/);
  }
  assert.equal(await newAgentMain([], sink), 2);
  assert.equal(await newAgentMain(['a', 'b'], sink), 2);
  assert.equal(await newAgentMain(['x', '--nope'], sink), 2);
});

test('the prorec-gym command: unknown commands exit 2 with the list; --version prints the package version', async () => {
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stdout.write = ((t: string) => ((out += t), true)) as typeof process.stdout.write;
  process.stderr.write = ((t: string) => ((out += t), true)) as typeof process.stderr.write;
  try {
    assert.equal(await cliMain(['nope']), 2);
    assert.match(out, /unknown command 'nope'[\s\S]*bench[\s\S]*report[\s\S]*data[\s\S]*sim[\s\S]*new-agent/);
    out = '';
    assert.equal(await cliMain(['--version']), 0);
    assert.equal(out, `${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);
    out = '';
    assert.equal(await cliMain([]), 2, 'no command: the usage, exit 2');
    assert.match(out, /usage: prorec-gym <command>/);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
});
