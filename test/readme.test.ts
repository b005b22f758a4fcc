/**
 * The README and docs/*.md as written (docs/api/ is TypeDoc's output, not checked): their
 * TypeScript blocks are the files under examples/ (which `npm run typecheck` checks, and
 * `npm run test:package` writes and runs in an installed project together with the blocks marked
 * `<!-- test: user-project -->`); their JSON blocks validate against the schemas they illustrate;
 * every shell command names a real command, script or option (bench commands are parsed and
 * planned against the registries; data and sim options are checked against their --help); the
 * world-options table lists exactly the options the environments accept; every relative link
 * points to a file that exists (and a heading of it, for a `#fragment`); the README stays a front page.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { resolveAgent } from '../agents/registry.ts';
import '../envs/index.ts';
import { envSpec, listEnvs } from '../envs/registry.ts';
import { validate } from '../core/validate.ts';
import { buildCli } from '../benchmarks/cli.ts';
import { loadSuite, planRuns, SuiteAgentSchema } from '../benchmarks/suite.ts';
import { agentTemplate, estimatorTemplate } from '../bin/new-agent.ts';
import { runCli } from '../data/cli.ts';
import { simMain } from '../simulators/cli.ts';
import { docPages, headingAnchors, pageBlocks, relativeLinks, shellCommands, words } from './readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const pages = docPages(ROOT);
const blocks = pageBlocks(ROOT);
const work = mkdtempSync(path.join(tmpdir(), 'prorec-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the README is a front page: under 220 lines, setup and tests before the benchmark, a link to every docs page', () => {
  const lines = README.split('\n').length;
  assert.ok(lines < 220, `README.md has ${lines} lines`);
  assert.ok(
    README.indexOf('npm ci') < README.indexOf('npm test') && README.indexOf('npm test') < README.indexOf('## The main job'),
    'npm ci / npm test near the top',
  );
  const linked = new Set(relativeLinks(README).map((l) => path.normalize(l.target || 'README.md')));
  for (const page of pages.slice(1)) assert.ok(linked.has(page), `README.md does not link ${page}`);
});

test('every code block of the README and docs is of a kind this test checks', () => {
  for (const b of blocks) assert.ok(['ts', 'sh', 'json', 'text'].includes(b.lang), `${b.file}:${b.line}: a \`\`\`${b.lang || '(no language)'} block`);
  for (const b of blocks) if (b.marker) assert.equal(b.marker, 'user-project', `${b.file}:${b.line}: unknown marker`);
});

test('the TypeScript blocks are the files under examples/, and every example is on exactly one page', () => {
  const ts = blocks.filter((b) => b.lang === 'ts');
  const names = ts.map((b) => /^\/\/ ([\w.-]+\.ts):/.exec(b.text)?.[1]);
  names.forEach((n, i) => assert.ok(n, `${ts[i].file}:${ts[i].line}: a TypeScript block must start with "// NAME.ts: ..."`));
  ts.forEach((b, i) =>
    assert.equal(b.text, readFileSync(path.join(ROOT, 'examples', names[i]!), 'utf8'), `${b.file}:${b.line} differs from examples/${names[i]}`),
  );
  assert.deepEqual(
    [...names].sort(),
    readdirSync(path.join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.ts'))
      .sort(),
  );
});

test('every JSON block is a valid suite agent entry or a valid RL agent config', async () => {
  const json = blocks.filter((b) => b.lang === 'json');
  assert.ok(json.length >= 2, `${json.length} JSON blocks`);
  for (const b of json) {
    const where = `${b.file}:${b.line}`;
    const value = JSON.parse(b.text) as Record<string, unknown>;
    if ('agent' in value) {
      validate(SuiteAgentSchema, value, where);
      const factory = await resolveAgent(files[String(value.agent)] ?? String(value.agent));
      validate(factory.configSchema!, Value.Default(factory.configSchema!, structuredClone(value.config)), `${where} config`);
    } else {
      const prorl = await resolveAgent('prorl');
      validate(prorl.configSchema!, Value.Default(prorl.configSchema!, structuredClone(value)), where);
    }
  }
});

/** Plug-in agents the documented commands name, as files of this checkout. */
function agentFiles(): Record<string, string> {
  // The package's entry points, as their source files (the `prorec-gym-source` condition of the exports map).
  const exportsMap = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> }).exports;
  const local = (code: string) =>
    code.replace(
      /from 'prorec-gym(\/[\w/-]+)?'/g,
      (_, sub: string | undefined) => `from '${path.join(ROOT, exportsMap[`.${sub ?? ''}`]['prorec-gym-source'])}'`,
    );
  const mine = path.join(work, 'mine.ts');
  writeFileSync(mine, local(agentTemplate('mine')));
  const estimator = path.join(work, 'my-estimator.ts');
  writeFileSync(estimator, local(estimatorTemplate('my-estimator')));
  return {
    './mine.ts': mine,
    './my-estimator.ts': estimator,
    './lowest-ids.ts': path.join(ROOT, 'examples/lowest-ids.ts'),
    './linear.ts': path.join(ROOT, 'examples/linear.ts'),
  };
}
const files = agentFiles();

