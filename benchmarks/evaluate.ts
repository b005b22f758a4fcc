/**
 * One benchmark run: (environment, agent, seed) → a result file. Trains the agent if it trains
 * (on the train/valid splits only), then evaluates it on `episodes` cases of the evaluation split
 * (test by default), drawn with the seed's `sampling` stream so that every agent run with the same
 * seed sees the same cases (paired comparisons); then, when the agent can propose candidate paths,
 * metrics@K. Everything the run depends on is in its RunConfig, whose hash identifies the run.
 *
 * Every draw of an evaluated episode (the user's acceptances, the agent's sampling) comes from a
 * stream keyed by the run seed, the case and the step (core/rng.ts), so a case's result is the same
 * whatever `batchSize`, `episodes` or shard it is evaluated in.
 */
import { actContext, type Agent, type AgentFactory } from '../agents/agent.ts';
import type { TrainBudget } from '../agents/agent.ts';
import { canonicalJson, stableHash } from '../core/hash.ts';
import { ConfigError, ContractError, ProrecError } from '../core/errors.ts';
import * as tf from '@tensorflow/tfjs';
import { nonFiniteFields } from '../core/io.ts';
import { makeVec, type MakeOverrides } from '../envs/registry.ts';
import type { EnvConfig, EpisodeSummary, ProactiveObservation, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { playEpisodesInterruptible } from '../agents/rollout.ts';
import { yieldToEventLoop } from '../core/interrupt.ts';
import { deriveSeed, Rng } from '../core/rng.ts';
import type { Case, Dataset, Split } from '../data/dataset.ts';
import { progress as makeProgress } from '../core/progress.ts';
import { validate } from '../core/validate.ts';
import { pathSpecificity, type Specificity } from './specificity.ts';
import { rescoreEpisodes } from '../envs/extra-evaluators.ts';
import { meanDefined } from '../results/stats.ts';
import {
  RESULT_SCHEMA_VERSION,
  ResultFileSchema,
  type AtK,
  type AtKValues,
  type AtKEvaluatorValues,
  type CaseResult,
  type EvaluatorMetrics,
  type Examples,
  type ResultFile,
  type RunConfig,
} from '../results/schema.ts';

export type RunPhase = 'train' | 'eval' | 'atK';

export interface RunSpec {
  /** The hashed inputs of the run (see RunInfo in schema.ts). */
  config: RunConfig;
  label: string;
  suite: string | null;
  budget: string | null;
  factory: AgentFactory<any>;
  backend: { name: string; reason: string };
  code: { package: string; version: string; commit: string | null };
  log?: (line: string) => void;
  /** Progress of each phase; when absent, `showProgress` draws its own bars (core/progress.ts). */
  onProgress?: (phase: RunPhase, done: number, total: number, message?: string) => void;
  showProgress?: boolean;
}

/** sha256 of the canonical JSON (RFC 8785, core/hash.ts) of a run config: the run's identity. */
export function hashRunConfig(config: RunConfig): string {
  return stableHash(config);
}

function summaryToCase(s: EpisodeSummary, caseIndex: number, target: number, spec: Specificity, evalSpec: Specificity | null): CaseResult {
  return {
    caseIndex,
    target,
    path: s.path,
    ioi: s.ioi,
    specificIoi: spec.specific,
    genericIoi: spec.randomTargetIoi,
    targetPercentile: spec.percentile,
    ior: s.ior,
    ctr: s.ctr,
    coherence: s.coherence,
    length: s.length,
    invalid: s.invalid,
    success: s.success,
    return: s.return,
    end: s.end,
    evaluator:
      s.evaluator && evalSpec
        ? {
            ioi: s.evaluator.ioi,
            specificIoi: evalSpec.specific,
            genericIoi: evalSpec.randomTargetIoi,
            targetPercentile: evalSpec.percentile,
            ior: s.evaluator.ior,
            ctr: s.evaluator.ctr,
            success: s.evaluator.success ? 1 : 0,
          }
        : null,
  };
}

/**
 * Runs a batch of episodes to the end; returns each row's episode summary. `envSeed` seeds the
 * environment's streams (the user's acceptances), `agentSeed` the agent's (ActContext.rng); both
 * are keyed per episode, so a row's outcome does not depend on the other rows. `access.simulator`
 * grants the agent the reward simulator (oracle agents: their factory's `usesSimulator`).
 */
export async function rollOut(
  env: ProactiveRecVectorEnv,
  agent: Agent,
  caseIndices: readonly number[],
  seeds: { env: number; agent: number },
  split: Split,
  onStep?: (fraction: number) => void,
  access: { simulator?: boolean; log?: (line: string) => void } = {},
): Promise<EpisodeSummary[]> {
  const leaks = tensorLeakWatch(agent.name, 'act');
  const contextOptions = { ...access, agent: agent.name };
  const actor = {
    act: (observations: readonly ProactiveObservation[], _rows: readonly number[], t: number) =>
      leaks.call(() => agent.act(observations, actContext(env, seeds.agent, t, contextOptions))),
  };
  // Yields after every step, so a Ctrl-C is handled during a batch of episodes (core/interrupt.ts).
  const episodes = (await playEpisodesInterruptible(env, actor, caseIndices, seeds.env, split, onStep)).map((trace) => trace.episode);
  leaks.report(access.log);
  return episodes;
}

/**
 * Watches an agent's calls for tensors left behind: the tfjs tensor count after a call minus before.
 * A lazily built cache grows the count once; a leak grows it call after call, so growth in two or
 * more calls after the first is reported, with the agent's name. Nothing is disposed (an agent may
 * keep tensors on purpose; results never depend on the watch).
 */
export function tensorLeakWatch(agent: string, method: string): { call<T>(f: () => T): T; report(log?: (line: string) => void): string | null } {
  let calls = 0;
  let growingCalls = 0;
  let grown = 0;
  return {
    call(f) {
      const before = tf.memory().numTensors;
      const out = f();
      const delta = tf.memory().numTensors - before;
      if (calls > 0 && delta > 0) {
        growingCalls += 1;
        grown += delta;
      }
      calls += 1;
      return out;
    },
    report(log) {
      if (growingCalls < 2) return null;
      const line =
        `warning: agent ${agent} leaks tensors: ${grown} more after ${growingCalls} of its ${calls} ${method} calls (tf.memory().numTensors); ` +
        `wrap its tensor work in tf.tidy or dispose what it does not keep`;
      log?.(line);
      return line;
    },
  };
}

/** The phase reporter of a run: the caller's callback, or bars of its own. */
function phaseProgress(spec: RunSpec): { update(phase: RunPhase, done: number, total: number, message?: string): void; stop(): void } {
  if (spec.onProgress) return { update: spec.onProgress, stop() {} };
  let current: { phase: RunPhase; bar: ReturnType<typeof makeProgress> } | null = null;
  const what = `${spec.label} seed ${spec.config.seed}`;
  return {
    update(phase, done, total, message) {
      if (current?.phase !== phase) {
        current?.bar.stop();
        current = { phase, bar: makeProgress(`${phase} ${what}`, total, { enabled: spec.showProgress !== false }) };
      }
      current.bar.update(done, message);
    },
    stop() {
      current?.bar.stop();
      current = null;
    },
  };
}

export async function runOne(spec: RunSpec): Promise<ResultFile> {
  const c = spec.config;
  const log = spec.log ?? (() => {});
  const envOverrides: MakeOverrides = { ...(c.envConfig as Partial<EnvConfig>), world: c.world, log };
  const agentRng = Rng.stream(c.seed, 'agent');
  const probe = await makeVec(c.envId, 1, envOverrides);
  const world = probe.world;
  const agent = await spec.factory.create(c.agentConfig, {
    numItems: probe.numItems,
    seed: c.seed,
    items: world.dataset.items,
    trainSequences: world.dataset.sequences.train,
  });
  if (agent.config !== undefined && canonicalJson(agent.config) !== canonicalJson(c.agentConfig)) {
    agent.dispose?.();
    throw new ContractError(
      `${spec.label}: the agent runs with a config that differs from the one recorded for the run (a default hidden in create()?)\n` +
        `  recorded: ${canonicalJson(c.agentConfig)}\n  runs with: ${canonicalJson(agent.config)}`,
    );
  }
  // The agent is disposed however the run ends (an agent process is then closed at once, not at exit).
  try {
    const curves: Record<string, Record<string, number>[]> = {};
    const trainTimes: Record<string, number> = {};
    const progress = phaseProgress(spec);
    const split = c.split as Split;

    const trainStart = performance.now();
    if (agent.train) {
      log(`training ${spec.label} on ${c.envId} (seed ${c.seed})`);
      const budget: TrainBudget = {};
      if (c.trainEpochs !== null) budget.epochs = c.trainEpochs;
      // The environments handed to train refuse the evaluation split (and valid when that is it).
      const trainSplits: Split[] = split === 'test' ? ['train', 'valid'] : ['train'];
      const trainEnv = async (n: number) =>
        (await makeVec(c.envId, n, { ...envOverrides, split: 'train' })).restrictSplits(trainSplits, `agent ${spec.label} (train)`);
      await agent.train(trainEnv, budget, {
        rng: agentRng.child('train'),
        callbacks: {
          onLog(step, values) {
            // A non-finite value (a diverged loss) fails the run here, naming the agent and the
            // field: JSON would write it as null, leaving a result file invalid under its schema.
            const bad = nonFiniteFields({ step, ...values });
            if (bad.length) throw new NonFiniteMetricError(spec.label, agent.name, `its training log (curves.train, step ${step})`, bad);
            (curves.train ??= []).push({ step, ...values });
          },
          onTime(name, seconds) {
            trainTimes[name] = (trainTimes[name] ?? 0) + seconds;
          },
          onProgress(fraction, message) {
            progress.update('train', Math.round(fraction * 1000), 1000, message);
          },
        },
      });
    }
    const trainSeconds = (performance.now() - trainStart) / 1000;

    // The evaluation cases: the same for every agent at this seed.
    const pool = world.dataset.cases[split];
    if (pool.length === 0) throw new ConfigError(`${c.envId}: the ${split} split has no cases`);
    const order = Rng.stream(c.seed, 'sampling').shuffle(Array.from(pool.keys()));
    const chosen = c.episodes === 0 || c.episodes >= pool.length ? [...pool.keys()] : order.slice(0, c.episodes).sort((a, b) => a - b);

    const evalStart = performance.now();
    const cases: CaseResult[] = [];
    const summaries: EpisodeSummary[] = [];
    let envSteps = 0;
    // Per extra evaluator (world option extraEvaluators), per case: its numbers, as CaseResult.evaluator holds the evaluator's.
    const extras = world.extraEvaluators ?? [];
    const extraCases: EvaluatorMetrics[][] = extras.map(() => []);
    // One seed for every chunk: the streams are keyed per case (core/rng.ts), not per chunk.
    const evalSeeds = { env: deriveSeed(c.seed, 'eval/env'), agent: deriveSeed(c.seed, 'eval/agent') };
    progress.update('eval', 0, chosen.length);
    for (let start = 0; start < chosen.length; start += c.batchSize) {
      const indices = chosen.slice(start, start + c.batchSize);
      const env = await makeVec(c.envId, indices.length, envOverrides);
      const batchSummaries = await rollOut(
        env,
        agent,
        indices,
        evalSeeds,
        split,
        (f) => progress.update('eval', start + Math.floor(f * indices.length), chosen.length),
        { simulator: spec.factory.usesSimulator === true, log },
      );
      env.close();
      // Target specificity: one softmax per case before and after its accepted path, under each simulator.
      const paths = batchSummaries.map((s, k) => ({ history: pool[indices[k]].history, target: pool[indices[k]].target, path: s.acceptedPath }));
      const specificity = pathSpecificity(world.simulator, paths);
      await yieldToEventLoop();
      const evalSpec = world.evaluator === null ? null : world.evaluator === world.simulator ? specificity : pathSpecificity(world.evaluator, paths);
      // Extra evaluators re-score the recorded episodes after the fact (envs/extra-evaluators.ts): step() never ran them.
      for (const [j, x] of extras.entries()) {
        await yieldToEventLoop();
        const recorded = batchSummaries.map((s, k) => ({ ...paths[k], path: s.path, acceptedFlags: s.acceptedFlags }));
        const scored = rescoreEpisodes(x.simulator, world.dataset.items, env.config, recorded);
        await yieldToEventLoop();
        const xSpec = pathSpecificity(x.simulator, paths);
        scored.forEach((e, k) => extraCases[j].push(evaluatorCase(e, xSpec[k])));
      }
      batchSummaries.forEach((s, k) => {
        summaries.push(s);
        cases.push(summaryToCase(s, indices[k], pool[indices[k]].target, specificity[k], evalSpec?.[k] ?? null));
        envSteps += s.length + (s.stopped ? 1 : 0);
      });
      progress.update('eval', Math.min(chosen.length, start + indices.length), chosen.length);
    }
    const evalSeconds = (performance.now() - evalStart) / 1000;

    const atKStart = performance.now();
    const atK = await metricsAtK(spec, agent, chosen, split, (done) => progress.update('atK', done, chosen.length));
    const atKSeconds = (performance.now() - atKStart) / 1000;
    progress.stop();

    const mean = (f: (s: EpisodeSummary) => number) => summaries.reduce((a, s) => a + f(s), 0) / summaries.length;
    const meanCase = (f: (c: CaseResult) => number) => cases.reduce((a, c) => a + f(c), 0) / cases.length;
    const withEval = summaries.every((s) => s.evaluator !== null);
    const result: ResultFile = {
      schemaVersion: RESULT_SCHEMA_VERSION,
      env: {
        id: c.envId,
        config: { ...probe.config } as Record<string, unknown>,
        world: c.world,
        dataset: {
          name: world.dataset.name,
          source: world.dataset.meta.source,
          hash: world.dataset.meta.hash,
          trainInteractions: world.dataset.meta.trainInteractions,
          simulatorInteractions: world.dataset.meta.simulatorInteractions,
          simulatorData: world.dataset.meta.simulatorData,
        },
        simulator: world.simulator.id,
        evaluator: world.evaluator?.id ?? null,
      },
      agent: { name: agent.name, spec: c.agentSpec, config: c.agentConfig, usesSimulator: spec.factory.usesSimulator ?? false },
      seed: c.seed,
      split: c.split,
      episodes: summaries.length,
      backend: spec.backend,
      code: spec.code,
      metrics: {
        ioi: mean((s) => s.ioi),
        specificIoi: meanCase((x) => x.specificIoi),
        genericIoi: meanCase((x) => x.genericIoi),
        targetPercentile: meanCase((x) => x.targetPercentile),
        ior: mean((s) => s.ior),
        ctr: mean((s) => s.ctr),
        coherence: meanDefined(summaries.map((s) => s.coherence)),
        length: mean((s) => s.length),
        invalidRate: mean((s) => s.invalid / Math.max(1, s.length + s.invalid)),
        duplicateRate: mean((s) => s.duplicateRate),
        success: mean((s) => (s.success ? 1 : 0)),
        return: mean((s) => s.return),
        stopRate: mean((s) => (s.end === 'stop' ? 1 : 0)),
        maxLengthRate: mean((s) => (s.end === 'maxLength' ? 1 : 0)),
        leftRate: mean((s) => (s.end === 'left' ? 1 : 0)),
      },
      evaluatorMetrics: withEval
        ? {
            ioi: mean((s) => s.evaluator!.ioi),
            specificIoi: meanCase((x) => x.evaluator!.specificIoi),
            genericIoi: meanCase((x) => x.evaluator!.genericIoi),
            targetPercentile: meanCase((x) => x.evaluator!.targetPercentile),
            ior: mean((s) => s.evaluator!.ior),
            ctr: mean((s) => s.evaluator!.ctr),
            success: mean((s) => (s.evaluator!.success ? 1 : 0)),
          }
        : null,
      ...(extras.length ? { extraEvaluatorMetrics: extras.map((x, j) => ({ id: x.id, metrics: meanEvaluatorMetrics(extraCases[j]) })) } : {}),
      atK,
      cases,
      examples: examplesOf(world.dataset, pool, cases.slice(0, c.examples)),
      curves,
      run: { label: spec.label, suite: spec.suite, budget: spec.budget, configHash: hashRunConfig(c), config: c },
      timings: {
        createdAt: new Date().toISOString(),
        trainSeconds,
        train: trainTimes,
        evalSeconds,
        atKSeconds,
        envStepsPerSecond: evalSeconds > 0 ? envSteps / evalSeconds : 0,
      },
    };
    const bad = nonFiniteFields(result);
    if (bad.length) throw new NonFiniteMetricError(spec.label, agent.name, `the result of ${c.envId} seed ${c.seed}`, bad);
    return validate(ResultFileSchema, result, `result of ${c.envId}/${spec.label}/seed ${c.seed}`);
  } finally {
    agent.dispose?.();
  }
}

/** One case's numbers under an evaluator: its episode totals and the specificity of its accepted path (as CaseResult.evaluator). */
function evaluatorCase(e: { ioi: number; ior: number; ctr: number; success: boolean }, spec: Specificity): EvaluatorMetrics {
  return {
    ioi: e.ioi,
    specificIoi: spec.specific,
    genericIoi: spec.randomTargetIoi,
    targetPercentile: spec.percentile,
    ior: e.ior,
    ctr: e.ctr,
    success: e.success ? 1 : 0,
  };
}

/** The means over cases, summed in case order as `evaluatorMetrics` is (the same cases give the same numbers, bit for bit). */
function meanEvaluatorMetrics(cases: readonly EvaluatorMetrics[]): EvaluatorMetrics {
  const mean = (f: (x: EvaluatorMetrics) => number) => cases.reduce((a, x) => a + f(x), 0) / cases.length;
  return {
    ioi: mean((x) => x.ioi),
    specificIoi: mean((x) => x.specificIoi),
    genericIoi: mean((x) => x.genericIoi),
    targetPercentile: mean((x) => x.targetPercentile),
    ior: mean((x) => x.ior),
    ctr: mean((x) => x.ctr),
    success: mean((x) => x.success),
  };
}

/**
 * An agent produced a number JSON cannot hold (NaN, ±Infinity: a diverged loss, an overflow): the
 * run fails (no result file is written) with the agent and the fields named. The rule everywhere:
 * non-finite numbers are refused, never written as null (core/io.ts, core/validate.ts).
 */
export class NonFiniteMetricError extends ProrecError {
  readonly kind = 'failure';
  constructor(label: string, agentName: string, where: string, fields: readonly string[]) {
    super(
      `agent ${label}${agentName !== label ? ` (${agentName})` : ''}: non-finite value in ${where}: ${fields.join(', ')} (a diverged run? results must be finite numbers)`,
    );
  }
}

/** The example cases in full (history, target, path) with the title and attributes of each item in them. */
export function examplesOf(dataset: Dataset, pool: readonly Case[], cases: readonly CaseResult[]): Examples {
  const items: Examples['items'] = {};
  const t = dataset.items;
  const add = (i: number) => {
    items[String(i)] ??= { title: t.titles[i] ?? '', attributes: (t.attributes[i] ?? []).map((a) => t.attributeNames[a] ?? String(a)) };
  };
  const out = cases.map((r) => {
    const history = [...pool[r.caseIndex].history];
    [...history, ...r.path, r.target].forEach(add);
    return { caseIndex: r.caseIndex, history, target: r.target, path: [...r.path] };
  });
  return { cases: out, items };
}

const AT_K_KEYS = ['ioi', 'ior', 'ctr', 'return', 'success', 'coherence', 'length'] as const;
const AT_K_EVAL_KEYS = ['ioi', 'ior', 'ctr', 'success'] as const;

/**
 * Metrics@K (docs/design.md §3.6): the agent proposes K candidate paths per case (at reset); each
 * candidate is replayed in the environment (items in order, then STOP) and scored under the reward
 * simulator and the evaluator. For every K in `ks`: per metric, the max and the mean over the first
 * K candidates of each case, averaged over cases. Null when the agent has no proposePaths.
 */
async function metricsAtK(spec: RunSpec, agent: Agent, chosen: readonly number[], split: Split, onDone: (done: number) => void): Promise<AtK | null> {
  const c = spec.config;
  const ks = [...new Set(c.ks)].sort((a, b) => a - b);
  if (!agent.proposePaths || ks.length === 0) return null;
  const K = ks[ks.length - 1];
  const envOverrides: MakeOverrides = { ...(c.envConfig as Partial<EnvConfig>), world: c.world, log: spec.log };
  // Per case: the candidates' summaries, best-first as the agent ordered them.
  const perCase: EpisodeSummary[][] = [];
  let candidateCount = 0;
  const seeds = { env: deriveSeed(c.seed, 'atk/env'), agent: deriveSeed(c.seed, 'atk/agent'), replay: deriveSeed(c.seed, 'atk/replay') };
  for (let start = 0; start < chosen.length; start += c.batchSize) {
    const indices = chosen.slice(start, start + c.batchSize);
    const env = await makeVec(c.envId, indices.length, envOverrides);
    const { observations } = env.reset({ seed: seeds.env, options: { split, caseIndices: indices } });
    const proposals = agent.proposePaths(
      observations,
      K,
      actContext(env, seeds.agent, 0, { simulator: spec.factory.usesSimulator === true, agent: agent.name }),
    );
    env.close();
    if (!Array.isArray(proposals) || proposals.length !== indices.length) {
      throw new ContractError(
        `${spec.label}.proposePaths returned ${Array.isArray(proposals) ? proposals.length : typeof proposals} candidate lists for ${indices.length} observations`,
      );
    }
    // Replay every candidate in one vector environment: row (case r, candidate j).
    const rows: { caseRow: number; path: number[] }[] = [];
    proposals.forEach((cands, r) => {
      if (!Array.isArray(cands) || cands.length === 0) throw new ContractError(`${spec.label}.proposePaths gave no candidate for case ${indices[r]}`);
      cands.slice(0, K).forEach((p) => rows.push({ caseRow: r, path: p.slice(0, env.config.maxLength) }));
    });
    candidateCount += rows.length;
    const replay = await makeVec(c.envId, rows.length, envOverrides);
    replay.reset({ seed: seeds.replay, options: { split, caseIndices: rows.map((x) => indices[x.caseRow]) } });
    const stop = replay.actionSpace.stop;
    const summaries: (EpisodeSummary | null)[] = new Array(rows.length).fill(null);
    for (let t = 0; t <= replay.config.maxLength; t++) {
      const active = replay.active();
      if (!active.includes(1)) break;
      const actions = Int32Array.from(rows, (x, k) => (active[k] && t < x.path.length ? x.path[t] : stop));
      let r;
      try {
        r = replay.step(actions);
      } catch (e) {
        throw new ContractError(`${spec.label}.proposePaths: a candidate path is not valid in ${c.envId}: ${(e as Error).message}`, { cause: e });
      }
      r.infos.forEach((info, k) => {
        if (info.episode) summaries[k] = info.episode;
      });
      await yieldToEventLoop();
    }
    replay.close();
    const byCase: EpisodeSummary[][] = indices.map(() => []);
    rows.forEach((x, k) => byCase[x.caseRow].push(summaries[k]!));
    perCase.push(...byCase);
    onDone(Math.min(chosen.length, start + indices.length));
  }
  const withEval = perCase.every((cs) => cs.every((s) => s.evaluator !== null));
  const value = (s: EpisodeSummary, key: (typeof AT_K_KEYS)[number]): number | null =>
    key === 'success' ? (s.success ? 1 : 0) : key === 'return' ? s.return : s[key];
  const evalValue = (s: EpisodeSummary, key: (typeof AT_K_EVAL_KEYS)[number]): number => {
    const e = s.evaluator!;
    return key === 'success' ? (e.success ? 1 : 0) : e[key];
  };
  // Per metric: over each case's first K candidates with a defined value (coherence is undefined
  // for an empty path), the max and the mean; averaged over the cases that have one (null if none).
  const aggregate = <Key extends string>(keys: readonly Key[], k: number, f: (s: EpisodeSummary, key: Key) => number | null) => {
    const max = {} as Record<Key, number | null>;
    const mean = {} as Record<Key, number | null>;
    for (const key of keys) {
      let sumMax = 0;
      let sumMean = 0;
      let n = 0;
      for (const cands of perCase) {
        const vs = cands
          .slice(0, k)
          .map((s) => f(s, key))
          .filter((v): v is number => v !== null);
        if (vs.length === 0) continue;
        n++;
        sumMax += Math.max(...vs);
        sumMean += vs.reduce((a, b) => a + b, 0) / vs.length;
      }
      max[key] = n > 0 ? sumMax / n : null;
      mean[key] = n > 0 ? sumMean / n : null;
    }
    return { max, mean };
  };
  return {
    source: 'proposePaths',
    requested: K,
    meanCandidates: candidateCount / perCase.length,
    results: ks.map((k) => ({
      k,
      ...(aggregate(AT_K_KEYS, k, value) as { max: AtKValues; mean: AtKValues }),
      evaluator: withEval ? (aggregate(AT_K_EVAL_KEYS, k, evalValue) as { max: AtKEvaluatorValues; mean: AtKEvaluatorValues }) : null,
    })),
  };
}
