/**
 * `prorec-gym new-agent NAME [--dir DIR] [--force]`: a starting point for a new agent. Writes
 * DIR/NAME.ts (a typed agent module: config schema, `act`, the optional hooks named in comments)
 * and DIR/NAME.test.ts (node's test runner: the agent, with its config's defaults filled as a
 * benchmark fills them, recommends allowed items, stops, and reads the target), and
 * prints the one-line bench command. Refuses to overwrite files unless --force.
 * Exit codes: 0 written, 2 bad name or existing files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../core/io.ts';

/** A module name that is also a fine agent name, file name and label. */
const NAME_RE = /^[a-z][a-z0-9-]*$/;

/** The agent module for `name`. */
export function agentTemplate(name: string): string {
  return `/**
 * ${name}: a prorec-gym agent (written by \`prorec-gym new-agent\`; edit freely).
 *
 * What it does now: at each step, among the allowed items outside the user's history, the one that
 * shares the most attributes with the target (ties: the more popular in the train split), up to
 * \`pathLength\` items, then STOP. It reads the dataset, never the simulator.
 *
 *   npx prorec-gym bench --agent ./${name}.ts                                   benchmark it
 *   npx prorec-gym bench --agent ./${name}.ts --agent-config '{"pathLength":5}'  with a config
 *   node --import tsx --test ${name}.test.ts                                    test it
 *
 * The contract (prorec-gym/agents): \`act\` gets a batch of observations and returns one action per
 * row, an item id in [0, N) allowed by the row's actionMask or STOP (= N); randomness only from
 * ctx.rng(row) (the row's own stream). Optional hooks: \`train(makeEnv, budget, ctx)\` (train split only), \`save(path)\`,
 * \`load(path)\`, \`proposePaths\` (metrics@K), \`dispose()\`; set \`usesSimulator: true\` on the
 * factory if \`act\` reads the reward simulator (then ctx.simulator.batch() gives the rows' state).
 */
import { Type, type AgentFactory, type Static } from 'prorec-gym/agents';

/** The config \`--agent-config\` accepts; omitted fields take these defaults. */
export const ConfigSchema = Type.Object(
  {
    pathLength: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'items recommended before STOP' }),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof ConfigSchema>;

const factory: AgentFactory<Config> = {
  name: '${name}',
  description: 'the allowed item sharing the most attributes with the target (ties: the most popular), pathLength times, then STOP',
  configSchema: ConfigSchema,
  create(config) {
    return {
      name: '${name}',
      act(observations, ctx) {
        const { items, popularity } = ctx.env.world.dataset;
        const stop = ctx.env.actionSpace.stop;
        return Int32Array.from(observations, (o) => {
          if (o.step >= config.pathLength) return stop;
          const targetAttributes = new Set(items.attributes[o.target]);
          let best = stop;
          let bestScore = -Infinity;
          for (let item = 0; item < stop; item++) {
            if (o.actionMask[item] !== 1 || o.history.includes(item)) continue;
            const shared = items.attributes[item].filter((a) => targetAttributes.has(a)).length;
            // Popularity breaks ties: p / (1 + p) is below 1, one shared attribute.
            const score = shared + popularity[item] / (1 + popularity[item]);
            if (score > bestScore) {
              best = item;
              bestScore = score;
            }
          }
          return best;
        });
      },
    };
  },
};

export default factory;
`;
}

