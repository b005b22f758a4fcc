/**
 * `prorec-gym new-agent NAME [--dir DIR] [--force]`: a starting point for a new agent. Writes
 * DIR/NAME.ts (a typed agent module: config schema, `act`, the optional hooks named in comments)
 * and DIR/NAME.test.ts (node's test runner: the agent, with its config's defaults filled as a
 * benchmark fills them, recommends allowed items, stops, and reads the target), and
 * prints the one-line bench command. Refuses to overwrite files unless --force.
 *
 * `prorec-gym new-agent --estimator NAME`: a starting point for a new advantage estimator instead,
 * trained by the RL trainer on the built-ins' policy and budget. DIR/NAME.ts defines it (ProRL's
 * SRC + position-specific advantages written out, to edit) and exports its agent factory;
 * DIR/NAME.test.ts checks it exactly unbiased on enumerable tabular policies
 * (prorec-gym/estimators/check) and that the check catches a biased variant.
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

/** The estimator module for `name`: a definition and the RL agent factory that trains it. */
export function estimatorTemplate(name: string): string {
  return `/**
 * ${name}: an advantage estimator for prorec-gym's RL trainer (written by \`prorec-gym new-agent
 * --estimator\`; edit freely). The trainer samples G paths per case from the policy, computes
 * ℓ_t = log π(a_t | s_t) for each path item and for the STOP action of a path that stopped, and
 * minimises −(1/N) Σ_paths Σ_t A_t ℓ_t (+ β·KL to the supervised policy). This module computes A_t.
 *
 * What it does now: ProRL (Hou et al., ICML 2026): with \`needs.centering\` the trainer first applies
 * stepwise reward centering (SRC) to the step rewards; then A_t = G_t − b_t, the reward-to-go
 * G_t = Σ_{k≥t} r̃_k minus the mean G_t of the group's other paths that took an action at t
 * (leave-one-out: exactly unbiased; the STOP term at t = L has G_L = 0).
 *
 *   npx prorec-gym bench --agent ./${name}.ts                                           benchmark it
 *   npx prorec-gym bench --agent ./${name}.ts --agent-config '{"rl":{"lr":0.0001}}'       with a config
 *   npx prorec-gym bench --agent prorl --config-help                                    the config's fields
 *   node --import tsx --test ${name}.test.ts                                            test it
 */
import { defineEstimator, rlAgentFactory } from 'prorec-gym/agents';

export const estimator = defineEstimator({
  name: '${name}',
  description: 'SRC, then reward-to-go minus the leave-one-out mean over the group paths active at each position',
  // true: the trainer centres the step rewards (the config's rl.centering) before calling advantages.
  needs: { centering: true },
  /**
   * rollouts[i]: one sampled path: \`group\` (its case), \`rewards\` (r̃_t of its L items, t = 0..L−1),
   * \`components\` (raw IoI, IoR, CTR per step), \`stopped\` (true: a STOP term follows the items).
   * Returns, per rollout, L + (stopped ? 1 : 0) advantages: items at 0..L−1, STOP at L.
   */
  advantages(rollouts) {
    // Reward-to-go G_t per term (the STOP term keeps G_L = 0).
    const togo = rollouts.map((r) => {
      const g = new Float64Array(r.rewards.length + (r.stopped ? 1 : 0));
      for (let t = r.rewards.length - 1, acc = 0; t >= 0; t--) g[t] = acc += r.rewards[t];
      return g;
    });
    return togo.map((g, i) =>
      g.map((x, t) => {
        // b_t: the mean G_t over the same group's other paths that took an action at t.
        let sum = 0;
        let n = 0;
        togo.forEach((h, j) => {
          if (j !== i && rollouts[j].group === rollouts[i].group && t < h.length) {
            sum += h[t];
            n += 1;
          }
        });
        return n > 0 ? x - sum / n : x;
      }),
    );
  },
});

/** The RL agent that trains this estimator (the default export \`bench --agent ./${name}.ts\` loads). */
export default rlAgentFactory(estimator);
`;
}

/** The exactness test of estimator `name`. */
export function estimatorTestTemplate(name: string): string {
  return `/** Tests of the ${name} estimator: node --import tsx --test ${name}.test.ts */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineEstimator } from 'prorec-gym/agents';
import { checkUnbiased } from 'prorec-gym/estimators/check';
import agent, { estimator } from './${name}.js'; // ${name}.ts (TypeScript's ESM convention: import it as .js)

test('${name} is exactly unbiased on every enumerable tabular policy the check draws', () => {
  // E[(1/G) Σ_i Σ_t A_i,t ∇ℓ_i,t] over every group of paths, against ∇(E[R] − μ·E[L]) (μ: the SRC
  // price per step; 0 without centring). Unbiased = equal up to round-off.
  const report = checkUnbiased(estimator);
  assert.ok(report.unbiased, report.summary);
});

test('the check catches a biased variant of ${name} (its STOP advantage dropped)', () => {
  const noStop = defineEstimator({
    ...estimator,
    name: '${name}-no-stop',
    advantages: (rollouts, options) =>
      estimator.advantages(rollouts, options).map((a, i) => (rollouts[i].stopped ? a.map((x, t) => (t === rollouts[i].rewards.length ? 0 : x)) : a)),
  });
  assert.equal(checkUnbiased(noStop).unbiased, false);
});

test('the agent trains ${name} under its name', () => {
  assert.equal(agent.name, '${name}');
  assert.ok(agent.configSchema, 'the RL config schema (bench --agent prorl --config-help lists its fields)');
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
  'usage: prorec-gym new-agent NAME [--dir DIR] [--force]\n' +
  '  writes DIR/NAME.ts (a typed agent module) and DIR/NAME.test.ts; NAME: lower-case letters, digits and dashes\n' +
  '       prorec-gym new-agent --estimator NAME [--dir DIR] [--force]\n' +
  '  writes DIR/NAME.ts (an advantage estimator and the RL agent that trains it) and DIR/NAME.test.ts (its exact unbiasedness check)\n';

/** Runs `new-agent` with its arguments; resolves to the exit code. */
export async function newAgentMain(args: string[], io: NewAgentIo = STDIO): Promise<number> {
  let dir = '.';
  let force = false;
  let estimator = false;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    } else if (a === '--force') force = true;
    else if (a === '--estimator') estimator = true;
    else if (a === '--dir') {
      if (args[i + 1] === undefined) return fail(io, '--dir needs a folder');
      dir = args[++i];
    } else if (a.startsWith('-')) return fail(io, `unknown option ${a}`);
    else names.push(a);
  }
  const what = estimator ? 'estimator' : 'agent';
  if (names.length !== 1) return fail(io, `give one ${what} name`);
  const name = names[0];
  if (!NAME_RE.test(name))
    return fail(io, `'${name}' is not a valid ${what} name: use lower-case letters, digits and dashes, starting with a letter (e.g. my-${what})`);
  const files = {
    [path.join(dir, `${name}.ts`)]: estimator ? estimatorTemplate(name) : agentTemplate(name),
    [path.join(dir, `${name}.test.ts`)]: estimator ? estimatorTestTemplate(name) : testTemplate(name),
  };
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
