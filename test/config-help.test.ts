import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Type, type TSchema } from '@sinclair/typebox';
import { listAgents, resolveAgent } from '../agents/registry.ts';
import { buildCli } from '../benchmarks/cli.ts';
import { configHelpText, describeSchema } from '../benchmarks/config-help.ts';
import { benchIn } from './support/bench-in-process.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-config-help-'));
after(() => rmSync(work, { recursive: true, force: true }));

const bench = (args: string[]) => benchIn(work, args);

/**
 * The dotted paths of the fields without a description, walking every object field (also inside
 * unions and arrays), independently of describeSchema.
 */
function undocumented(schema: TSchema, prefix = ''): string[] {
  const s = schema as Record<string, unknown>;
  const missing: string[] = [];
  const members = [...((s.anyOf as TSchema[] | undefined) ?? []), ...((s.oneOf as TSchema[] | undefined) ?? [])];
  for (const m of members) missing.push(...undocumented(m, prefix));
  if (s.items && typeof s.items === 'object') missing.push(...undocumented(s.items as TSchema, prefix));
  const props = (s.properties ?? {}) as Record<string, TSchema>;
  for (const [key, child] of Object.entries(props)) {
    const p = prefix ? `${prefix}.${key}` : key;
    const d = (child as Record<string, unknown>).description;
    if (typeof d !== 'string' || d.trim() === '') missing.push(p);
    missing.push(...undocumented(child, p));
  }
  return missing;
}

const agents = await Promise.all(listAgents().map((a) => resolveAgent(a.name)));
const withSchema = agents.filter((f) => f.configSchema);

test('every built-in agent has a config schema whose every field has a description', () => {
  assert.ok(withSchema.length >= 10, `agents with a config schema: ${withSchema.map((f) => f.name).join(', ')}`);
  for (const f of withSchema) {
    assert.ok(describeSchema(f.configSchema!).length > 0, `${f.name}: no fields`);
    assert.deepEqual(undocumented(f.configSchema!), [], `${f.name}: fields without a description`);
  }
});

test('describeSchema lists nested fields with dotted paths, types and defaults', async () => {
  const prorl = await resolveAgent('prorl');
  const fields = describeSchema(prorl.configSchema!);
  const byPath = new Map(fields.map((f) => [f.path, f]));
  assert.deepEqual(
    { ...byPath.get('rl.lr'), description: undefined },
    { path: 'rl.lr', type: 'number > 0', default: 0.001, description: undefined, optional: false, object: false },
  );
  assert.equal(byPath.get('rl')?.object, true);
  assert.equal(byPath.get('rl.weights')?.optional, true);
  assert.equal(byPath.get('rl.weights.ioi')?.type, 'number');
  assert.equal(byPath.get('policy.encoder')?.type, "'attention' | 'gru'");
  assert.equal(byPath.get('rl.centeringWindow')?.type, "'first-epoch' | integer ≥ 1");
  assert.ok(fields.findIndex((f) => f.path === 'policy') < fields.findIndex((f) => f.path === 'policy.dim'));
  assert.deepEqual(describeSchema(Type.String()), []);
});

test('bench --config-help prints every field of every built-in agent and runs nothing', async () => {
  for (const f of withSchema) {
    const r = await bench(['--agent', f.name, '--config-help']);
    assert.equal(r.code, 0, `${f.name}: ${r.err}`);
    for (const field of describeSchema(f.configSchema!))
      assert.match(r.out, new RegExp(`^ +${field.path.replace(/\./g, '\\.')} `, 'm'), `${f.name}: ${field.path}`);
    for (const line of r.out.split('\n')) assert.ok(line.length <= 100, `${f.name}: line longer than 100 columns: ${line}`);
  }
  const prorl = await bench(['--agent', 'prorl', '--config-help']);
  assert.match(prorl.out, /^ +rl\.lr +number > 0 +default: 0\.001$/m);
  assert.match(prorl.out, /^ +learning rate/m);
  assert.equal(existsSync(path.join(work, 'runs')), false, 'nothing written');
});

test('bench --config-help: plug-in modules, unknown agents and a missing --agent; listed by --help', async () => {
  const sampler = await bench(['--agent', path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts'), '--config-help']);
  assert.equal(sampler.code, 0, sampler.err);
  assert.match(sampler.out, /^ +pathLength +integer ≥ 0, ≤ 20 +default: 3$/m);

  writeFileSync(
    path.join(work, 'plain.ts'),
    `export default { name: 'plain', description: 'no schema', create() { return { name: 'plain', act: (o, ctx) => Int32Array.from(o, () => ctx.env.actionSpace.stop) }; } };\n`,
  );
  const plain = await bench(['--agent', './plain.ts', '--config-help']);
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /no config schema/);
  assert.equal(
    configHelpText({ name: 'x', description: 'y' }),
    'agent x: y\nno config schema: the agent takes its --agent-config as given, without defaults.\n',
  );

  const unknown = await bench(['--agent', 'no-such-agent', '--config-help']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown agent 'no-such-agent'; known agents: .*prorl/);
  assert.equal(unknown.out, '');

  const bare = await bench(['--config-help']);
  assert.equal(bare.code, 2);
  assert.match(bare.err, /--config-help needs --agent/);

  assert.match(await buildCli([]).getHelp(), /--config-help +print the --agent's config fields/);
});
