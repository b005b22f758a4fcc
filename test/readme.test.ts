/**
 * The README as written: its TypeScript blocks are the files under examples/ (which
 * `npm run typecheck` checks, and `npm run test:package` writes and runs in an installed project
 * together with the blocks marked `<!-- test: user-project -->`); its JSON blocks validate against
 * the schemas they illustrate; every shell command names a real command, script or option (bench
 * commands are parsed and planned against the registries; data and sim options are checked against
 * their --help); the world-options table lists exactly the options the environments accept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { agentTemplate } from '../bin/new-agent.ts';
import { runCli } from '../data/cli.ts';
import { simMain } from '../simulators/cli.ts';
import { codeBlocks, shellCommands, words } from './readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const blocks = codeBlocks(README);
const work = mkdtempSync(path.join(tmpdir(), 'prorec-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('every code block of the README is of a kind this test checks', () => {
  for (const b of blocks) assert.ok(['ts', 'sh', 'json', 'text'].includes(b.lang), `README.md:${b.line}: a \`\`\`${b.lang || '(no language)'} block`);
  for (const b of blocks) if (b.marker) assert.equal(b.marker, 'user-project', `README.md:${b.line}: unknown marker`);
});

test('the TypeScript blocks are the files under examples/, and every example is in the README', () => {
  const ts = blocks.filter((b) => b.lang === 'ts');
  const names = ts.map((b) => /^\/\/ ([\w.-]+\.ts):/.exec(b.text)?.[1]);
  names.forEach((n, i) => assert.ok(n, `README.md:${ts[i].line}: a TypeScript block must start with "// NAME.ts: ..."`));
  ts.forEach((b, i) =>
    assert.equal(b.text, readFileSync(path.join(ROOT, 'examples', names[i]!), 'utf8'), `README.md:${b.line} differs from examples/${names[i]}`),
  );
  assert.deepEqual(
    [...names].sort(),
    readdirSync(path.join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.ts'))
      .sort(),
  );
});

test('the JSON blocks are a valid suite agent entry and a valid RL agent config', async () => {
  const json = blocks.filter((b) => b.lang === 'json');
  assert.equal(json.length, 2);
  for (const b of json) {
    const value = JSON.parse(b.text) as Record<string, unknown>;
    if ('agent' in value) {
      validate(SuiteAgentSchema, value, `README.md:${b.line}`);
      const factory = await resolveAgent(String(value.agent));
      validate(factory.configSchema!, Value.Default(factory.configSchema!, structuredClone(value.config)), `README.md:${b.line} config`);
    } else {
      const prorl = await resolveAgent('prorl');
      validate(prorl.configSchema!, Value.Default(prorl.configSchema!, structuredClone(value)), `README.md:${b.line}`);
    }
  }
});

/** Plug-in agents the README's commands name, as files of this checkout. */
function agentFiles(): Record<string, string> {
  const mine = path.join(work, 'mine.ts');
  writeFileSync(mine, agentTemplate('mine').replace("from 'prorec-gym/agents'", `from '${path.join(ROOT, 'agents/index.ts')}'`));
  return { './mine.ts': mine, './lowest-ids.ts': path.join(ROOT, 'examples/lowest-ids.ts'), './linear.ts': path.join(ROOT, 'examples/linear.ts') };
}

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

test('every shell command of the README is a real command with real options; bench commands parse and plan', async () => {
  const files = agentFiles();
  const helps = new Map<string, string>();
  let planned = 0;
  for (const b of blocks.filter((x) => x.lang === 'sh')) {
    for (const line of shellCommands(b.text)) {
      const w = words(line);
      const where = `README.md:${b.line}: ${line}`;
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
  const table = README.slice(README.indexOf('### World options'), README.indexOf('### First run'));
  const documented = new Set([...table.matchAll(/^\| (`[^|]+`) \|/gm)].flatMap((m) => [...m[1].matchAll(/`(\w+)`/g)].map((x) => x[1])));
  documented.delete('option');
  const accepted = new Set(listEnvs().flatMap((e) => Object.keys((envSpec(e.id).worldOptions as TObject).properties ?? {})));
  assert.deepEqual([...documented].sort(), [...accepted].sort());
});
