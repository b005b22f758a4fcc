/**
 * The regression gate can fail, and fails on nothing compared: a cut of the RL learning rate, a
 * change in the supervised pre-training alone and an agent that hangs each fail it; an unchanged
 * rerun passes; `--base REF` runs the same suite on another commit in a temporary worktree of a
 * throwaway repository with two commits and catches the regression between them. Real processes
 * (the hang detection is about how a process ends) and real training, at a size for tests: one
 * seed, so any change in a number counts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-gate-'));
after(() => rmSync(work, { recursive: true, force: true }));
const cache = path.join(work, 'cache');

const WORLD = { numItems: 200, numUsers: 300 };
const PRETRAIN = { epochs: 1, batchSize: 64 };
const RL = { epochs: 1, casesPerEpoch: 32, casesPerBatch: 8, groupSize: 4, validCases: 0 };

function suiteFile(name: string, agents: unknown[], seeds = [1]): string {
  const file = path.join(work, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name: 'gate',
      description: 'gate test',
      seeds,
      budget: 'smoke',
      budgets: { smoke: { episodes: 24, examples: 1, ks: [1] } },
      envs: [{ id: 'synthetic-v0', world: WORLD }],
      agents,
    }),
  );
  return file;
}

const learned = (rl: Record<string, unknown> = {}, pretrain: Record<string, unknown> = {}) => [
  { agent: 'random' },
  { agent: 'supervised', config: { supervised: { ...PRETRAIN, ...pretrain } } },
  { agent: 'reinforce-baseline', config: { pretrain: { ...PRETRAIN, ...pretrain }, rl: { ...RL, ...rl } } },
];

/** `bench:check` (or another script) as a process of its own, from `cwd`. */
function run(script: string, args: string[], cwd = root): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--conditions=prorec-gym-source', '--import', 'tsx', script, ...args, '--progress', 'false'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PRORL_CACHE_DIR: cache },
    timeout: 240_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}
const check = (args: string[], cwd = root) => run(path.join(cwd, 'benchmarks', 'check.ts'), args, cwd);

/** These real-process runs of the gate take over a minute together: `npm run test:long` runs them (CI does), not `npm test`. */
const long = process.env.PRORL_TEST_LONG === '1' ? false : 'a longer test: `npm run test:long` runs it (CI does)';

test('the gate fails on an RL learning-rate cut and on a pre-training change, and passes an unchanged rerun', { skip: long }, () => {
  const baselines = path.join(work, 'baselines');
  const update = check(['--suite', suiteFile('good', learned()), '--baselines', baselines, '--out', path.join(work, 'o1'), '--update']);
  assert.equal(update.code, 0, update.out);

  const same = check(['--suite', suiteFile('same', learned()), '--baselines', baselines, '--out', path.join(work, 'o2')]);
  assert.equal(same.code, 0, same.out);
  assert.match(same.out, /all \d+ gated metrics of 3 entries within tolerance/);

  // The default learning rate cut 10,000x (what the issue tried in agents/rl-config.ts).
  const lrCut = check(['--suite', suiteFile('lr', learned({ lr: 1e-7 })), '--baselines', baselines, '--out', path.join(work, 'o3')]);
  assert.equal(lrCut.code, 1, lrCut.out);
  assert.match(lrCut.out, /synthetic-v0\/reinforce-baseline\s+\S+\s/);
  assert.doesNotMatch(lrCut.out, /synthetic-v0\/(random|supervised)\s+\S+\s+[-\d]/, 'only the RL agent moved');

  // The supervised pre-training changed alone: the supervised start and the RL agent built on it both move.
  const pre = check(['--suite', suiteFile('pre', learned({}, { lr: 2e-4 })), '--baselines', baselines, '--out', path.join(work, 'o4')]);
  assert.equal(pre.code, 1, pre.out);
  assert.match(pre.out, /synthetic-v0\/supervised\s+\S+\s/);
  assert.match(pre.out, /synthetic-v0\/reinforce-baseline\s+\S+\s/);
});

