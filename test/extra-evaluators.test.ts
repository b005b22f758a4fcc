/**
 * Extra evaluator simulators (world option extraEvaluators, envs/extra-evaluators.ts) on a small
 * synthetic-learned-v0: an empty list changes nothing (same resolved world, same run hash, same
 * result); one extra evaluator gives finite evalx metrics, and one with the reward model's spec
 * gives back the reward model's numbers exactly (the replay computes what step() computes); the
 * replay of the exact evaluator gives back the environment's evaluator numbers exactly under
 * sampled acceptance and satiation; the leaderboard names the extra evaluators in its separation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Agent } from '../agents/agent.ts';
import { ensureBackend } from '../agents/nn.ts';
import { resolveAgent } from '../agents/registry.ts';
import { codeVersion } from '../benchmarks/cli.ts';
import { hashRunConfig, rollOut, runOne } from '../benchmarks/evaluate.ts';
import { checkSuite, planRuns } from '../benchmarks/suite.ts';
import { ConfigError } from '../core/errors.ts';
import { buildWorld, makeVec, resolveWorldOptions } from '../envs/index.ts';
import { rescoreEpisodes } from '../envs/extra-evaluators.ts';
import { buildLeaderboard, leaderboardMarkdown, leaderboardTerminal, LeaderboardSchema } from '../results/leaderboard.ts';
import { validate } from '../core/validate.ts';
import { flatMetrics, metricInfo } from '../results/metrics.ts';
import { withoutTimings } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'prorec-extra-eval-'));
after(() => rmSync(work, { recursive: true, force: true }));
before(async () => {
  await ensureBackend();
});

const ENV = 'synthetic-learned-v0';
const REWARD_CONFIG = { hidden: 16, blocks: 1, heads: 2, feedForward: 32, maxLen: 20 };
/** A small world whose reward model trains in a second or two. */
const WORLD = {
  numItems: 90,
  numUsers: 160,
  rewardConfig: REWARD_CONFIG,
  simulatorTrain: { maxEpochs: 1 },
  cacheDir: path.join(work, 'cache'),
  workers: 0,
};
const GRU = { model: 'gru4rec', seed: 7, config: { embedding: 16, hidden: 16, maxLen: 20 } };
/** The reward model's spec as an extra evaluator: it must give back the reward model's numbers. */
const AS_REWARD = { model: 'sasrec', seed: 1, config: REWARD_CONFIG };
const SAMPLER = path.join(ROOT, 'benchmarks/fixtures/sampler-agent.ts');

async function run(world: Record<string, unknown>, agent = SAMPLER, config: Record<string, unknown> = { accept: 'sample' }): Promise<ResultFile> {
  const loaded = {
    suite: checkSuite(
      {
        name: 'extra',
        description: 'extra evaluators test',
        seeds: [1],
        budget: 'b',
        budgets: { b: { episodes: 24, ks: [] } },
        envs: [{ id: ENV, world, config }],
        agents: [{ agent }],
      },
      'extra suite',
    ),
    source: path.join(work, 'extra.json'),
  };
  const planned = (await planRuns(loaded)).runs[0];
  return runOne({
    config: planned.config,
    label: planned.label,
    suite: 'extra',
    budget: 'b',
    factory: await resolveAgent(agent),
    backend: { name: 'test', reason: 'test' },
    code: codeVersion(),
    showProgress: false,
  });
}

