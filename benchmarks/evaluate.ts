/**
 * One benchmark run: (environment, agent, seed) → a result file. Trains the agent if it trains
 * (on the train/valid splits only), then evaluates it on `episodes` cases of the evaluation split
 * (test by default), drawn with the seed's `sampling` stream so that every agent run with the same
 * seed sees the same cases (paired comparisons).
 */
import type { ActContext, Agent, AgentFactory } from '../agents/agent.ts';
import { makeVec, type MakeOverrides } from '../envs/registry.ts';
import type { EpisodeSummary, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { deriveSeed, Rng } from '../envs/rng.ts';
import type { Split } from '../envs/dataset.ts';
import { progress as makeProgress } from '../envs/progress.ts';
import { validate } from '../envs/validate.ts';
import { meanDefined } from './stats.ts';
import { RESULT_SCHEMA_VERSION, ResultFileSchema, type CaseResult, type ResultFile } from './schema.ts';

export interface RunSpec {
  envId: string;
  /** Environment config overrides and `world` options. */
  envOverrides: MakeOverrides;
  agentSpec: string;
  factory: AgentFactory<any>;
  agentConfig: Record<string, unknown>;
  seed: number;
  /** Number of evaluation cases; capped at the split's size. */
  episodes: number;
  split: Split;
  /** Sub-environments stepped together. */
  batchSize: number;
  trainEpochs?: number;
  backend: { name: string; reason: string };
  code: { package: string; version: string; commit: string | null };
  log?: (line: string) => void;
  showProgress?: boolean;
}

function summaryToCase(s: EpisodeSummary, caseIndex: number, target: number): CaseResult {
  return {
    caseIndex,
    target,
    path: s.path,
    ioi: s.ioi,
    ior: s.ior,
    ctr: s.ctr,
    coherence: s.coherence,
    length: s.length,
    success: s.success,
    return: s.return,
    stopped: s.stopped,
    evaluator: s.evaluator ? { ioi: s.evaluator.ioi, ior: s.evaluator.ior, ctr: s.evaluator.ctr, success: s.evaluator.success ? 1 : 0 } : null,
  };
}

/** Runs a batch of episodes to the end; returns each row's episode summary. */
export function rollOut(env: ProactiveRecVectorEnv, agent: Agent, ctx: ActContext, caseIndices: readonly number[], seed: number, split: Split): EpisodeSummary[] {
  let { observations } = env.reset({ seed, options: { split, caseIndices } });
  const summaries: (EpisodeSummary | null)[] = new Array(env.numEnvs).fill(null);
  for (let t = 0; t <= env.config.maxLength + 1; t++) {
    const active = env.active();
    if (!active.includes(1)) break;
    const actions = agent.act(observations, ctx);
    // Finished rows ignore their action; give them STOP so agents need not care.
    for (let k = 0; k < actions.length; k++) if (!active[k]) actions[k] = env.actionSpace.stop;
    const r = env.step(actions);
    r.infos.forEach((info, k) => {
      if (info.episode) summaries[k] = info.episode;
    });
    observations = r.observations;
  }
  return summaries.map((s, k) => {
    if (!s) throw new Error(`episode ${k} did not end within maxLength + 1 steps`);
    return s;
  });
}

export async function runOne(spec: RunSpec): Promise<ResultFile> {
  const log = spec.log ?? (() => {});
  const agentRng = Rng.stream(spec.seed, 'agent');
  const probe = await makeVec(spec.envId, 1, spec.envOverrides);
  const world = probe.world;
  const agent = await spec.factory.create(spec.agentConfig, { numItems: probe.numItems, seed: spec.seed });
  const curves: Record<string, Record<string, number>[]> = {};

  const trainStart = performance.now();
  if (agent.train) {
    log(`training ${spec.agentSpec} on ${spec.envId} (seed ${spec.seed})`);
    const bar = makeProgress(`train ${spec.agentSpec} seed ${spec.seed}`, 1000, { enabled: spec.showProgress !== false });
    await agent.train((n) => makeVec(spec.envId, n, { ...spec.envOverrides, split: 'train' }), { epochs: spec.trainEpochs }, {
      rng: agentRng.child('train'),
      callbacks: {
        onLog(step, values) {
          (curves.train ??= []).push({ step, ...values });
        },
        onProgress(fraction, message) {
          bar.update(Math.round(fraction * 1000), message);
        },
      },
    });
    bar.stop();
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;

  // The evaluation cases: the same for every agent at this seed.
  const pool = world.dataset.cases[spec.split];
  if (pool.length === 0) throw new Error(`${spec.envId}: the ${spec.split} split has no cases`);
  const order = Rng.stream(spec.seed, 'sampling').shuffle(Array.from(pool.keys()));
  const chosen = spec.episodes >= pool.length ? [...pool.keys()] : order.slice(0, spec.episodes).sort((a, b) => a - b);

  const evalStart = performance.now();
  const cases: CaseResult[] = [];
  const summaries: EpisodeSummary[] = [];
  let envSteps = 0;
  const bar = makeProgress(`eval ${spec.agentSpec} seed ${spec.seed}`, chosen.length, { enabled: spec.showProgress !== false });
  const actRng = agentRng.child('act');
  for (let start = 0, chunk = 0; start < chosen.length; start += spec.batchSize, chunk++) {
    const indices = chosen.slice(start, start + spec.batchSize);
    const env = await makeVec(spec.envId, indices.length, spec.envOverrides);
    const batchSummaries = rollOut(env, agent, { env, rng: actRng }, indices, deriveSeed(spec.seed, `eval-chunk-${chunk}`), spec.split);
    env.close();
    batchSummaries.forEach((s, k) => {
      summaries.push(s);
      cases.push(summaryToCase(s, indices[k], pool[indices[k]].target));
      envSteps += s.length + (s.stopped ? 1 : 0);
    });
    bar.update(Math.min(chosen.length, start + indices.length));
  }
  bar.stop();
  const evalSeconds = (performance.now() - evalStart) / 1000;
  agent.dispose?.();

  const mean = (f: (s: EpisodeSummary) => number) => summaries.reduce((a, s) => a + f(s), 0) / summaries.length;
  const withEval = summaries.every((s) => s.evaluator !== null);
  const result: ResultFile = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    env: {
      id: spec.envId,
      config: { ...probe.config } as Record<string, unknown>,
      world: spec.envOverrides.world ?? {},
      dataset: { name: world.dataset.name, source: world.dataset.meta.source, hash: world.dataset.meta.hash, trainInteractions: world.dataset.meta.trainInteractions },
      simulator: world.simulator.id,
      evaluator: world.evaluator?.id ?? null,
    },
    agent: { name: agent.name, spec: spec.agentSpec, config: spec.agentConfig, usesSimulator: spec.factory.usesSimulator ?? false },
    seed: spec.seed,
    split: spec.split,
    episodes: summaries.length,
    backend: spec.backend,
    code: spec.code,
    metrics: {
      ioi: mean((s) => s.ioi),
      ior: mean((s) => s.ior),
      ctr: mean((s) => s.ctr),
      coherence: meanDefined(summaries.map((s) => s.coherence)),
      length: mean((s) => s.length),
      duplicateRate: mean((s) => s.duplicateRate),
      success: mean((s) => (s.success ? 1 : 0)),
      return: mean((s) => s.return),
      stopRate: mean((s) => (s.stopped ? 1 : 0)),
    },
    evaluatorMetrics: withEval
      ? {
          ioi: mean((s) => s.evaluator!.ioi),
          ior: mean((s) => s.evaluator!.ior),
          ctr: mean((s) => s.evaluator!.ctr),
          success: mean((s) => (s.evaluator!.success ? 1 : 0)),
        }
      : null,
    cases,
    curves,
    timings: { createdAt: new Date().toISOString(), trainSeconds, evalSeconds, envStepsPerSecond: evalSeconds > 0 ? envSteps / evalSeconds : 0 },
  };
  return validate(ResultFileSchema, result, `result of ${spec.envId}/${spec.agentSpec}/seed ${spec.seed}`);
}