test('an agent that hangs fails the run and the gate, and the rest of the suite still runs', { skip: long }, () => {
  const hanging = (hang: string) => [{ agent: path.join(root, 'test', 'fixtures', 'hanging-agent.ts'), config: { hang, atSeed: 1 } }, { agent: 'random' }];
  const baselines = path.join(work, 'hang-baselines');
  const good = check(['--suite', suiteFile('nohang', hanging('none'), [1, 2]), '--baselines', baselines, '--out', path.join(work, 'h0'), '--update']);
  assert.equal(good.code, 0, good.out);

  // A promise that never settles: the event loop empties (caught without any timeout).
  for (const hang of ['train', 'create']) {
    const r = check(['--suite', suiteFile(`hang-${hang}`, hanging(hang), [1, 2]), '--baselines', baselines, '--out', path.join(work, `h-${hang}`)]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /synthetic-v0\/hanging\/seed1: the run never finished: its promise is pending/);
    assert.match(r.out, /failed: 1 run\(s\) produced no result/);
    for (const f of ['synthetic-v0__random__seed1.json', 'synthetic-v0__random__seed2.json', 'synthetic-v0__hanging__seed2.json'])
      assert.ok(existsSync(path.join(work, `h-${hang}`, 'results', f)), `${f}: the runs after the hung one ran`);
  }

  // A synchronous endless loop: only the run timeout can stop it.
  const busy = check([
    '--suite',
    suiteFile('hang-busy', hanging('busy'), [1, 2]),
    '--baselines',
    baselines,
    '--out',
    path.join(work, 'h-busy'),
    '--run-timeout',
    '4',
  ]);
  assert.equal(busy.code, 1, busy.out);
  assert.match(busy.out, /hanging\/seed1: exceeded the run timeout of 4 s/);
  assert.ok(existsSync(path.join(work, 'h-busy', 'results', 'synthetic-v0__random__seed2.json')));

  // `bench` itself, in this thread (no timeout): exit 1 naming the run, never 0.
  const bench = run(path.join(root, 'benchmarks', 'cli.ts'), [
    '--suite',
    suiteFile('hang-bench', hanging('train'), [1, 2]),
    '--out',
    path.join(work, 'h-bench'),
  ]);
  assert.equal(bench.code, 1, bench.out);
  assert.match(bench.out, /synthetic-v0__hanging__seed1\.json: (Error: )?the run never finished/);
  assert.match(bench.out, /4 runs: 3 done/);
});

test('a command whose work can never finish exits 1, not 0 (a plug-in module that never finishes loading)', () => {
  const mod = path.join(work, 'never-loads.mts');
  writeFileSync(mod, "await new Promise(() => {});\nexport default { name: 'x', description: 'x', create() {} };\n");
  const r = run(path.join(root, 'benchmarks', 'cli.ts'), ['--agent', mod, '--out', path.join(work, 'never')]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /bench: stopped with work still pending and nothing left that could finish it/);
});

test('--base REF runs the suite at REF in a temporary worktree and fails on the regression between two commits', { skip: long }, () => {
  // A throwaway repository: this tree as it is, committed; then the RL default learning rate cut.
  const repo = path.join(work, 'repo');
  mkdirSync(repo);
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).stdout.split('\0');
  for (const f of files) if (f && existsSync(path.join(root, f))) cpSync(path.join(root, f), path.join(repo, f), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(repo, 'node_modules'), 'dir');
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  git('init', '-q');
  writeFileSync(path.join(repo, '.git', 'info', 'exclude'), 'node_modules\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  const config = path.join(repo, 'agents', 'rl-config.ts');
  const text = readFileSync(config, 'utf8');
  const cut = text.replace(/(lr: Type\.Number\(\{ exclusiveMinimum: 0, default: )1e-3([,} ])/, (_m, head: string, tail: string) => `${head}1e-7${tail}`);
  assert.notEqual(cut, text, 'the RL learning-rate default is where this test expects it');
  writeFileSync(config, cut);
  git('commit', '-q', '-am', 'cut the RL learning rate');

  const suite = suiteFile('base', [{ agent: 'random' }, { agent: 'reinforce-baseline', config: { pretrain: PRETRAIN, rl: RL } }]);
  const md = path.join(work, 'gate.md');
  const r = check(['--suite', suite, '--base', 'HEAD~1', '--out', path.join(work, 'b1'), '--markdown', md], repo);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /running suite .* at the base HEAD~1/);
  assert.match(r.out, /fell short of the base HEAD~1 \([0-9a-f]{12}\), run in this job/);
  assert.match(r.out, /synthetic-v0\/reinforce-baseline\s+\S+\s/);
  const comment = readFileSync(md, 'utf8');
  assert.match(comment, /### Regression gate: ❌ failed/);
  assert.match(comment, /\| synthetic-v0\/reinforce-baseline \|/);
  assert.equal(git('worktree', 'list').split('\n').length, 1, 'the temporary worktree is removed');

  const unchanged = check(['--suite', suite, '--base', 'HEAD', '--out', path.join(work, 'b2')], repo);
  assert.equal(unchanged.code, 0, unchanged.out);
  assert.match(unchanged.out, /within tolerance of the base HEAD/);
});