test('an empty extraEvaluators list resolves to the world without it (same run hash); entries are completed, idempotently; ids are unique', () => {
  const plain = resolveWorldOptions(ENV, WORLD);
  assert.deepEqual(resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [] }), plain);
  assert.equal('extraEvaluators' in plain, false);
  const one = resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [GRU] });
  const [x] = one.extraEvaluators as { id: string; model: string; seed: number; config: Record<string, unknown>; train: Record<string, unknown> }[];
  assert.equal(x.id, 'gru4rec-seed7');
  assert.deepEqual(x.config, { embedding: 16, hidden: 16, maxLen: 20, dropout: 0.3 });
  assert.equal(x.train.maxEpochs, 1, 'simulatorTrain folds into each extra evaluator');
  assert.deepEqual(resolveWorldOptions(ENV, one), one, 'resolving the recorded options again changes nothing');
  assert.throws(
    () => resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [GRU, GRU] }),
    (e: Error) => e instanceof ConfigError && /id 'gru4rec-seed7' is taken/.test(e.message),
  );
  assert.doesNotThrow(() => resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [GRU, { ...GRU, id: 'gru-b', config: { hidden: 24 } }] }));
  assert.throws(() => resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [{ model: 'gru4rec' }] }), /seed/);
  assert.throws(() => resolveWorldOptions(ENV, { ...WORLD, extraEvaluators: [{ ...GRU, id: 'a.b' }] }), /pattern/);
  assert.ok(resolveWorldOptions('ml-1m-v0', { extraEvaluators: [GRU] }).extraEvaluators, 'the real environments take the option');
});

test('extra evaluators: [] gives the same result; one with the reward spec gives the reward numbers exactly; the other finite evalx metrics', async () => {
  const plain = await run(WORLD);
  const empty = await run({ ...WORLD, extraEvaluators: [] });
  assert.equal(empty.run.configHash, plain.run.configHash);
  assert.deepEqual(withoutTimings(empty), withoutTimings(plain));
  assert.equal('extraEvaluatorMetrics' in plain, false);

  const extra = await run({ ...WORLD, extraEvaluators: [AS_REWARD, GRU] });
  assert.notEqual(extra.run.configHash, plain.run.configHash);
  // Nothing else moves: the metrics, the evaluator's metrics and every case are bit-identical.
  assert.deepEqual(extra.metrics, plain.metrics);
  assert.deepEqual(extra.evaluatorMetrics, plain.evaluatorMetrics);
  assert.deepEqual(extra.cases, plain.cases);
  assert.deepEqual(
    extra.extraEvaluatorMetrics?.map((x) => x.id),
    ['sasrec-seed1', 'gru4rec-seed7'],
  );
  const [asReward, gru] = extra.extraEvaluatorMetrics!;
  const m = plain.metrics;
  assert.deepEqual(asReward.metrics, {
    ioi: m.ioi,
    specificIoi: m.specificIoi,
    genericIoi: m.genericIoi,
    targetPercentile: m.targetPercentile,
    ior: m.ior,
    ctr: m.ctr,
    success: m.success,
  });
  assert.ok(plain.metrics.length > 0 && plain.cases.some((c) => c.ioi !== 0), 'the paths are not empty');
  for (const v of Object.values(gru.metrics)) assert.ok(Number.isFinite(v));
  assert.ok(gru.metrics.targetPercentile >= 0 && gru.metrics.targetPercentile <= 1);
  assert.notEqual(gru.metrics.ioi, m.ioi, 'another simulator, other numbers');

  const flat = flatMetrics(extra);
  assert.equal(flat['evalx.gru4rec-seed7.specificIoi'], gru.metrics.specificIoi);
  assert.equal(flat['evalx.sasrec-seed1.targetPercentile'], m.targetPercentile);
  assert.equal(flat['eval.specificIoi'], plain.evaluatorMetrics!.specificIoi);
  assert.deepEqual(metricInfo('evalx.gru4rec-seed7.specificIoi'), {
    ...metricInfo('specificIoi'),
    label: `${metricInfo('specificIoi').label} (extra evaluator gru4rec-seed7)`,
  });
  assert.match(metricInfo('evalx.gru4rec-seed7.ioi@5.max').label, /@5 \(max over candidates\) \(extra evaluator gru4rec-seed7\)$/);

  // The leaderboard: the extra metrics aggregate, and separation names every simulator that scored both rows.
  const random = await run({ ...WORLD, extraEvaluators: [AS_REWARD, GRU] }, 'random');
  const lb = buildLeaderboard([extra, random]);
  validate(LeaderboardSchema, lb, 'leaderboard');
  const env = lb.envs[0];
  assert.ok(env.entries.every((e) => e.metrics['evalx.gru4rec-seed7.specificIoi']));
  assert.equal(env.separation.length, 2);
  for (const p of env.separation) {
    assert.deepEqual(p.simulators, ['reward', 'eval', 'evalx.gru4rec-seed7', 'evalx.sasrec-seed1']);
    assert.equal(p.oneSeed, true);
    assert.equal(p.separated, false, 'one seed: no interval, never separated');
    assert.ok(!p.flips.includes('evalx.sasrec-seed1') || p.flips.includes('reward'), 'the reward twin orders as the reward model');
  }
  assert.match(
    leaderboardMarkdown(lb),
    /### Separation[\s\S]*\| specificIoi \| \S+ > \S+ \| \*\*not separated\*\* \| reward, eval, evalx\.gru4rec-seed7, evalx\.sasrec-seed1 \| [^|]*one seed: no interval/,
  );
  assert.match(leaderboardTerminal(lb), /separation: 2 of 2 adjacent pairs[\s\S]*under reward, eval, evalx\.gru4rec-seed7,\s+evalx\.sasrec-seed1\)/);
  assert.equal(hashRunConfig(extra.run.config), extra.run.configHash);
});

