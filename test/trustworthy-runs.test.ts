/**
 * Trustworthy runs: a run's identity holds every parameter it ran with; results do not depend on
 * the clock, the batch or the other rows; episode ends and summaries equal what step() paid; one
 * tie rule for every rank. Each fault found when the harness was tried as a new user is a test here
 * with the right value.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import { Type } from '@sinclair/typebox';
import { actContext, type Agent } from '../agents/agent.ts';
import { ensureBackend } from '../agents/nn.ts';
import { readPolicyCheckpoint } from '../agents/policy-agent.ts';
import { listAgents, resolveAgent } from '../agents/registry.ts';
import { RlConfigSchema } from '../agents/rl.ts';
import { codeVersion } from '../benchmarks/cli.ts';
import { runOne } from '../benchmarks/evaluate.ts';
import { aggregate, buildLeaderboard, formatAggregate, leaderboardMarkdown } from '../results/leaderboard.ts';
import { readResults, withoutTimings } from '../results/read.ts';
import { checkSuite, planRuns } from '../benchmarks/suite.ts';
import { canonicalJson, sourceFingerprint, stableHash } from '../core/hash.ts';
import { PRETRAIN_CODE_DIRS, pretrainCacheFile, pretrainCode, SupervisedConfigSchema } from '../agents/supervised.ts';
import * as tf from '@tensorflow/tfjs';
import type { PolicyNetwork } from '../agents/policy.ts';
import type { Dataset } from '../data/dataset.ts';
import { numericsId } from '../compute/backend.ts';
import { activeNativeBlas, registerNativeBlasKernels, unregisterNativeBlasKernels } from '../compute/kernels/index.ts';
import type { NativeBlas } from '../compute/kernels/native-matmul.ts';
import {
  buildWorld,
  checkEnv,
  clearWorldCache,
  make,
  makeVec,
  register,
  InvalidActionError,
  type ProactiveRecEnv,
  type ProactiveWorld,
} from '../envs/index.ts';
import { rowTargetStats } from '../simulators/simulator.ts';
import { metricsFromRanks, popularityRanks } from '../simulators/evaluate.ts';
import { pathSpecificity } from '../benchmarks/specificity.ts';
import { validate, ValidationError } from '../core/validate.ts';
import { generateSyntheticWorld } from '../data/synthetic.ts';
import { SyntheticExactSimulator } from '../simulators/synthetic-exact.ts';
import { benchIn } from './support/bench-in-process.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-trust-'));
// A cache of this file's own: the second RL run below must load the policy the first pre-trained.
process.env.PRORL_CACHE_DIR = path.join(work, 'cache');
after(() => rmSync(work, { recursive: true, force: true }));
before(async () => {
  await ensureBackend();
});

const WORLD = { numItems: 80, numUsers: 120 };

function suiteOf(agents: { agent: string; config?: Record<string, unknown> }[], extra: Record<string, unknown> = {}) {
  return {
    suite: checkSuite(
      {
        name: 'trust',
        description: 'trustworthy-runs test',
        seeds: [1],
        budget: 'b',
        budgets: { b: { episodes: 16, ks: [1] } },
        envs: [{ id: 'synthetic-v0', world: WORLD }],
        agents,
        ...extra,
      },
      'trust suite',
    ),
    source: path.join(work, 'trust.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// 1. The recorded config and hash hold every default that ran
// ---------------------------------------------------------------------------------------------

test('every built-in agent runs with exactly the config its run records (defaults filled, nested sections too)', async () => {
  const names = listAgents().map((a) => a.name);
  const plan = await planRuns(suiteOf(names.map((agent) => ({ agent }))));
  assert.equal(plan.runs.length, names.length);
  const { items, sequences } = generateSyntheticWorld(WORLD).dataset;
  for (const run of plan.runs) {
    const factory = await resolveAgent(run.agentModule);
    assert.ok(factory.configSchema, `${run.label} declares a config schema`);
    const recorded = run.config.agentConfig;
    // Re-validating the recorded config changes nothing: it is complete.
    assert.deepEqual(validate(factory.configSchema!, recorded, run.label), recorded, `${run.label}: the recorded config is complete`);
    for (const given of [recorded, {}]) {
      const agent = (await factory.create(given, { numItems: 80, seed: 1, items, trainSequences: sequences.train })) as Agent;
      assert.ok(agent.config !== undefined, `${run.label} exposes the config it runs with`);
      assert.equal(
        canonicalJson(agent.config),
        canonicalJson(recorded),
        `${run.label}: create(${given === recorded ? 'recorded' : '{}'}) runs with the recorded config`,
      );
      agent.dispose?.();
    }
  }
  const prorl = plan.runs.find((r) => r.label === 'prorl')!.config.agentConfig as Record<string, Record<string, unknown>>;
  // The suite's {} config of the example now records the rl section, lr, group size, epochs, policy size.
  assert.equal(prorl.rl.lr, 1e-3);
  assert.equal(prorl.rl.groupSize, 16);
  assert.equal(prorl.rl.epochs, 5);
  assert.equal(prorl.policy.dim, 64);
  assert.equal(prorl.pretrain.epochs, 10);
});

test('changing any default, or any nested option, changes the run hash', async () => {
  const base = (await planRuns(suiteOf([{ agent: 'prorl' }]))).runs[0];
  const nested = (await planRuns(suiteOf([{ agent: 'prorl', config: { rl: { groupSize: 8 } } }]))).runs[0];
  assert.notEqual(nested.configHash, base.configHash, 'a nested option');
  const lr = RlConfigSchema.properties.lr as { default: number };
  const saved = lr.default;
  try {
    lr.default = 5e-4;
    const changed = (await planRuns(suiteOf([{ agent: 'prorl' }]))).runs[0];
    assert.equal((changed.config.agentConfig as { rl: { lr: number } }).rl.lr, 5e-4);
    assert.notEqual(changed.configHash, base.configHash, 'a changed schema default');
  } finally {
    lr.default = saved;
  }
  assert.equal((await planRuns(suiteOf([{ agent: 'prorl' }]))).runs[0].configHash, base.configHash, 'restored');
  // World options are recorded complete, and a nested world option counts too.
  const w1 = (await planRuns(suiteOf([{ agent: 'random' }]))).runs[0];
  assert.equal(w1.config.world.drift, 0.35);
  const w2 = (await planRuns(suiteOf([{ agent: 'random' }], { envs: [{ id: 'synthetic-v0', world: { ...WORLD, drift: 0.3 } }] }))).runs[0];
  assert.notEqual(w1.configHash, w2.configHash);
  // Keys in another order are the same config (canonical JSON, RFC 8785).
  assert.equal(stableHash({ a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } }), stableHash({ b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }));
  assert.notEqual(stableHash({ a: { b: 1 } }), stableHash({ a: { b: 3 } }));
});

test('the world cache key covers nested options: a world built with other nested options is built anew', async () => {
  let builds = 0;
  const inner = generateSyntheticWorld(WORLD);
  register({
    id: 'trust-nested-v0',
    description: 'test: nested world options',
    worldOptions: Type.Object(
      { train: Type.Object({ maxEpochs: Type.Integer({ default: 40 }), lr: Type.Number({ default: 1e-3 }) }, { default: {}, additionalProperties: false }) },
      { additionalProperties: false, default: {} },
    ),
    async build() {
      builds++;
      const sim = new SyntheticExactSimulator(inner);
      return { dataset: inner.dataset, simulator: sim, evaluator: sim } satisfies ProactiveWorld;
    },
  });
  clearWorldCache();
  const a = await buildWorld('trust-nested-v0', { train: { maxEpochs: 1 } }, () => {});
  const b = await buildWorld('trust-nested-v0', { train: { maxEpochs: 3 } }, () => {});
  assert.equal(builds, 2, 'maxEpochs 1 and 3 are two worlds');
  assert.notEqual(a, b);
  await buildWorld('trust-nested-v0', { train: { lr: 1e-3, maxEpochs: 3 } }, () => {});
  assert.equal(builds, 2, 'the same options (defaults spelled out, keys in another order) are the memoised world');
});

// ---------------------------------------------------------------------------------------------
// 2. Results do not depend on the wall clock
// ---------------------------------------------------------------------------------------------

test('the pre-training cache key covers the code: source folders that differ in any file get other fingerprints', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'prorec-fingerprint-'));
  try {
    const folder = (name: string, files: Record<string, string>) => {
      const dir = path.join(root, name);
      mkdirSync(dir);
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
      return new URL(`file://${dir}/`);
    };
    const a = sourceFingerprint([folder('a', { 'x.ts': 'export const x = 1;', 'y.ts': 'y' })]);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(sourceFingerprint([folder('same', { 'y.ts': 'y', 'x.ts': 'export const x = 1;', 'x.d.ts': 'declarations do not count' })]), a);
    assert.notEqual(sourceFingerprint([folder('edited', { 'x.ts': 'export const x = 2;', 'y.ts': 'y' })]), a);
    assert.notEqual(sourceFingerprint([folder('renamed', { 'z.ts': 'export const x = 1;', 'y.ts': 'y' })]), a);
    assert.notEqual(sourceFingerprint([folder('added', { 'x.ts': 'export const x = 1;', 'y.ts': 'y', 'w.js': '' })]), a);
    assert.notEqual(sourceFingerprint([folder('C source', { 'x.ts': 'export const x = 1;', 'y.ts': 'y', 'k.c': 'int k;' })]), a);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  // The pre-training code's fingerprint is that of the agents (with the policy's folder), compute
  // (with its kernels, the native addon's C source and the neural toolkit) and core folders.
  assert.deepEqual(PRETRAIN_CODE_DIRS, ['./', './policy/', '../compute/', '../compute/kernels/', '../compute/native/', '../compute/nn/', '../core/']);
  assert.equal(
    pretrainCode(),
    sourceFingerprint(
      ['../agents/', '../agents/policy/', '../compute/', '../compute/kernels/', '../compute/native/', '../compute/nn/', '../core/'].map(
        (d) => new URL(d, import.meta.url),
      ),
    ),
  );
});

test('the pre-trained policy cache keys on the backend numerics: wasm, wasm with native products and cpu get different files', async () => {
  await ensureBackend();
  const net = { numItems: 10, config: { dim: 8 } } as unknown as PolicyNetwork;
  const dataset = { meta: { hash: 'd' } } as unknown as Dataset;
  const config = validate(SupervisedConfigSchema, {}, 'supervised config');
  const ctx = { seed: 1, maxLength: 5 };
  const saved = tf.getBackend();
  const savedNative = activeNativeBlas(); // under PRORL_BLAS=native
  if (savedNative) unregisterNativeBlasKernels();
  const files: Record<string, string> = {};
  try {
    assert.ok(await tf.setBackend('wasm'));
    assert.equal(numericsId(), `wasm, tfjs ${tf.version.tfjs}`);
    files.wasm = pretrainCacheFile(net, dataset, config, ctx).file;
    assert.equal(pretrainCacheFile(net, dataset, config, ctx).file, files.wasm, 'the key is a function of its inputs');
    // A stand-in for the addon (no product is computed here).
    registerNativeBlasKernels({ config: () => 'OpenBLAS (stand-in)' } as unknown as NativeBlas);
    try {
      assert.equal(numericsId(), `wasm+native-blas(OpenBLAS (stand-in)), tfjs ${tf.version.tfjs}`);
      files.native = pretrainCacheFile(net, dataset, config, ctx).file;
    } finally {
      unregisterNativeBlasKernels();
    }
    assert.equal(numericsId(), `wasm, tfjs ${tf.version.tfjs}`);
    assert.ok(await tf.setBackend('cpu'));
    assert.equal(numericsId(), `cpu, tfjs ${tf.version.tfjs}`);
    files.cpu = pretrainCacheFile(net, dataset, config, ctx).file;
  } finally {
    await tf.setBackend(saved);
    if (savedNative) registerNativeBlasKernels(savedNative);
  }
  assert.equal(new Set(Object.values(files)).size, 3, JSON.stringify(files));
});

test('an RL run is a function of its config: two runs give identical result files (timings aside), and no time is in the curves', async () => {
  const config = {
    rl: { groupSize: 4, casesPerBatch: 4, casesPerEpoch: 8, epochs: 1, validCases: 8, gradChunks: 2 },
    pretrain: { epochs: 1, maxTrainCases: 64, maxValidCases: 32, batchSize: 32 },
    policy: { dim: 16 },
  };
  const plan = await planRuns(suiteOf([{ agent: 'prorl', config }], { budgets: { b: { episodes: 12, ks: [1, 2] } } }));
  const run = plan.runs[0];
  const factory = await resolveAgent(run.agentModule);
  const go = () =>
    runOne({
      config: run.config,
      label: run.label,
      suite: 'trust',
      budget: 'b',
      factory,
      backend: { name: 'test', reason: 'test' },
      code: codeVersion(),
      showProgress: false,
    });
  const [r1, r2] = [await go(), await go()];
  assert.ok(isDeepStrictEqual(withoutTimings(r1), withoutTimings(r2)), 'identical results (the second from the cached pre-trained policy)');
  assert.equal(readdirSync(path.join(work, 'cache', 'policies')).length, 1, 'the pre-trained policy was cached once and reused');
  assert.ok(r1.timings.train.supervised > 0 && r2.timings.train.supervised === undefined, 'the second run did not pre-train');
  const keys = new Set(Object.values(r1.curves).flatMap((pts) => pts.flatMap((p) => Object.keys(p))));
  assert.ok(keys.has('return') && keys.has('length'), 'curves logged');
  for (const k of keys) assert.doesNotMatch(k, /ms$|seconds|time/i, `curve key ${k} is not a wall-clock time`);
  assert.ok(r1.timings.train.rollout > 0 && r1.timings.train.update > 0, 'phase times are in timings.train');
  assert.ok(!('trainSeconds' in run.config), 'no wall-clock budget in the run config');
});

// ---------------------------------------------------------------------------------------------
// 3. A row's randomness does not depend on the other rows
// ---------------------------------------------------------------------------------------------

/** Plays `items[k]` then STOP in each row; returns each row's (proposed, accepted, rewards). */
function play(env: Awaited<ReturnType<typeof makeVec>>, caseIndices: number[], seed: number, items: (k: number, t: number) => number | null) {
  env.reset({ seed, options: { caseIndices } });
  const out = caseIndices.map(() => ({ accepted: '', rewards: [] as number[] }));
  for (let t = 0; t < env.config.maxLength + 1 && env.active().includes(1); t++) {
    const actions = Int32Array.from(caseIndices, (_, k) => items(k, t) ?? env.actionSpace.stop);
    const r = env.step(actions);
    r.infos.forEach((info, k) => {
      if (!info.active || info.stop) return;
      out[k].accepted += info.accepted ? '1' : '0';
      out[k].rewards.push(r.rewards[k]);
    });
  }
  return out;
}

