/**
 * The project's one rollout loop: a batch of episodes in the vector environment (no auto-reset),
 * one per row, played to the end by an `Actor`; each row's path with its accepted flags, its
 * per-step reward components and its episode summary. The RL trainer plays it with the policy
 * network (`runEpisodes`: sampled groups on train cases, greedy validation); the benchmark harness
 * with any agent (benchmarks/evaluate.ts).
 */
import type { EpisodeSummary, ProactiveObservation, ProactiveRecVectorEnv } from '../envs/proactive.ts';
import type { Split } from '../data/dataset.ts';
import { episodeSeed, stepStream } from '../core/rng.ts';
import { greedyActions, IncrementalPolicy, packPaths, sampleActions, type PathRecord, type PolicyNetwork } from './policy.ts';
import { invariant } from '../core/errors.ts';
import { runToEnd, runYielding } from '../core/interrupt.ts';

/** A row's episode with its case: what the trainers read. */
export interface RolloutPath extends PathRecord, EpisodeTrace {
  readonly items: number[];
  readonly accepted: number[];
  readonly stopped: boolean;
  readonly caseIndex: number;
}

export interface RunOptions {
  /**
   * Act with the policy's cached incremental encoder (IncrementalPolicy.nextProbs: one new token
   * per step, the backend's softmax; default), or re-encode every path at every step
   * (exp of PolicyNetwork.nextLogProbs: the reference the cached rollout is tested against). The
   * two agree up to float round-off.
   */
  readonly cache?: boolean;
}

/**
 * What plays the episodes of `playEpisodes`. `act` gets every row's observation and the rows still
 * running, and returns one action per row (finished rows are given STOP whatever it returns);
 * `observe` hears, after each step, the rows whose path grew, the item and whether it was accepted.
 */
export interface Actor {
  act(observations: readonly ProactiveObservation[], rows: readonly number[], step: number): Int32Array;
  observe?(rows: readonly number[], items: readonly number[], accepted: readonly number[]): void;
}

/** One row's episode as `playEpisodes` saw it. */
export interface EpisodeTrace {
  readonly items: number[];
  readonly accepted: number[];
  readonly stopped: boolean;
  /** Raw reward components of each path item (t = 0..L-1). */
  readonly ioi: Float64Array;
  readonly ior: Float64Array;
  readonly ctr: Float64Array;
  readonly episode: EpisodeSummary;
}

/**
 * Plays one episode per environment row on `caseIndices` of `split` (the environment must have
 * exactly caseIndices.length rows) to the end. `envSeed` reseeds the environment's own streams
 * (acceptance draws, keyed per episode). `onStep(fraction)` is called before each step. Throws if an
 * episode has not ended after maxLength + 1 steps.
 */
export function playEpisodes(
  env: ProactiveRecVectorEnv,
  actor: Actor,
  caseIndices: readonly number[],
  envSeed: number,
  split: Split,
  onStep?: (fraction: number) => void,
): EpisodeTrace[] {
  return runToEnd(episodeSteps(env, actor, caseIndices, envSeed, split, onStep));
}

/**
 * `playEpisodes`, yielding to the event loop after every step (core/interrupt.ts): the same
 * episodes, and a Ctrl-C is handled within one step.
 */
export async function playEpisodesInterruptible(
  env: ProactiveRecVectorEnv,
  actor: Actor,
  caseIndices: readonly number[],
  envSeed: number,
  split: Split,
  onStep?: (fraction: number) => void,
): Promise<EpisodeTrace[]> {
  return runYielding(episodeSteps(env, actor, caseIndices, envSeed, split, onStep));
}

/** The steps of `playEpisodes`, one environment step each. */
function* episodeSteps(
  env: ProactiveRecVectorEnv,
  actor: Actor,
  caseIndices: readonly number[],
  envSeed: number,
  split: Split,
  onStep?: (fraction: number) => void,
): Generator<void, EpisodeTrace[]> {
  const B = env.numEnvs;
  const stop = env.actionSpace.stop;
  let { observations } = env.reset({ seed: envSeed, options: { split, caseIndices } });
  const items: number[][] = Array.from({ length: B }, () => []);
  const accepted: number[][] = Array.from({ length: B }, () => []);
  const comps = Array.from({ length: B }, () => ({ ioi: [] as number[], ior: [] as number[], ctr: [] as number[] }));
  const episodes: (EpisodeSummary | null)[] = new Array(B).fill(null);
  const stopped = new Uint8Array(B);
  const maxSteps = env.config.maxLength + 1;
  for (let step = 0; step <= maxSteps; step++) {
    onStep?.(step / maxSteps);
    const active = env.active();
    const rows: number[] = [];
    for (let b = 0; b < B; b++) if (active[b]) rows.push(b);
    if (rows.length === 0) break;
    const actions = actor.act(observations, rows, step);
    // Finished rows ignore their action; give them STOP so actors need not care.
    for (let b = 0; b < B; b++) if (!active[b]) actions[b] = stop;
    const r = env.step(actions);
    const appended: number[] = [];
    for (const b of rows) {
      const info = r.infos[b];
      if (info.stop) stopped[b] = 1;
      else if (info.active) {
        items[b].push(info.action);
        accepted[b].push(info.accepted ? 1 : 0);
        comps[b].ioi.push(info.ioi);
        comps[b].ior.push(info.ior);
        comps[b].ctr.push(info.ctr);
        appended.push(b);
      }
      if (info.episode) episodes[b] = info.episode;
    }
    actor.observe?.(
      appended,
      appended.map((b) => items[b][items[b].length - 1]),
      appended.map((b) => accepted[b][accepted[b].length - 1]),
    );
    observations = r.observations;
    yield;
  }
  return Array.from({ length: B }, (_, b) => {
    const episode = episodes[b];
    invariant(episode, () => `episode ${b} did not end within maxLength + 1 steps`);
    return {
      items: items[b],
      accepted: accepted[b],
      stopped: stopped[b] === 1,
      ioi: Float64Array.from(comps[b].ioi),
      ior: Float64Array.from(comps[b].ior),
      ctr: Float64Array.from(comps[b].ctr),
      episode,
    };
  });
}