for (const [what, config] of [
  ['sampled acceptance, satiation and repeats', { accept: 'sample', allowRepeats: true, satiation: { strength: 0.4, window: 2 } }],
  ['acceptance always, repeats penalized as invalid actions (left out of the path)', { invalidAction: 'penalize' }],
] as const) {
  test(`the replay gives the environment's own numbers, under the exact evaluator and the reward model: ${what}`, async () => {
    const world = await buildWorld(ENV, WORLD);
    const sampled = 'accept' in config;
    const pool = world.dataset.cases.test;
    const cases = Array.from({ length: 24 }, (_, i) => i % Math.min(12, pool.length));
    const env = await makeVec(ENV, cases.length, { world: WORLD, ...config });
    const N = env.numItems;
    // Recommends two items in turn (repeats: an item can be rejected once and accepted later), then STOP.
    const repeater: Agent = {
      name: 'repeater',
      act: (observations) => Int32Array.from(observations, (o) => (o.step >= 7 ? N : (o.target + 1 + (o.step % 2) + (o.target % 3)) % N)),
    };
    const summaries = await rollOut(env, repeater, cases, { env: 5, agent: 6 }, 'test');
    env.close();
    const recorded = summaries.map((s, k) => ({
      history: pool[cases[k]].history,
      target: pool[cases[k]].target,
      path: s.path,
      acceptedFlags: s.acceptedFlags,
    }));
    if (sampled) {
      assert.ok(summaries.some((s) => s.acceptedFlags.includes(0)) && summaries.some((s) => s.acceptedFlags.includes(1)), 'some items rejected, some accepted');
      assert.ok(
        summaries.some((s) => s.path.some((i, t) => s.path.indexOf(i) < t && s.acceptedFlags[s.path.indexOf(i)] !== s.acceptedFlags[t])),
        'an item rejected once and accepted another time (or the reverse)',
      );
    } else assert.ok(summaries.every((s) => s.acceptedFlags.every((f) => f === 1) && s.path.length === 2 && s.invalid === 5));
    assert.deepEqual(
      rescoreEpisodes(world.evaluator!, world.dataset.items, env.config, recorded),
      summaries.map((s) => s.evaluator),
    );
    assert.deepEqual(
      rescoreEpisodes(world.simulator, world.dataset.items, env.config, recorded),
      summaries.map((s) => ({ ioi: s.ioi, ior: s.ior, ctr: s.ctr, success: s.success })),
    );
  });
}