test('acceptance draws are keyed by (seed, case, step): case 3 seed 7 plays the same with or without a second row', async () => {
  const one = await makeVec('synthetic-v0', 1, { world: WORLD, accept: 'sample' });
  const two = await makeVec('synthetic-v0', 2, { world: WORLD, accept: 'sample' });
  const fixed = [5, 9, 13, 17, 21, 25, 29, 33, 37, 41];
  const cases = one.cases();
  const seq = fixed.filter((i) => i !== cases[3].target);
  const alone = play(one, [3], 7, (_k, t) => seq[t] ?? null);
  const withOther = play(two, [3, 4], 7, (k, t) =>
    k === 0 ? (seq[t] ?? null) : ([2, 4, 6, 8, 10, 12, 14, 16, 18, 20].filter((i) => i !== cases[4].target)[t] ?? null),
  );
  const stopped = play(two, [3, 4], 7, (k, t) => (k === 0 ? (seq[t] ?? null) : null));
  assert.equal(withOther[0].accepted, alone[0].accepted);
  assert.equal(stopped[0].accepted, alone[0].accepted);
  assert.deepEqual(withOther[0].rewards, alone[0].rewards);
  assert.ok(alone[0].accepted.includes('0') && alone[0].accepted.includes('1'), `a mix of acceptances (${alone[0].accepted})`);
  one.close();
  two.close();
});