/** The --help text of `prorec-gym <command> <subcommand>`, in this process (stdout captured). */
async function helpOf(args: string[]): Promise<string> {
  let text = '';
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  process.stdout.write = ((t: string) => ((text += t), true)) as typeof process.stdout.write;
  console.log = (...xs: unknown[]) => void (text += `${xs.join(' ')}\n`);
  try {
    const code =
      args[0] === 'sim'
        ? await simMain([...args.slice(1), '--help'])
        : await runCli([...args.slice(1), '--help'], { out: (t) => void (text += t), err: (t) => void (text += t) });
    assert.equal(code, 0, text);
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  return text;
}

test('every shell command of the README and docs is a real command with real options; bench commands parse and plan', async () => {
  const helps = new Map<string, string>();
  let planned = 0;
  for (const b of blocks.filter((x) => x.lang === 'sh')) {
    for (const line of shellCommands(b.text)) {
      const w = words(line);
      const where = `${b.file}:${b.line}: ${line}`;
      if (w[0] === 'npm' && w[1] === 'run') {
        assert.ok(pkg.scripts[w[2]], `${where}: no npm script '${w[2]}'`);
      } else if (w[0] === 'npm') {
        assert.ok(['ci', 'pack', 'init', 'install', 'test'].includes(w[1]), where);
      } else if (w[0] === 'node') {
        assert.deepEqual(w.slice(0, 3), ['node', '--import', 'tsx'], where);
      } else if (w[0] === 'npx' && w[1] === 'tsc') {
        assert.ok(w.includes('--strict'), where);
      } else {
        assert.equal(`${w[0]} ${w[1]}`, 'npx prorec-gym', where);
        const [command, ...args] = w.slice(2);
        if (command === 'bench' && !['merge', 'leaderboard', 'specificity'].includes(args[0])) {
          const argv = (await buildCli(args).parseAsync()) as Record<string, unknown>;
          const agent = files[String(argv.agent)] ?? (argv.agent as string | undefined);
          const plan = await planRuns(loadSuite((argv.suite as string | undefined) ?? 'standard'), {
            agent,
            env: argv.env as string | undefined,
            agentConfig: argv.agentConfig ? (JSON.parse(String(argv.agentConfig)) as Record<string, unknown>) : undefined,
          });
          assert.ok(plan.runs.length > 0, where);
          planned += 1;
        } else if (command === 'data' || command === 'sim') {
          const key = `${command} ${args[0]}`;
          if (!helps.has(key)) helps.set(key, await helpOf([command, args[0]]));
          for (const option of args.filter((a) => a.startsWith('--')))
            assert.ok(helps.get(key)!.includes(option), `${where}: ${option} is not an option of '${key}'`);
        } else {
          assert.ok(['report', 'new-agent'].includes(command), `${where}: unknown command '${command}'`);
        }
      }
    }
  }
  assert.ok(planned >= 5, `${planned} bench commands planned`);
});

test('the world-options table lists exactly the options the environments accept', () => {
  const page = readFileSync(path.join(ROOT, 'docs/environments.md'), 'utf8');
  const start = page.indexOf('## World options');
  assert.ok(start >= 0, 'docs/environments.md has a "World options" section');
  const table = page.slice(start, page.indexOf('\n## ', start + 1));
  const documented = new Set([...table.matchAll(/^\| (`[^|]+`) \|/gm)].flatMap((m) => [...m[1].matchAll(/`(\w+)`/g)].map((x) => x[1])));
  documented.delete('option');
  const accepted = new Set(listEnvs().flatMap((e) => Object.keys((envSpec(e.id).worldOptions as TObject).properties ?? {})));
  assert.deepEqual([...documented].sort(), [...accepted].sort());
});

test('every relative link of the README and docs points to a file that exists, and to a heading of it', () => {
  for (const page of pages) {
    const text = readFileSync(path.join(ROOT, page), 'utf8');
    for (const link of relativeLinks(text)) {
      const file = link.target ? path.resolve(ROOT, path.dirname(page), link.target) : path.join(ROOT, page);
      const where = `${page}:${link.line}: the link ${link.target}${link.fragment === null ? '' : `#${link.fragment}`}`;
      assert.ok(file.startsWith(ROOT + path.sep) && existsSync(file), `${where} points to no file`);
      if (link.fragment !== null && file.endsWith('.md'))
        assert.ok(headingAnchors(readFileSync(file, 'utf8')).has(link.fragment), `${where} names no heading of ${path.relative(ROOT, file)}`);
    }
  }
});
