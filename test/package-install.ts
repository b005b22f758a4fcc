/**
 * The package as a user gets it (`npm run test:package`; CI runs it): `npm pack` (which builds
 * dist/), what the tarball holds, an install into an empty project without the network, then the
 * README's blocks marked `<!-- test: user-project -->` run there in order, as written, with the
 * README's TypeScript blocks saved under their names. Then checks on what they wrote.
 *
 * Offline: the project's lockfile is seeded with the entries of this checkout's package-lock.json,
 * so `npm install <tarball>` resolves every dependency to the versions installed here and takes the
 * tarballs from the npm cache (`npm ci` in this checkout filled it). The README's `npm install
 * --save-dev typescript @types/node` is done by linking this checkout's copies. Everything else
 * runs verbatim, with npm's offline mode and no audit set through the environment.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pageBlocks, shellCommands } from './readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-package-'));
after(() => {
  if (!process.env.PRORL_KEEP_PACKAGE_TEST) rmSync(work, { recursive: true, force: true });
});
const packDir = path.join(work, 'prorec-gym'); // where the README's `../prorec-gym/prorec-gym-0.1.0.tgz` points
const project = path.join(work, 'my-project');
const ENV = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_pack_destination: packDir,
  PRORL_CACHE_DIR: path.join(work, 'cache'),
  CI: '1',
  // The README's `node --test` in the project reports on its own, not to this test runner.
  NODE_TEST_CONTEXT: undefined,
};

function sh(line: string, cwd: string): { code: number | null; out: string; err: string; seconds: number } {
  const t = performance.now();
  const r = spawnSync('bash', ['-c', line], { cwd, env: ENV, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, out: r.stdout, err: r.stderr, seconds: (performance.now() - t) / 1000 };
}

/** The lockfile of an empty project named `name`, holding this checkout's resolved dependency tree. */
function seededLockfile(name: string): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, unknown> = { '': { name, version: '1.0.0' } };
  for (const [key, entry] of Object.entries(lock.packages)) if (key && !entry.dev) packages[key] = entry;
  return JSON.stringify({ name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2);
}

/** `npm install --save-dev typescript @types/node`, from this checkout's copies. */
function linkTypeScript(): void {
  const nm = path.join(project, 'node_modules');
  mkdirSync(path.join(nm, '@types'), { recursive: true });
  mkdirSync(path.join(nm, '.bin'), { recursive: true });
  for (const p of ['typescript', '@types/node', '@types/undici-types', 'undici-types']) {
    if (existsSync(path.join(ROOT, 'node_modules', p)) && !existsSync(path.join(nm, p))) symlinkSync(path.join(ROOT, 'node_modules', p), path.join(nm, p));
  }
  symlinkSync(path.join(ROOT, 'node_modules/typescript/bin/tsc'), path.join(nm, '.bin/tsc'));
}

function results(dir: string): Record<string, Record<string, unknown>> {
  const folder = path.join(project, dir, 'results');
  return Object.fromEntries(readdirSync(folder).map((f) => [f, JSON.parse(readFileSync(path.join(folder, f), 'utf8')) as Record<string, unknown>]));
}