test("property: an episode (acceptances and the agent's sampling) is the same alone, in any batch, in any order", async () => {
  const random = await resolveAgent('random');
  const agent = (await random.create({}, { numItems: 80, seed: 1 })) as Agent;
  const pool = (await makeVec('synthetic-v0', 1, { world: WORLD, accept: 'sample' })).cases().length;
  const runBatch = async (caseIndices: number[]) => {
    const env = await makeVec('synthetic-v0', caseIndices.length, { world: WORLD, accept: 'sample' });
    let { observations } = env.reset({ seed: 11, options: { caseIndices } });
    const paths = caseIndices.map(() => [] as string[]);
    for (let t = 0; env.active().includes(1); t++) {
      const actions = agent.act(observations, actContext(env, 99, t));
      const r = env.step(actions);
      r.infos.forEach((info, k) => info.active && !info.stop && paths[k].push(`${info.action}:${info.accepted ? 1 : 0}`));
      observations = r.observations;
    }
    env.close();
    return paths.map((p) => p.join(' '));
  };
  const alone = new Map<number, string>();
  const soloOf = async (c: number) => {
    if (!alone.has(c)) alone.set(c, (await runBatch([c]))[0]);
    return alone.get(c)!;
  };
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: Math.min(pool, 40) - 1 }), { minLength: 1, maxLength: 12 }), async (cases) => {
      const batch = await runBatch(cases);
      for (let k = 0; k < cases.length; k++) assert.equal(batch[k], await soloOf(cases[k]), `case ${cases[k]} at row ${k} of ${cases.length}`);
    }),
    { numRuns: 12, seed: 5 },
  );
  // Copies of one case in a batch (a group of rollouts) are distinct replicas, each reproducible.
  const group = await runBatch([2, 2, 2, 2]);
  assert.equal(group[0], await soloOf(2), 'replica 0 is the case alone');
  assert.ok(new Set(group).size > 1, 'replicas draw differently');
  assert.deepEqual(await runBatch([2, 2, 2, 2]), group);
});

