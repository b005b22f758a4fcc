/**
 * `prorec-gym new-agent` and the command's dispatch: the scaffold's files, their own test passing,
 * refusals (existing files, bad names), and the binary's exit codes. (The scaffold installed from
 * the packed package, benchmarked and typechecked with tsc --strict: test/package-install.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliMain } from '../bin/prorec-gym.ts';
import { agentTemplate, newAgentMain, testTemplate } from '../bin/new-agent.ts';
import ts from 'typescript';
import { Type, withDefaults } from '../agents/index.ts';
import { ValidationError } from '../core/validate.ts';

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
  assert.match(r.stdout, /# pass 2\n# fail 0/);
});

test('new-agent --estimator writes an estimator module and its exactness test, which passes', async () => {
  const { io, sink } = capture();
  assert.equal(await newAgentMain(['--estimator', 'demo-est', '--dir', dir], sink), 0, io.err);
  const rel = path.relative(process.cwd(), path.join(dir, 'demo-est.ts')).split(path.sep).join('/');
  assert.equal(io.out, `npx prorec-gym bench --agent ./${rel}\n`);
  assert.match(readFileSync(path.join(dir, 'demo-est.ts'), 'utf8'), /export default rlAgentFactory\(estimator\)/);
  const run = () =>
    spawnSync(process.execPath, ['--conditions=prorec-gym-source', '--import', import.meta.resolve('tsx'), '--test', 'demo-est.test.ts'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, PRORL_BACKEND: 'cpu', NODE_TEST_CONTEXT: undefined },
    });
  const r = run();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /# pass 3\n# fail 0/);
  // Its exactness test can fail: the baseline made to include the path itself (the group mean).
  const file = path.join(dir, 'demo-est.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace('if (j !== i && rollouts[j].group', 'if (rollouts[j].group'));
  const biased = run();
  assert.notEqual(biased.status, 0, 'a biased estimator fails its scaffolded test');
  assert.match(biased.stdout, /demo-est: BIASED for/);
  assert.equal(await newAgentMain(['--estimator', 'Bad Name', '--dir', dir], sink), 2);
  assert.match(io.err, /'Bad Name' is not a valid estimator name/);
});

test('withDefaults fills every default of a config schema (nested sections too), checks it, and leaves its argument alone', () => {
  const Schema = Type.Object(
    {
      pathLength: Type.Integer({ minimum: 1, default: 3 }),
      weight: Type.Number({ default: 0.5 }),
      search: Type.Object({ beam: Type.Integer({ default: 4 }) }, { default: {}, additionalProperties: false }),
    },
    { additionalProperties: false },
  );
  const partial = { pathLength: 2 };
  assert.deepEqual(withDefaults(Schema, partial), { pathLength: 2, weight: 0.5, search: { beam: 4 } });
  assert.deepEqual(partial, { pathLength: 2 });
  assert.deepEqual(withDefaults(Schema), { pathLength: 3, weight: 0.5, search: { beam: 4 } });
  assert.throws(
    () => withDefaults(Schema, { pathLength: 0 }, 'my-agent config'),
    (e: Error) => e instanceof ValidationError && /my-agent config[\s\S]*pathLength/.test(e.message),
  );
});

test('the doc comments of the agent contract and of the scaffold name only members that exist (type-checked)', () => {
  const sources = [readFileSync(path.join(ROOT, 'agents/agent.ts'), 'utf8'), agentTemplate('x'), testTemplate('x')];
  const refs = new Set<string>();
  for (const text of sources)
    for (const comment of text.match(/\/\*\*[\s\S]*?\*\/|\/\/[^\n]*/g) ?? []) for (const m of comment.matchAll(/\bctx(?:\.\w+)+(?=\()/g)) refs.add(m[0]);
  assert.ok(refs.has('ctx.rng') && refs.has('ctx.simulator.batch'), [...refs].join(', '));
  const snippet = path.join(dir, 'doc-refs.ts');
  writeFileSync(
    snippet,
    `import type { ActContext } from '${path.join(ROOT, 'agents/agent.ts').split(path.sep).join('/')}';\ndeclare const ctx: ActContext;\n${[...refs].map((r) => `void ${r};`).join('\n')}\n`,
  );
  // Nullable members (ctx.simulator) count as existing: the check is about names, not null checks.
  const program = ts.createProgram([snippet], {
    noEmit: true,
    strict: true,
    strictNullChecks: false,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
  });
  const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(snippet)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(problems, [], [...refs].join(', '));
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