test('pack, install into an empty project, and run the README there', { timeout: 900_000 }, async (t) => {
  const started = performance.now();
  const times: string[] = [];

  // In the clone: `npm pack` (the README's `npm ci` is what CI did before this test).
  mkdirSync(packDir, { recursive: true });
  const pack = sh('npm pack', ROOT);
  assert.equal(pack.code, 0, pack.err);
  times.push(`npm pack ${pack.seconds.toFixed(1)}s`);
  const tarball = path.join(packDir, 'prorec-gym-0.1.0.tgz');
  assert.ok(existsSync(tarball), `${tarball} (the README's install command names it)`);

  // What the tarball holds: the built modules and declarations of every export, the binary, the
  // files read at run time; no sources of tests.
  const listing = sh(`tar -tzf ${tarball}`, work).out.split('\n').filter(Boolean);
  const files = new Set(listing.map((f) => f.replace(/^package\//, '')));
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, string> | string>;
    bin: Record<string, string>;
  };
  for (const [entry, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue;
    for (const condition of ['types', 'default'])
      assert.ok(files.has(target[condition].replace(/^\.\//, '')), `export ${entry} (${condition}): ${target[condition]} is not in the tarball`);
  }
  assert.ok(files.has(manifest.bin['prorec-gym']));
  const runtimeAssets = ['envs', 'agents', 'benchmarks', 'reports', 'compute']
    .flatMap((dir) => walk(path.join(ROOT, dir)))
    .filter((f) => !/\.(ts|md)$/.test(f) && !/\/(fixtures|perf)\//.test(f) && !/\/native\/build\//.test(f));
  assert.ok(runtimeAssets.length >= 8, runtimeAssets.join(', '));
  for (const f of runtimeAssets)
    assert.ok(files.has(`dist/${path.relative(ROOT, f)}`), `dist/${path.relative(ROOT, f)} (read at run time) is not in the tarball`);
  assert.ok(![...files].some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.endsWith('.test.js')), 'no tests in the package');

  // The user's project: the README's TypeScript blocks saved under their names, then its
  // user-project shell blocks, line by line.
  mkdirSync(project);
  const blocks = pageBlocks(ROOT); // README.md, then docs/*.md: their blocks, page by page
  for (const b of blocks.filter((x) => x.lang === 'ts')) writeFileSync(path.join(project, /^\/\/ ([\w.-]+\.ts):/.exec(b.text)![1]), b.text);
  const snapshots: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const b of blocks.filter((x) => x.marker === 'user-project')) {
    for (const line of shellCommands(b.text)) {
      if (line === 'npm install --save-dev typescript @types/node') {
        linkTypeScript();
        continue;
      }
      if (line.startsWith('npm install ')) writeFileSync(path.join(project, 'package-lock.json'), seededLockfile('my-project'));
      const r = sh(line, project);
      times.push(`${line.slice(0, 60)} ${r.seconds.toFixed(1)}s`);
      assert.equal(r.code, 0, `${b.file}:${b.line}: ${line}\n${r.out}\n${r.err}`);
      if (line.includes('--agent ./linear.ts')) snapshots[line] = results('runs');
      if (line.startsWith('node --import tsx environment.ts')) assert.match(r.out, /256 of 256 episodes ended with STOP/);
      if (line.startsWith('node --import tsx --test')) assert.match(r.out, /# pass 2\n# fail 0/);
      if (line.startsWith('npx prorec-gym new-agent'))
        assert.equal(r.out.trim(), 'npx prorec-gym bench --agent ./mine.ts', 'new-agent prints the bench command');
      if (line.startsWith('npx prorec-gym bench --agent ./mine.ts'))
        assert.match(r.out, /^mine\s+3\s[\s\S]*^prorl \(ref\)\s+3\s|^prorl \(ref\)\s+3\s[\s\S]*^mine\s+3\s/m, 'mine beside the shipped reference rows');
      if (line.startsWith('npx tsc')) assert.equal(r.out + r.err, '', 'tsc --strict finds nothing');
      if (line.startsWith('node --import tsx harness.ts')) assert.match(r.out, /# Leaderboard[\s\S]*lowest-ids/);
    }
  }

  // What they wrote.
  const pkg = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { type?: string };
  assert.equal(pkg.type, 'commonjs', 'npm init -y makes a CommonJS project: the agents loaded there all the same');
  const runs = results('runs');
  for (const agent of ['mine', 'random', 'lowest-ids', 'linear']) {
    for (const seed of [1, 2, 3]) assert.ok(runs[`synthetic-v0__${agent}__seed${seed}.json`], `${agent} seed ${seed}`);
  }
  const mine = runs['synthetic-v0__mine__seed1.json'] as { code: { package: string; version: string; commit: string | null }; agent: { config: unknown } };
  assert.deepEqual(mine.code, { package: 'prorec-gym', version: '0.1.0', commit: null }, 'an installed package records no commit');
  assert.deepEqual(mine.agent.config, { pathLength: 3 }, 'the schema default filled in');
  assert.ok(existsSync(path.join(project, 'runs/report.html')));
  assert.ok(existsSync(path.join(project, 'linear.json')), 'the linear agent saved its weights');

  // The linear agent learned (weight on attributes shared with the target > 0, IoI above random's),
  // and the run that loaded the saved weights acts as the run that saved them (seed 3 saved last).
  const [trainLine, initLine] = Object.keys(snapshots);
  const trained = snapshots[trainLine]['synthetic-v0__linear__seed3.json'] as {
    metrics: { ioi: number };
    curves: { train?: Record<string, number>[] };
    cases: unknown[];
  };
  const loaded = snapshots[initLine]['synthetic-v0__linear__seed3.json'] as typeof trained;
  assert.ok(trained.curves.train!.at(-1)!['w.sharedWithTarget'] > 0);
  assert.ok(trained.metrics.ioi > (runs['synthetic-v0__random__seed3.json'] as typeof trained).metrics.ioi);
  assert.equal(loaded.curves.train, undefined, 'loaded, not trained');
  assert.deepEqual(loaded.cases, trained.cases);

  // The built package under plain node (no TypeScript loader): the library entry points and a
  // built-in agent run by the harness.
  writeFileSync(
    path.join(project, 'plain.mjs'),
    `import { make } from 'prorec-gym/envs';
import { listAgents } from 'prorec-gym/agents';
import { ESTIMATORS } from 'prorec-gym/estimators';
import { RESULT_SCHEMA_VERSION } from 'prorec-gym/schema';
import { codeVersion, loadSuite, planRuns, runPlan } from 'prorec-gym/harness';
const env = await make('synthetic-v0', { world: { numItems: 100, numUsers: 100 } });
env.reset({ seed: 1 });
const plan = await planRuns(loadSuite('smoke'), { agent: 'popularity', seeds: [1], episodes: 8 });
const report = await runPlan(plan.runs, { out: 'runs-plain', code: codeVersion(), progress: false });
console.log(JSON.stringify({ actions: env.actionSpace.n, agents: listAgents().length, estimators: Object.keys(ESTIMATORS).length, schema: RESULT_SCHEMA_VERSION, done: report.results.length, loader: process.execArgv }));
`,
  );
  const plain = sh('node plain.mjs', project);
  assert.equal(plain.code, 0, plain.err);
  const facts = JSON.parse(plain.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(
    { ...facts, agents: (facts.agents as number) >= 10, schema: typeof facts.schema },
    { actions: 101, agents: true, estimators: 6, schema: 'number', done: 1, loader: [] },
  );

  // Worker threads load a TypeScript agent of a CommonJS project too, with the same results.
  const jobs = sh('npx prorec-gym bench --agent ./lowest-ids.ts --jobs 2 --out runs-jobs', project);
  assert.equal(jobs.code, 0, jobs.err);
  times.push(`bench --jobs 2 ${jobs.seconds.toFixed(1)}s`);
  const parallel = results('runs-jobs');
  for (const [file, r] of Object.entries(parallel)) assert.deepEqual({ ...r, timings: null }, { ...runs[file], timings: null }, file);

  // The native kernels: built by the package's install script where a C compiler is (the runs
  // above used them, with the wasm kernels' bits); without the addon (as where no compiler is) the
  // same results, and the backend line says why; PRORL_BLAS=native asks for OpenBLAS's products,
  // an error that says how when they are not built.
  const addon = path.join(project, 'node_modules', 'prorec-gym', 'dist', 'compute', 'native', 'build', 'prorec-blas.node');
  const haveCc = sh('command -v "${CC:-cc}"', project).code === 0;
  if (haveCc) {
    assert.ok(existsSync(addon), `the install script built the native kernels (${addon})`);
    for (const [file, r] of Object.entries(runs))
      assert.match(
        String((r.backend as { reason: string }).reason),
        /BatchMatMul on the native kernels addon with the wasm kernels' bits \(PRORL_BLAS=auto\)/,
        file,
      );
  } else t.diagnostic('no C compiler here: the install script did not build the native kernels');
  rmSync(addon, { force: true });
  const wasm = sh('npx prorec-gym bench --agent ./lowest-ids.ts --out runs-wasm', project);
  assert.equal(wasm.code, 0, wasm.err);
  for (const [file, r] of Object.entries(results('runs-wasm'))) {
    assert.match(String((r.backend as { reason: string }).reason), /native kernels not used: the native kernels addon is not built .*same results/, file);
    assert.deepEqual({ ...r, timings: null, backend: null }, { ...runs[file], timings: null, backend: null }, file);
  }
  const early = sh('PRORL_BLAS=native npx prorec-gym bench --agent ./lowest-ids.ts --out runs-native', project);
  assert.notEqual(early.code, 0);
  assert.match(early.err, /native kernels addon is not built .*prorec-gym build-native/);
  if (haveCc && (existsSync('/usr/include/x86_64-linux-gnu/cblas.h') || existsSync('/usr/include/cblas.h'))) {
    const build = sh('npx prorec-gym build-native', project);
    assert.equal(build.code, 0, build.err);
    assert.match(build.out, /and OpenBLAS's \(PRORL_BLAS=native\)/);
    times.push(`build-native ${build.seconds.toFixed(1)}s`);
    const native = sh('PRORL_BLAS=native npx prorec-gym bench --agent ./lowest-ids.ts --out runs-native', project);
    assert.equal(native.code, 0, native.err);
    for (const [file, r] of Object.entries(results('runs-native'))) {
      assert.match(String((r.backend as { reason: string }).reason), /BatchMatMul on native BLAS/, file);
      assert.deepEqual({ ...r, timings: null, backend: null }, { ...runs[file], timings: null, backend: null }, file);
    }
  } else t.diagnostic('OpenBLAS products not built in the package: no C compiler or no OpenBLAS headers here (apt-get install libopenblas-dev)');

  // An agent's config fields from the installed binary, with the official options' defaults.
  const help = sh('npx prorec-gym bench --agent prorl --config-help', project);
  assert.equal(help.code, 0, help.err);
  for (const field of [
    /rl\.lr .*default: 0\.001/,
    /rl\.warmup .*default: 0\b/,
    /rl\.emptyPaths .*default: "train"/,
    /rl\.centeringWindow .*default: "first-epoch"/,
  ])
    assert.match(help.out, field);

  // Bad input from the binary: unknown command, unknown agent, a name new-agent refuses.
  assert.equal(sh('npx prorec-gym nope', project).code, 2);
  assert.equal(sh('npx prorec-gym bench --agent nope', project).code, 2);
  const again = sh('npx prorec-gym new-agent mine', project);
  assert.equal(again.code, 2);
  assert.match(again.err, /mine\.ts, .*mine\.test\.ts already exist; --force overwrites/);

  t.diagnostic(`total ${((performance.now() - started) / 1000).toFixed(1)}s: ${times.join('; ')}`);
});

test("a plug-in agent's runs rerun when its code or a helper it imports changes, and only then", { timeout: 600_000 }, async () => {
  // The project the first test made from an empty folder (its runs/ holds mine's three results).
  assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym')) && existsSync(path.join(project, 'mine.ts')), 'the installed project');
  const mineFile = path.join(project, 'mine.ts');
  const original = readFileSync(mineFile, 'utf8');
  const mineRuns = () =>
    Object.fromEntries(
      Object.entries(results('runs'))
        .filter(([f]) => f.includes('__mine__'))
        .map(([f, r]) => [f, r as { timings: { createdAt: string }; run: { config: { agentSpec: string; agentCode?: string } }; metrics: { ioi: number } }]),
    );
  /** Benchmarks mine (spelled `spec`) on its first `seeds` seeds; returns whether each of those runs ran anew, and the results. */
  const bench = (spec: string, seeds = 3) => {
    const before = mineRuns();
    const r = sh(`npx prorec-gym bench --agent ${spec} --out runs${seeds < 3 ? ` --seeds ${seeds}` : ''}`, project);
    assert.equal(r.code, 0, r.err);
    const after = mineRuns();
    const files = [1, 2, 3].slice(0, seeds).map((s) => `synthetic-v0__mine__seed${s}.json`);
    return { reran: files.map((f) => after[f].timings.createdAt !== before[f]?.timings.createdAt), after };
  };
  const scaffoldTest = () => sh('node --import tsx --test mine.test.ts', project);

  const first = bench('mine.ts');
  assert.deepEqual(first.reran, [false, false, false], 'mine.ts and ./mine.ts are one agent: nothing reruns');
  const recorded = first.after['synthetic-v0__mine__seed1.json'].run.config;
  assert.equal(recorded.agentSpec, './mine.ts');
  assert.match(recorded.agentCode ?? '', /^[0-9a-f]{64}$/, 'the result file records the code hash');

  // Blind to its target: the runs rerun (IoI falls), and the scaffold's own test fails.
  writeFileSync(mineFile, original.replace('items.attributes[o.target]', 'items.attributes[0]'));
  // (One seed from here on: what reruns is decided per run.)
  const seed1 = 'synthetic-v0__mine__seed1.json';
  const blind = bench('./mine.ts', 1);
  assert.deepEqual(blind.reran, [true], 'an edited agent reruns');
  assert.ok(blind.after[seed1].metrics.ioi < first.after[seed1].metrics.ioi, `IoI ${first.after[seed1].metrics.ioi} -> ${blind.after[seed1].metrics.ioi}`);
  const blindTest = scaffoldTest();
  assert.notEqual(blindTest.code, 0, 'the scaffold test catches a blind agent');
  assert.match(blindTest.out, /does not steer toward it/);

  // The scoring moved to a helper module (imported the TypeScript ESM way, as .js), with a new config field.
  writeFileSync(
    path.join(project, 'mine-score.ts'),
    'export const score = (shared: number, p: number, weight: number): number => shared * weight + p / (1 + p);\n',
  );
  writeFileSync(
    mineFile,
    `import { score } from './mine-score.js';\n${original}`
      .replace('pathLength: Type.Integer(', 'sharedWeight: Type.Number({ default: 1 }),\n    pathLength: Type.Integer(')
      .replace('const score = shared + popularity[item] / (1 + popularity[item]);', 'const s = score(shared, popularity[item], config.sharedWeight);')
      .replace('if (score > bestScore) {', 'if (s > bestScore) {')
      .replace('bestScore = score;', 'bestScore = s;'),
  );
  const withHelper = scaffoldTest();
  assert.equal(withHelper.code, 0, `a new field takes its default in the scaffold test (withDefaults)\n${withHelper.out}`);
  assert.match(withHelper.out, /# pass 2\n# fail 0/);
  const helped = bench('./mine.ts', 1);
  assert.deepEqual(helped.reran, [true]);
  assert.equal(helped.after[seed1].metrics.ioi, first.after[seed1].metrics.ioi, 'the original behaviour again');

  // Editing the helper alone reruns; editing a file mine does not import does not.
  writeFileSync(path.join(project, 'lowest-ids.ts'), `${readFileSync(path.join(project, 'lowest-ids.ts'), 'utf8')}// edited\n`);
  assert.deepEqual(bench('./mine.ts', 1).reran, [false], 'another agent edited: nothing of mine reruns');
  writeFileSync(
    path.join(project, 'mine-score.ts'),
    'export const score = (shared: number, p: number, weight: number): number => shared * weight - p / (1 + p);\n',
  );
  const helperEdited = bench(path.join(project, 'mine.ts'), 1);
  assert.deepEqual(helperEdited.reran, [true], 'an edited helper reruns (the absolute spelling is the same agent)');
  assert.notEqual(helperEdited.after[seed1].run.config.agentCode, helped.after[seed1].run.config.agentCode);
});

test(
  'the real environments load their shipped simulators in the installed package: nothing trains, the first result within a minute',
  { timeout: 600_000 },
  async (t) => {
    const snapshot = process.env.PRORL_SNAPSHOT_DIR ?? path.resolve(ROOT, '../shared/datasets/prorl-snapshot');
    if (!existsSync(snapshot)) {
      t.skip(`no ../shared/datasets/prorl-snapshot (looked in ${snapshot}); set PRORL_SNAPSHOT_DIR to run the real environments from the package`);
      return;
    }
    assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym')), 'the installed project (made by the first test)');
    const times: string[] = [];
    for (const env of ['ml-1m-v0', 'steam-v0', 'books-v0']) {
      // An empty cache: the dataset is compiled and the simulators come from the package's pretrained/ folder.
      const out = path.join(project, `runs-${env}`);
      const child = spawn(
        'bash',
        ['-c', `npx prorec-gym bench --agent random --env ${env} --data-dir ${snapshot} --seeds 1 --episodes 64 --out runs-${env} --progress false`],
        { cwd: project, env: { ...ENV, PRORL_CACHE_DIR: path.join(work, `cache-${env}`) } },
      );
      const started = performance.now();
      let log = '';
      let firstResult: number | null = null;
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      const code = await new Promise<number | null>((resolve) => {
        const poll = setInterval(() => {
          if (firstResult === null && existsSync(path.join(out, 'results')) && readdirSync(path.join(out, 'results')).some((f) => f.endsWith('.json')))
            firstResult = (performance.now() - started) / 1000;
          // A retraining would take an hour: stop at its first sign, or at a bound.
          if (/training it now|resuming its training/.test(log) || performance.now() - started > 180_000) child.kill('SIGKILL');
        }, 100);
        child.on('exit', (c) => {
          clearInterval(poll);
          resolve(c);
        });
      });
      const seconds = (performance.now() - started) / 1000;
      assert.doesNotMatch(
        log,
        /training it now|resuming its training|is not used|no shipped pre-trained checkpoint matches/,
        `${env}: a shipped simulator was not used\n${log}`,
      );
      assert.equal(code, 0, `${env}\n${log}`);
      assert.equal(
        log.match(/loaded the shipped pre-trained checkpoint .*node_modules\/prorec-gym\/dist\/simulators\/pretrained\/.* recomputed here/g)?.length,
        2,
        log,
      );
      firstResult ??= seconds;
      times.push(`${env} first result ${firstResult.toFixed(1)}s`);
      assert.ok(firstResult < 60, `${env}: the first result took ${firstResult.toFixed(1)} s (limit 60)\n${log}`);
    }
    t.diagnostic(`from an empty cache: ${times.join('; ')}`);
  },
);

test("the installed package's messages name its own commands: no data, a host it cannot reach", { timeout: 300_000 }, () => {
  assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym')), 'the installed project');
  const noData = sh('env -u PRORL_DATA_DIR -u PRORL_SNAPSHOT_DIR npx prorec-gym data stats ml-1m', project);
  assert.notEqual(noData.code, 0);
  assert.match(noData.err, /no data for 'ml-1m'[\s\S]*To get it: npx prorec-gym data fetch prorl-release /);
  assert.doesNotMatch(noData.err, /npm run data|node_modules\/shared|release snapshot/, 'no clone-only command or place');
  const offline = sh('npx prorec-gym data fetch ml-1m --base-url http://127.0.0.1:1', project);
  assert.equal(offline.code, 1, offline.err);
  assert.match(
    offline.err,
    /this machine cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)\. Alternatives: .*other ways to get ml-1m: npx prorec-gym data fetch prorl-release /,
  );
  assert.ok(!existsSync(path.join(ENV.PRORL_CACHE_DIR, 'raw/ml-1m')), 'no empty folder left behind');
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test(
  "a user's advantage estimator, scaffolded in the installed project, passes its exactness test and trains through bench as the built-in it re-implements",
  { timeout: 600_000 },
  () => {
    assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym')), 'the installed project');
    const scaffold = sh('npx prorec-gym new-agent --estimator my-prorl', project);
    assert.equal(scaffold.code, 0, scaffold.err);
    assert.equal(scaffold.out, 'npx prorec-gym bench --agent ./my-prorl.ts\n');
    const typed = sh('npx tsc --strict --noEmit --module nodenext --target es2022 --types node my-prorl.ts my-prorl.test.ts', project);
    assert.equal(typed.code, 0, `the scaffold type-checks under --strict against the installed declarations\n${typed.out}${typed.err}`);
    const check = sh('node --import tsx --test my-prorl.test.ts', project);
    assert.equal(check.code, 0, check.out + check.err);
    assert.match(check.out, /# pass 3\n# fail 0/);
    const help = sh('npx prorec-gym bench --agent ./my-prorl.ts --config-help', project);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /rl\.centering/);
    // The scaffold is ProRL's SRC + leave-one-out PSAE written out: on the same policy, pre-training and
    // budget it must land where the package's reference row of the built-in `prorl` does (seed 1).
    const run = sh('npx prorec-gym bench --agent ./my-prorl.ts --seeds 1 --out estimator-runs', project);
    assert.equal(run.code, 0, run.err);
    const mine = results('estimator-runs')['synthetic-v0__my-prorl__seed1.json'] as {
      metrics: Record<string, number>;
      run: { config: { agentCode?: string } };
    };
    assert.match(mine.run.config.agentCode ?? '', /^[0-9a-f]{64}$/, "the estimator module's code is in the run's identity");
    const reference = (name: string) =>
      (
        JSON.parse(
          readFileSync(path.join(project, `node_modules/prorec-gym/dist/benchmarks/reference/standard/results/synthetic-v0__${name}__seed1.json`), 'utf8'),
        ) as { metrics: Record<string, number> }
      ).metrics;
    const prorl = reference('prorl');
    for (const k of ['specificIoi', 'ioi', 'ctr', 'length'])
      assert.ok(Math.abs(mine.metrics[k] - prorl[k]) <= 1e-6 * Math.max(1, Math.abs(prorl[k])), `${k}: my-prorl ${mine.metrics[k]}, prorl (ref) ${prorl[k]}`);
    assert.ok(mine.metrics.specificIoi > reference('random').specificIoi + 0.5, 'it steers: specific IoI well above random');
  },
);

test(
  'a Python agent through the installed package: bench --agent ./reinforce_numpy.py trains through the protocol and beats random',
  { timeout: 600_000 },
  (t) => {
    assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym')), 'the installed project (made by the first test)');
    assert.ok(existsSync(path.join(project, 'node_modules/prorec-gym/clients/python/prorec_gym/agent_main.py')), 'the package ships the Python client');
    const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      t.skip(`python3 with NumPy is not available (${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}); apt-get install python3 python3-numpy`);
      return;
    }
    mkdirSync(path.join(project, 'python-agent'), { recursive: true });
    writeFileSync(path.join(project, 'python-agent/reinforce_numpy.py'), readFileSync(path.join(ROOT, 'examples/python/reinforce_numpy.py')));
    const r = sh('npx prorec-gym bench --agent ./python-agent/reinforce_numpy.py --seeds 2 --out python-runs', project);
    assert.equal(r.code, 0, r.err);
    const mine = results('python-runs');
    const reference = (seed: number) =>
      (
        JSON.parse(
          readFileSync(path.join(project, `node_modules/prorec-gym/dist/benchmarks/reference/standard/results/synthetic-v0__random__seed${seed}.json`), 'utf8'),
        ) as { metrics: Record<string, number> }
      ).metrics;
    for (const seed of [1, 2]) {
      const run = mine[`synthetic-v0__reinforce_numpy__seed${seed}.json`] as {
        metrics: Record<string, number>;
        curves: { train?: unknown[] };
        run: { config: { agentCode?: string } };
      };
      assert.ok(run, `seed ${seed}`);
      assert.match(run.run.config.agentCode ?? '', /^[0-9a-f]{64}$/, "the Python agent's code is in the run's identity");
      assert.equal(run.curves.train?.length, 10, 'its learning curve came through the protocol');
      assert.ok(
        run.metrics.specificIoi > reference(seed).specificIoi + 0.5,
        `seed ${seed}: specific IoI ${run.metrics.specificIoi} vs random ${reference(seed).specificIoi}`,
      );
    }
    // Python RL code on the benchmark's environments without the harness: ProrecVectorEnv starts the
    // installed package's `prorec-gym serve` (found through npx) and steps it with the Gymnasium API.
    const loop = [
      'import numpy as np',
      'from prorec_gym import ProrecVectorEnv',
      'env = ProrecVectorEnv("synthetic-v0", num_envs=8)',
      'obs, info = env.reset(seed=3)',
      'assert obs["history"].shape == env.observation_space["history"].shape, obs["history"].shape',
      'rng = np.random.default_rng(3)',
      'total, steps = 0.0, 0',
      'while steps < 12:',
      '    allowed = [np.flatnonzero(m) for m in obs["action_mask"]]',
      '    actions = np.array([rng.choice(a) if a.size else env.stop for a in allowed], dtype=np.int32)',
      '    obs, rewards, terminated, truncated, info = env.step(actions)',
      '    total += float(rewards.sum()); steps += 1',
      'env.close()',
      'print("stepped", steps, "rows", env.num_envs, "finite", bool(np.isfinite(total)))',
    ].join('\n');
    writeFileSync(path.join(project, 'python-loop.py'), `${loop}\n`);
    const served = sh('PYTHONPATH=node_modules/prorec-gym/clients/python python3 python-loop.py', project);
    assert.equal(served.code, 0, served.out + served.err);
    assert.match(served.out, /stepped 12 rows 8 finite True/);
  },
);