test("the harness: a case's result does not depend on batchSize or on how many cases are evaluated", async () => {
  const sampler = path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts');
  const suite = (batchSize: number, episodes: number) =>
    suiteOf([{ agent: sampler }], {
      envs: [{ id: 'synthetic-v0', world: WORLD, config: { accept: 'sample' } }],
      budgets: { b: { episodes, batchSize, ks: [1, 3] } },
    });
  const factory = await resolveAgent(sampler);
  const resultOf = async (batchSize: number, episodes: number) => {
    const run = (await planRuns(suite(batchSize, episodes))).runs[0];
    return runOne({
      config: run.config,
      label: run.label,
      suite: 'trust',
      budget: 'b',
      factory,
      backend: { name: 'test', reason: 'test' },
      code: codeVersion(),
      showProgress: false,
    });
  };
  const big = await resultOf(64, 20);
  const small = await resultOf(3, 20);
  assert.deepEqual(small.cases, big.cases, 'batch size 3 and 64 give the same cases');
  assert.deepEqual(small.atK, big.atK);
  const fewer = await resultOf(64, 8);
  const byCase = new Map(big.cases.map((c) => [c.caseIndex, c]));
  for (const c of fewer.cases) if (byCase.has(c.caseIndex)) assert.deepEqual(c, byCase.get(c.caseIndex), `case ${c.caseIndex}`);
});

