/**
 * A plug-in agent's run identity covers its code (agents/module-code.ts): the module and the local
 * modules it imports, transitively, resolved as the loader resolves them; packages, builtins and
 * type-only imports are not followed. The same file under two spellings is one identity; editing the
 * agent or one of its helpers changes the run hash, and nothing else does. (From an installed
 * package, with `bench` rerunning the runs: test/package-install.ts.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { AgentCodeError, localModuleGraph, moduleCode, normalizeModuleSpec } from '../agents/module-code.ts';
import '../envs/index.ts';
import { checkSuite, planRuns } from '../benchmarks/suite.ts';
import { agentCodeWarnings } from '../results/leaderboard.ts';
import type { ResultFile } from '../results/schema.ts';

const work = mkdtempSync(path.join(tmpdir(), 'prorec-plugin-'));
after(() => rmSync(work, { recursive: true, force: true }));

const AGENT = `import { pick } from './helper.js'; // helper.ts, as TypeScript's ESM convention writes it
import type { Shape } from './types.ts';
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
export * from './lib';
// import './commented-out.ts'
const text = "import './in-a-string.ts'";
const late = () => import('./late.ts');
const shape: Shape = { n: 1 };
export default {
  name: 'first-allowed',
  description: 'the lowest allowed item id, three times, then STOP',
  configSchema: Type.Object({}, { additionalProperties: false }),
  create() {
    void [readFileSync, text, late, shape];
    return { name: 'first-allowed', act: (observations: any[], ctx: any) => Int32Array.from(observations, (o) => pick(o, ctx)) };
  },
};
`;

// The same agent loadable outside a project (no package to import): for planning, which loads it.
const LOADABLE = AGENT.replace("import { Type } from '@sinclair/typebox';\n", '').replace(
  '  configSchema: Type.Object({}, { additionalProperties: false }),\n',
  '',
);

function project(dir: string, agent = AGENT): string {
  mkdirSync(path.join(dir, 'lib'), { recursive: true });
  writeFileSync(path.join(dir, 'agent.ts'), agent);
  writeFileSync(
    path.join(dir, 'helper.ts'),
    `import { LIMIT } from './limits.mjs';\nexport const pick = (o: any, ctx: any) => (o.step >= LIMIT ? ctx.env.actionSpace.stop : o.actionMask.indexOf(1));\n`,
  );
  writeFileSync(path.join(dir, 'limits.mjs'), 'export const LIMIT = 3;\n');
  writeFileSync(path.join(dir, 'types.ts'), 'export interface Shape { n: number }\n');
  writeFileSync(path.join(dir, 'lib/index.ts'), `const legacy = require('./legacy.cjs');\nexport const fromLib = legacy;\n`);
  writeFileSync(path.join(dir, 'lib/legacy.cjs'), 'module.exports = 1;\n');
  writeFileSync(path.join(dir, 'late.ts'), 'export const late = 1;\n');
  writeFileSync(path.join(dir, 'unrelated.ts'), 'export const other = 1;\n');
  return path.join(dir, 'agent.ts');
}

test('the code of a plug-in module: itself and its local imports, transitively, resolved as the loader does', async () => {
  const file = project(path.join(work, 'graph'));
  const code = await moduleCode(file);
  assert.deepEqual(code.files, ['agent.ts', 'helper.ts', 'late.ts', 'lib/index.ts', 'lib/legacy.cjs', 'limits.mjs']);
  assert.match(code.hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(await moduleCode(path.join(work, 'graph/./lib/../agent.ts')), code, 'another spelling of the path: the same code');

  const edit = async (name: string, text: string) => {
    writeFileSync(path.join(work, 'graph', name), text);
    return (await moduleCode(file)).hash;
  };
  assert.equal(await edit('unrelated.ts', 'export const other = 2;\n'), code.hash, 'a file it does not import');
  assert.equal(await edit('types.ts', 'export interface Shape { n: string }\n'), code.hash, 'a type-only import (erased by the loader)');
  const helper = await edit('limits.mjs', 'export const LIMIT = 4;\n');
  assert.notEqual(helper, code.hash, "a helper's helper");
  const legacy = await edit('lib/legacy.cjs', 'module.exports = 2;\n');
  assert.notEqual(legacy, helper, 'a require()d module of a re-exported folder index');
  assert.notEqual(await edit('late.ts', 'export const late = 2;\n'), legacy, 'a dynamic import');
});

test('a module whose local import does not resolve: an input error naming the file and line', async () => {
  const dir = path.join(work, 'broken');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'agent.ts'), "import { x } from './nowhere.ts';\nexport default x;\n");
  await assert.rejects(moduleCode(path.join(dir, 'agent.ts')), (e: Error) => e instanceof AgentCodeError && /agent\.ts:1: .*nowhere\.ts/.test(e.message));
});

test('one spelling per module file: relative, ./, absolute, .. and symbolic links', () => {
  const dir = path.join(work, 'spell');
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'mine.ts'), 'export default 1;\n');
  symlinkSync(path.join(dir, 'mine.ts'), path.join(dir, 'link.ts'));
  for (const spelling of ['mine.ts', './mine.ts', path.join(dir, 'mine.ts'), './sub/../mine.ts', 'link.ts'])
    assert.equal(normalizeModuleSpec(spelling, dir), './mine.ts', spelling);
  assert.equal(normalizeModuleSpec('../mine.ts', path.join(dir, 'sub')), '../mine.ts');
});

test("planned runs of a plug-in: two spellings one hash; editing the agent or its helper changes it; the config records the code's hash", async () => {
  const dir = path.join(work, 'plan');
  const file = project(dir, LOADABLE);
  const suite = {
    suite: checkSuite(
      {
        name: 'plug',
        description: 'plug-in identity',
        seeds: [1],
        budget: 'b',
        budgets: { b: { episodes: 4 } },
        envs: [{ id: 'synthetic-v0', world: { numItems: 50, numUsers: 60 } }],
        agents: [{ agent: 'random' }],
      },
      'plug.json',
    ),
    source: path.join(dir, 'plug.json'),
  };
  const plan = async (agent: string) => (await planRuns(suite, { agent, cwd: dir })).runs[0];
  const first = await plan('agent.ts');
  assert.equal(first.config.agentSpec, './agent.ts');
  assert.equal(first.config.agentCode, (await moduleCode(file)).hash);
  assert.equal((await plan('./agent.ts')).configHash, first.configHash, 'mine.ts and ./mine.ts are one run');
  assert.equal((await plan(file)).configHash, first.configHash, 'and so is its absolute path');
  assert.equal((await planRuns(suite, { agent: 'random' })).runs[0].config.agentCode, undefined, 'a registered agent has no code hash');

  writeFileSync(path.join(dir, 'unrelated.ts'), 'export const other = 3;\n');
  assert.equal((await plan('./agent.ts')).configHash, first.configHash, 'editing a file the agent does not import reruns nothing');
  writeFileSync(path.join(dir, 'helper.ts'), `export const pick = (o: any, ctx: any) => (o.step >= 2 ? ctx.env.actionSpace.stop : o.actionMask.indexOf(1));\n`);
  const helperEdited = await plan('./agent.ts');
  assert.notEqual(helperEdited.configHash, first.configHash, 'editing a helper the agent imports');
  writeFileSync(file, `${LOADABLE}// an edit\n`);
  assert.notEqual((await plan('./agent.ts')).configHash, helperEdited.configHash, 'editing the agent');
});

test('the module graph lists real paths once', async () => {
  const file = project(path.join(work, 'real'));
  const graph = await localModuleGraph(file);
  assert.equal(new Set(graph).size, graph.length);
  assert.ok(graph.every((f) => path.isAbsolute(f)));
});

test("a leaderboard whose plug-in rows ran different versions of the agent's code says so, where", () => {
  const result = (env: string, label: string, agentCode?: string) => ({
    env: { id: env },
    run: { label, config: agentCode === undefined ? {} : { agentCode } },
  });
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const same = agentCodeWarnings([result('synthetic-v0', 'mine', a), result('ml-1m-v0', 'mine', a), result('ml-1m-v0', 'random')] as unknown as ResultFile[]);
  assert.deepEqual(same, [], 'one version: no warning');
  const mixed = agentCodeWarnings([result('synthetic-v0', 'mine', b), result('ml-1m-v0', 'mine', a)] as unknown as ResultFile[]);
  assert.deepEqual(
    mixed.map((w) => w.env),
    ['synthetic-v0', 'ml-1m-v0'],
  );
  assert.match(
    mixed[0].text,
    /^mine: these rows ran code bbbbbbbb, its rows on ml-1m-v0 \(code aaaaaaaa\) ran another version of its code: rerun them with --force/,
  );
});