/**
 * Runs one episode per environment row on `caseIndices` of `split`, acting with `net`: sampled
 * (each row from its episode's own stream under `sampleSeed`, keyed by case, replica and step:
 * core/rng.ts), or greedy when sampleSeed is null. The environment must have exactly
 * caseIndices.length rows. `envSeed` reseeds the environment's own streams (acceptance draws).
 */
export function runEpisodes(
  net: PolicyNetwork,
  env: ProactiveRecVectorEnv,
  split: Split,
  caseIndices: readonly number[],
  sampleSeed: number | null,
  envSeed: number,
  opts: RunOptions = {},
): RolloutPath[] {
  const B = env.numEnvs;
  const A = net.numItems + 1;
  // The actor's per-episode streams and cached encoder start with the episodes (first act call).
  let samplers: ReturnType<typeof episodeSeed>[] | null = null;
  let session: IncrementalPolicy | null = null;
  const actor: Actor = {
    act(obs, rows, step) {
      if (step === 0) {
        samplers = sampleSeed === null ? null : env.episodeKeys().map((key) => episodeSeed(sampleSeed, key, 'agent'));
        if (opts.cache ?? true)
          session = new IncrementalPolicy(
            net,
            Int32Array.from(obs.flatMap((o) => Array.from(o.history))),
            Int32Array.from(obs, (o) => o.target),
          );
      }
      // The policy reads only the rows still running.
      const s = samplers;
      const choose = (probs: Float32Array) =>
        s ? sampleActions(probs, rows.length, A, 'prob', (i) => stepStream(s[rows[i]], step)) : greedyActions(probs, rows.length, A, 'prob');
      const chosen = session
        ? session.withNextProbs(rows, choose)
        : choose(
            Float32Array.from(
              net.nextLogProbs(
                packPaths(rows.map((b) => ({ history: obs[b].history, target: obs[b].target, items: obs[b].proposed, accepted: obs[b].accepted }))),
              ),
              Math.exp,
            ),
          );
      const actions = new Int32Array(B).fill(net.stop);
      rows.forEach((b, i) => (actions[b] = chosen[i]));
      return actions;
    },
    observe(rows, items, accepted) {
      session?.append(rows, items, accepted);
    },
  };
  let traces: EpisodeTrace[];
  try {
    traces = playEpisodes(env, actor, caseIndices, envSeed, split);
  } finally {
    (session as IncrementalPolicy | null)?.dispose();
  }
  const cases = env.cases(split);
  return traces.map((t, b) => {
    const c = cases[caseIndices[b]];
    return { ...t, history: c.history, target: c.target, caseIndex: caseIndices[b] };
  });
}

/**
 * Means of the episode summaries: the numbers the trainers log. `return` is what the environment
 * paid (its episode summaries); `trainReturn` is the path return under the trainer's `weights`
 * (the same unless the trainer overrides the environment's weights).
 */
export function summarise(paths: readonly RolloutPath[], weights: { ioi: number; ior: number; ctr: number }): Record<string, number> {
  const n = Math.max(1, paths.length);
  let ret = 0;
  let trainRet = 0;
  let len = 0;
  let stops = 0;
  let ioi = 0;
  let ior = 0;
  let ctr = 0;
  let coh = 0;
  let cohN = 0;
  for (const p of paths) {
    const e = p.episode;
    ret += e.return;
    for (let t = 0; t < p.ioi.length; t++) trainRet += weights.ioi * p.ioi[t] + weights.ior * p.ior[t] + weights.ctr * p.ctr[t];
    len += e.length;
    stops += p.stopped ? 1 : 0;
    ioi += e.ioi;
    ior += e.ior;
    ctr += e.ctr;
    if (e.coherence !== null) {
      coh += e.coherence;
      cohN++;
    }
  }
  return {
    return: ret / n,
    trainReturn: trainRet / n,
    length: len / n,
    stopRate: stops / n,
    ioi: ioi / n,
    ior: ior / n,
    ctr: ctr / n,
    coherence: cohN ? coh / cohN : 0,
  };
}