// ---------------------------------------------------------------------------------------------
// 4. Episode ends in the vector env
// ---------------------------------------------------------------------------------------------

test('a finished row keeps the flags it ended with (truncated stays truncated after a STOP)', async () => {
  const env = await makeVec('synthetic-v0', 1, { world: WORLD, maxLength: 1 });
  const { observations } = env.reset({ seed: 1 });
  const item = observations[0].actionMask.indexOf(1);
  const a = env.step([item]);
  assert.deepEqual([a.terminated[0], a.truncated[0]], [0, 1]);
  const b = env.step([env.actionSpace.stop]);
  assert.deepEqual([b.terminated[0], b.truncated[0], b.rewards[0]], [0, 1, 0]);
  assert.equal(b.infos[0].active, false);
  const c = await makeVec('synthetic-v0', 1, { world: WORLD });
  c.reset({ seed: 1 });
  c.step([c.actionSpace.stop]);
  const d = c.step([item]);
  assert.deepEqual([d.terminated[0], d.truncated[0]], [1, 0], 'terminated stays terminated');
  env.close();
  c.close();
});

// ---------------------------------------------------------------------------------------------
// 5. Episode summaries equal the rewards paid
// ---------------------------------------------------------------------------------------------

test('penalize mode: the episode return equals the sum of the step rewards (penalties included)', async () => {
  const env = (await make('synthetic-v0', { world: WORLD, invalidAction: 'penalize', maxLength: 2 })) as ProactiveRecEnv;
  const { observation } = env.reset({ seed: 3 });
  const r1 = env.step(observation.target);
  assert.equal(r1.reward, -1);
  assert.equal(r1.info.invalid, true);
  const item = r1.observation.actionMask.indexOf(1);
  const r2 = env.step(item);
  const episode = r2.info.episode!;
  assert.ok(Math.abs(episode.return - (r1.reward + r2.reward)) < 1e-12, `return ${episode.return} = ${r1.reward} + ${r2.reward}`);
  assert.equal(episode.invalid, 1);
  assert.equal(episode.length, 1);
  env.close();
});