/** The test module for `name`. */
export function testTemplate(name: string): string {
  return `/** Tests of the ${name} agent: node --import tsx --test ${name}.test.ts */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actContext, withDefaults } from 'prorec-gym/agents';
import { makeVec } from 'prorec-gym/envs';
import agent, { ConfigSchema } from './${name}.js'; // ${name}.ts (TypeScript's ESM convention: import it as .js)

// The config a benchmark gives the agent: the fields set here, every other one at its schema default.
const config = withDefaults(ConfigSchema, { pathLength: 2 });

test('${name} recommends allowed items, at most pathLength of them, then stops', async () => {
  const env = await makeVec('synthetic-v0', 16, { world: { numItems: 300, numUsers: 400 } });
  const ${camel(name)} = await agent.create(config, { numItems: env.numItems, seed: 1 });
  let { observations } = env.reset({ seed: 1 });
  const lengths: number[] = [];
  for (let t = 0; env.active().includes(1); t++) {
    const active = env.active();
    // The context of decision t: ctx.rng(row) is each row's own random stream.
    const actions = ${camel(name)}.act(observations, actContext(env, 1, t));
    observations.forEach((o, k) => {
      if (active[k]) assert.equal(o.actionMask[actions[k]], 1, \`row \${k}: action \${actions[k]} is not allowed\`);
    });
    const step = env.step(actions);
    for (const info of step.infos) if (info.episode) lengths.push(info.episode.length);
    observations = step.observations;
  }
  assert.equal(lengths.length, 16, 'every episode ended');
  assert.ok(lengths.every((l) => l <= 2), \`path lengths \${lengths}\`);
  assert.ok(lengths.some((l) => l > 0), 'it recommends something before STOP');
});

test('${name} reads the target: other targets, other recommendations', async () => {
  const env = await makeVec('synthetic-v0', 16, { world: { numItems: 300, numUsers: 400 } });
  const ${camel(name)} = await agent.create(config, { numItems: env.numItems, seed: 1 });
  const { observations } = env.reset({ seed: 1 });
  const actions = ${camel(name)}.act(observations, actContext(env, 1, 0));
  // The same users at the same step, each given the next row's target (the same random streams).
  const retargeted = observations.map((o, k) => ({ ...o, target: observations[(k + 1) % observations.length].target }));
  const other = ${camel(name)}.act(retargeted, actContext(env, 1, 0));
  assert.ok(
    actions.some((a, k) => a !== other[k]),
    'the same actions whatever the target: the agent does not steer toward it',
  );
});
`;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export interface NewAgentIo {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: NewAgentIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

const USAGE =
  'usage: prorec-gym new-agent NAME [--dir DIR] [--force]\n  writes DIR/NAME.ts (a typed agent module) and DIR/NAME.test.ts; NAME: lower-case letters, digits and dashes\n';

/** Runs `new-agent` with its arguments; resolves to the exit code. */
export async function newAgentMain(args: string[], io: NewAgentIo = STDIO): Promise<number> {
  let dir = '.';
  let force = false;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    } else if (a === '--force') force = true;
    else if (a === '--dir') {
      if (args[i + 1] === undefined) return fail(io, '--dir needs a folder');
      dir = args[++i];
    } else if (a.startsWith('-')) return fail(io, `unknown option ${a}`);
    else names.push(a);
  }
  if (names.length !== 1) return fail(io, 'give one agent name');
  const name = names[0];
  if (!NAME_RE.test(name))
    return fail(io, `'${name}' is not a valid agent name: use lower-case letters, digits and dashes, starting with a letter (e.g. my-agent)`);
  const files = { [path.join(dir, `${name}.ts`)]: agentTemplate(name), [path.join(dir, `${name}.test.ts`)]: testTemplate(name) };
  const existing = Object.keys(files).filter((f) => existsSync(f));
  if (existing.length > 0 && !force) return fail(io, `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; --force overwrites`);
  for (const [file, text] of Object.entries(files)) {
    writeFileAtomic(file, text);
    io.err(`wrote ${file}\n`);
  }
  const rel = (f: string) => {
    const r = path.relative('.', f);
    return r.startsWith('..') || path.isAbsolute(r) ? path.resolve(f) : `./${r.split(path.sep).join('/')}`;
  };
  io.out(`npx prorec-gym bench --agent ${rel(path.join(dir, `${name}.ts`))}\n`);
  return 0;
}

function fail(io: NewAgentIo, message: string): number {
  io.err(`new-agent: ${message}\n${USAGE}`);
  return 2;
}