test('property: in every mode the episode summary equals what step() paid', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        accept: fc.constantFrom('always', 'sample'),
        allowRepeats: fc.boolean(),
        maskHistory: fc.boolean(),
        maxLength: fc.integer({ min: 1, max: 6 }),
      }),
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.integer({ min: -1, max: 90 }), { minLength: 1, maxLength: 12 }),
      async (mode, seed, script) => {
        const env = (await make('synthetic-v0', { world: WORLD, invalidAction: 'penalize', ...mode } as never)) as ProactiveRecEnv;
        const { observation } = env.reset({ seed });
        const N = env.actionSpace.stop;
        let sum = 0;
        let invalid = 0;
        let episode = null;
        for (let t = 0; !episode; t++) {
          // -1: the target; past the script: STOP; an id ≥ N would be out of range (invalid too).
          const a = t >= script.length ? N : script[t] === -1 ? observation.target : script[t] % (N + 2);
          const r = env.step(a);
          sum += r.reward;
          if (r.info.invalid) invalid++;
          episode = r.info.episode;
        }
        assert.ok(Math.abs(episode.return - sum) < 1e-9, `return ${episode.return}, rewards paid ${sum}`);
        assert.equal(episode.invalid, invalid);
        env.close();
      },
    ),
    { numRuns: 40, seed: 3 },
  );
});

test('the harness: an agent that recommends the target twice then stops gets return −2 and an invalid rate of 1', async () => {
  const file = path.join(work, 'target-twice.ts');
  writeFileSync(
    file,
    `export default { name: 'target-twice', description: 'test', create() { return { name: 'target-twice', act(observations, ctx) { return Int32Array.from(observations, (o) => (o.step < 2 ? o.target : ctx.env.actionSpace.stop)); } }; } };\n`,
  );
  const plan = await planRuns(suiteOf([{ agent: file }], { envs: [{ id: 'synthetic-v0', world: WORLD, config: { invalidAction: 'penalize' } }] }));
  const run = plan.runs[0];
  const r = await runOne({
    config: run.config,
    label: run.label,
    suite: 'trust',
    budget: 'b',
    factory: await resolveAgent(file),
    backend: { name: 'test', reason: 'test' },
    code: codeVersion(),
    showProgress: false,
  });
  assert.equal(r.metrics.return, -2);
  assert.equal(r.metrics.length, 0);
  assert.equal(r.metrics.invalidRate, 1);
  assert.ok(r.cases.every((c) => c.return === -2 && c.invalid === 2 && c.length === 0));
});

// ---------------------------------------------------------------------------------------------
// 6. One tie rule for every rank: the mid-rank
// ---------------------------------------------------------------------------------------------

test('ties: every rank the project computes gives an all-equal ranking the mid-rank (N + 1)/2, never a hit', async () => {
  const N = 100;
  const flat = new Float32Array(N).fill(0.25);
  assert.equal(rowTargetStats(flat, 0, N, 37).rank, 50.5);
  assert.ok(Math.abs(rowTargetStats(flat, 0, N, 37).logProb - Math.log(1 / N)) < 1e-9);
  // Above / tied / below: 1 + above + tied/2.
  const mixed = Float32Array.from({ length: 10 }, (_, i) => (i < 3 ? 2 : i < 7 ? 1 : 0));
  assert.equal(rowTargetStats(mixed, 0, 10, 4).rank, 1 + 3 + 3 / 2);
  // Popularity: 100 equal counts; the target is not ranked by its id (it used to get 38).
  const ranks = popularityRanks(new Float64Array(N).fill(7), Int32Array.from([37, 0, 99]));
  assert.deepEqual(Array.from(ranks), [50.5, 50.5, 50.5]);
  assert.deepEqual(Array.from(popularityRanks(Float64Array.from([5, 3, 3, 1]), Int32Array.from([0, 1, 2, 3]))), [1, 2.5, 2.5, 4]);
  const m = metricsFromRanks(ranks);
  assert.equal(m.hr10, 0, 'HR@10 counts no tie as a hit');
  assert.equal(m.ndcg10, 0);
  // The learned simulators' tensor path (mid-rank by sign sums) agrees, on a model that scores all items alike.
  const { createModel } = await import('../simulators/model.ts');
  const { TfSimulator } = await import('../simulators/batch.ts');
  const { resolveModelConfig } = await import('../simulators/config.ts');
  for (const kind of ['sasrec', 'gru4rec'] as const) {
    const config = resolveModelConfig(kind, kind === 'sasrec' ? { hidden: 8, feedForward: 8, maxLen: 12 } : { embedding: 8, hidden: 8, maxLen: 12 });
    const model = createModel(config, N, 1);
    const zeros = new Map([...model.params].map(([name, v]) => [name, new Float32Array(v.size)]));
    const sim = new TfSimulator(createModel(config, N, 1, zeros), 'flat');
    const batch = sim.open([
      [1, 2, 3],
      [4, 5],
    ]);
    const stats = batch.targetStats(Int32Array.from([37, 0]));
    assert.deepEqual(Array.from(stats.rank), [50.5, 50.5], `${kind}: tensor mid-rank`);
    const adv = batch.advance(Int32Array.from([6, 7]), Int32Array.from([37, 0]));
    assert.deepEqual(Array.from(adv.rank), [50.5, 50.5]);
    batch.dispose();
    sim.dispose();
    model.dispose();
  }
  // The synthetic simulator's JS path on a real world: ranks agree with a direct count.
  const world = generateSyntheticWorld(WORLD);
  const sim = new SyntheticExactSimulator(world);
  const b = sim.open([[1, 2, 3]]);
  const scores = b.scores();
  const t = 11;
  const above = Array.from(scores).filter((v) => v > scores[t]).length;
  const tied = Array.from(scores).filter((v) => v === scores[t]).length - 1;
  assert.equal(b.targetStats(Int32Array.from([t])).rank[0], 1 + above + tied / 2);
  // The specificity percentile: an empty path is blind (every item ties), 0.5.
  assert.equal(
    pathSpecificity(sim, [{ history: world.dataset.cases.test[0].history, target: world.dataset.cases.test[0].target, path: [] }])[0].percentile,
    0.5,
  );
});

// ---------------------------------------------------------------------------------------------
// 7. Smaller faults of the same family
// ---------------------------------------------------------------------------------------------

test('one seed: no interval, marked n = 1', () => {
  const a = aggregate([0.42], 'x');
  assert.equal(a.ci95, null);
  assert.equal(formatAggregate(a, 3), '0.420 (n = 1)');
  assert.notEqual(formatAggregate(aggregate([0.4, 0.44], 'x'), 3), '0.420 (n = 1)');
});

const bench = (args: string[], cwd = work) => benchIn(cwd, args);

const SMALL = ['--world', JSON.stringify(WORLD), '--episodes', '12', '--seeds', '1', '--progress', 'false'];

test('the leaderboard is rebuilt from every result in the folder, with a warning when rows differ in seeds or cases', async () => {
  const out = path.join(work, 'lb');
  assert.equal((await bench(['--agent', 'random', '--out', out, ...SMALL])).code, 0);
  const second = await bench(['--agent', 'popularity', '--out', out, ...SMALL.slice(0, -4), '--seeds', '2', '--progress', 'false']);
  assert.equal(second.code, 0, second.err);
  const md = readFileSync(path.join(out, 'leaderboard.md'), 'utf8');
  // A row's label may carry its flags (`random ⚠ always 10`).
  assert.match(md, /\| random( ⚠[^|]*)? \|/, 'the earlier agent is still on the leaderboard');
  assert.match(md, /\| popularity( ⚠[^|]*)? \|/);
  assert.match(md, /Warning:\*\* rows differ in seeds/);
  assert.match(second.out, /warning \(synthetic-v0\): rows differ in seeds/);
  assert.match(second.err, /leaderboard of 3 result files/);
  const lb = buildLeaderboard(readResults(out));
  assert.equal(lb.envs[0].entries.length, 2);
  assert.match(leaderboardMarkdown(lb), /\(n = 1\)/);
});

test('a failed run: no summary naming an unwritten leaderboard; the manifest records the failure', async () => {
  const file = path.join(work, 'fails.ts');
  writeFileSync(file, `export default { name: 'fails', description: 'test', create() { return { name: 'fails', act() { throw new Error('boom'); } }; } };\n`);
  const out = path.join(work, 'failed');
  const r = await bench(['--agent', './fails.ts', '--out', out, ...SMALL]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.err, /leaderboard\.md/);
  assert.match(r.err, /no leaderboard written/);
  const manifests = readdirSync(path.join(out, 'manifests'));
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifests', manifests[0]), 'utf8'));
  assert.equal(manifest.runs[0].status, 'failed');
  assert.match(manifest.runs[0].error, /boom/);
});

test('options given on the command line are named in their errors (not the suite file); --data-dir reaches the real environments', async () => {
  const env = await bench(['--agent', 'random', '--env-config', '{"maxLength":0}', ...SMALL]);
  assert.equal(env.code, 2);
  assert.match(env.err, /^bench: --env-config: invalid\n\s+- maxLength/);
  const world = await bench(['--agent', 'random', '--world', '{"numItems":-5}', '--progress', 'false']);
  assert.equal(world.code, 2);
  assert.match(world.err, /^bench: --world \(for synthetic-v0\): invalid\n\s+- numItems/);
  const agent = await bench(['--agent', 'random', '--agent-config', '{"pathLength":-1}', ...SMALL]);
  assert.equal(agent.code, 2);
  assert.match(agent.err, /^bench: --agent-config for agent random: invalid\n\s+- pathLength/);
  const noData = await bench(['--agent', 'random', '--data-dir', work, ...SMALL]);
  assert.equal(noData.code, 2);
  assert.match(noData.err, /--data-dir: none of the environments \(synthetic-v0\) reads data files/);
  await assert.rejects(
    planRuns(suiteOf([{ agent: 'random' }], { envs: [{ id: 'ml-1m-v0' }] }), { dataDir: 'some/folder', cwd: work }),
    /--data-dir some\/folder: no such folder/,
    'a data folder that is not there is bad input before any run',
  );
  mkdirSync(path.join(work, 'some/folder'), { recursive: true });
  const planned = await planRuns(suiteOf([{ agent: 'random' }], { envs: [{ id: 'ml-1m-v0' }] }), { dataDir: 'some/folder', cwd: work });
  const w = planned.runs[0].config.world as Record<string, unknown>;
  assert.equal(w.dataDir, path.join(work, 'some/folder'));
  assert.equal(w.rewardModel, 'sasrec');
  assert.equal(w.evaluatorModel, 'gru4rec', 'the dependent default is resolved and recorded');
  assert.equal((w.rewardTrain as Record<string, unknown>).maxEpochs, 40, "the simulators' training config is recorded complete");
  assert.equal((planned.runs[0].config.envConfig as { weights: { ctr: number } }).weights.ctr, 1);
});

test('policy checkpoints are validated on read, naming the file and the field', async () => {
  const file = path.join(work, 'bad-policy.json');
  writeFileSync(file, JSON.stringify({ format: 'prorec-policy', version: 1, agent: 'x', numItems: 'many', policy: {}, params: {} }));
  await assert.rejects(
    readPolicyCheckpoint(file),
    (e: unknown) => e instanceof ValidationError && /bad-policy\.json/.test(e.message) && /numItems/.test(e.message),
  );
  writeFileSync(file, '{ not json');
  await assert.rejects(readPolicyCheckpoint(file), (e: unknown) => e instanceof ValidationError && /bad-policy\.json/.test(e.message));
});

test("checkEnv counts only the environment's own InvalidActionError as a rejection", async () => {
  const env = (await make('synthetic-v0', { world: WORLD })) as ProactiveRecEnv;
  checkEnv(env, { seeds: [0, 1] });
  // An environment whose step has a bug (a TypeError) must fail the check, not pass it.
  const buggy = Object.create(env) as ProactiveRecEnv;
  buggy.step = (action: number) => {
    if (!Number.isInteger(action) || action < 0 || action > env.actionSpace.stop) throw new TypeError('undefined is not a function');
    return env.step(action);
  };
  assert.throws(() => checkEnv(buggy, { seeds: [0, 1] }), /threw TypeError: undefined is not a function instead of an InvalidActionError/);
  env.reset({ seed: 0 });
  assert.throws(() => env.step(-1), InvalidActionError);
  env.close();
});

test('a corrupt simulator checkpoint names a command that exists', async () => {
  const { loadOrTrainSimulator, checkpointPath } = await import('../simulators/index.ts');
  const dataset = generateSyntheticWorld(WORLD).dataset;
  const spec = { dataset, model: 'gru4rec' as const, seed: 1, cacheDir: path.join(work, 'cache') };
  const file = checkpointPath(spec);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'garbage');
  await assert.rejects(loadOrTrainSimulator({ ...spec, log: () => {}, workers: 0 }), /npm run sim -- train --env synthetic --model gru4rec --seed 1 --retrain/);
  const cli = readFileSync(path.join(ROOT, 'simulators/cli.ts'), 'utf8');
  assert.match(cli, /option\('retrain'/, 'the sim CLI has --retrain');
});
