/**
 * Lookahead planners that read the reward simulator: ORACLES, labelled as such (usesSimulator).
 * They show what the reward model allows when it can be queried freely, an upper reference for
 * the learned policies, not a deployable recommender.
 *
 * - greedy-ioi: one-step lookahead. The top-M acceptable candidates by CTR are each appended in a
 *   clone of the environment's simulator batch; the candidate with the best fused step reward
 *   r = w_ioi·IoI + w_ior·IoR + w_ctr·CTR is recommended; STOP when no candidate's r exceeds
 *   `stopThreshold` (default 0: no candidate would increase the return).
 * - beam-planner: multi-step lookahead. At the first step of an episode it searches paths of up to
 *   L_max items with a beam (width W, M candidates by CTR per beam), scoring each prefix by its
 *   cumulative fused reward under the simulator, then recommends the best prefix found (the empty
 *   path included: it may STOP at once), one item per step.
 * Both assume every item is accepted (the paper's setting); under accept: 'sample' they plan as if
 * it were. Rewards use the environment's weights unless `weights` is given.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ProactiveObservation } from '../envs/proactive.ts';
import { simulatorTargetStats } from '../simulators/evaluate.ts';
import { sigmoid, type UserSimulator } from '../simulators/simulator.ts';
import { validate } from '../core/validate.ts';
import { requireSimulator, type ActContext, type Agent, type AgentEnvView, type AgentFactory } from './agent.ts';
import { invariant } from '../core/errors.ts';

const WeightsSchema = Type.Object(
  {
    ioi: Type.Number({ description: 'weight of the IoI reward (gain in log p(target))' }),
    ior: Type.Number({ description: 'weight of the IoR reward (gain in the rank of the target)' }),
    ctr: Type.Number({ description: 'weight of the CTR reward (acceptance probability)' }),
  },
  { additionalProperties: false, description: "fused reward weights (default: the environment's)" },
);

/** The top-M allowed items of one row by score (= by CTR, sigmoid being monotone), best first. */
export function topCandidates(scores: Float32Array, offset: number, N: number, M: number, allowed: (i: number) => boolean): number[] {
  const top: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < N; i++) {
    const v = scores[offset + i];
    if (top.length === M && v <= val[M - 1]) continue;
    if (!allowed(i)) continue;
    let k = top.length < M ? top.length : M - 1;
    if (top.length < M) {
      top.push(i);
      val.push(v);
    }
    while (k > 0 && val[k - 1] < v) {
      top[k] = top[k - 1];
      val[k] = val[k - 1];
      k--;
    }
    top[k] = i;
    val[k] = v;
  }
  return top;
}

function allowedFn(obs: ProactiveObservation, avoidHistory: boolean): (i: number) => boolean {
  const hist = avoidHistory ? new Set(obs.history) : null;
  return (i) => obs.actionMask[i] === 1 && !(hist && hist.has(i));
}

// ---------------------------------------------------------------------------------------------
// greedy-ioi
// ---------------------------------------------------------------------------------------------

export const GreedyIoiConfigSchema = Type.Object(
  {
    candidates: Type.Integer({ minimum: 1, default: 20, description: 'M: candidates per step, the allowed items with the highest CTR' }),
    stopThreshold: Type.Number({ default: 0, description: "STOP when no candidate's fused step reward exceeds this" }),
    avoidHistory: Type.Boolean({ default: true, description: 'skip items already in the history' }),
    weights: Type.Optional(WeightsSchema),
  },
  { additionalProperties: false, default: {} },
);
export type GreedyIoiConfig = Static<typeof GreedyIoiConfigSchema>;

export const greedyIoiAgent: AgentFactory = {
  name: 'greedy-ioi',
  description:
    'One-step lookahead with the reward simulator over the top-M candidates by CTR; best fused step reward, STOP when none is positive (oracle: reads the simulator)',
  configSchema: GreedyIoiConfigSchema,
  usesSimulator: true,
  create(partial): Agent {
    const config = validate(GreedyIoiConfigSchema, partial, 'greedy-ioi config');
    return {
      name: 'greedy-ioi',
      config,
      act(observations, ctx) {
        const env = ctx.env;
        const N = env.actionSpace.stop;
        const B = observations.length;
        const w = config.weights ?? env.config.weights;
        const batch = requireSimulator(ctx, 'greedy-ioi').batch();
        invariant(batch.size === B, () => `greedy-ioi: ${B} observations for a simulator batch of ${batch.size}`);
        const scores = batch.scores();
        const targets = Int32Array.from(observations, (o) => o.target);
        const before = batch.targetStats(targets);
        const cands = observations.map((o, r) =>
          o.actionMask[N] && o.step < env.config.maxLength ? topCandidates(scores, r * N, N, config.candidates, allowedFn(o, config.avoidHistory)) : [],
        );
        const best = new Int32Array(B).fill(N);
        const bestR = new Float64Array(B).fill(config.stopThreshold);
        // Candidate j of every row in one clone: one advance per candidate rank.
        const M = Math.max(0, ...cands.map((c) => c.length));
        for (let j = 0; j < M; j++) {
          const rows = Uint8Array.from(cands, (c) => (c.length > j ? 1 : 0));
          const items = Int32Array.from(cands, (c) => (c.length > j ? c[j] : 0));
          const clone = batch.clone();
          try {
            const after = clone.advance(items, targets, rows);
            for (let r = 0; r < B; r++) {
              if (!rows[r]) continue;
              const ctr = sigmoid(scores[r * N + items[r]]);
              const reward = w.ioi * (after.logProb[r] - before.logProb[r]) + w.ior * (before.rank[r] - after.rank[r]) + w.ctr * ctr;
              if (reward > bestR[r]) {
                bestR[r] = reward;
                best[r] = items[r];
              }
            }
          } finally {
            clone.dispose();
          }
        }
        return best;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// beam-planner
// ---------------------------------------------------------------------------------------------

export const BeamPlannerConfigSchema = Type.Object(
  {
    beamWidth: Type.Integer({ minimum: 1, default: 4, description: 'W: beams kept per case at each depth' }),
    /**
     * M: candidates (highest CTR) expanded per beam. 20, as greedy-ioi, so that the greedy path is
     * in the search space (on synthetic-v0, M = 8 found worse paths than greedy-ioi's).
     */
    candidates: Type.Integer({ minimum: 1, default: 20, description: 'M: candidates (highest CTR) expanded per beam' }),
    depth: Type.Integer({ minimum: 0, default: 0, description: "longest planned path (0: the environment's L_max)" }),
    avoidHistory: Type.Boolean({ default: true, description: 'skip items already in the history' }),
    weights: Type.Optional(WeightsSchema),
  },
  { additionalProperties: false, default: {} },
);
export type BeamPlannerConfig = Static<typeof BeamPlannerConfigSchema>;

interface PlanBeam {
  row: number;
  items: number[];
  /** Cumulative fused reward of the items. */
  value: number;
  logProb: number;
  rank: number;
}

/**
 * Sequences opened in one simulator batch at most. A beam level holds rows × W × M sequences
 * (256 × 4 × 20 = 20,480 at the bench's defaults): on ml-1m that is 250 MB of scores alone, and the
 * wasm heap ran out ("table index is out of bounds"), so levels are scored in chunks.
 */
export const PLAN_CHUNK = 2048;

/** Scores over all items of each sequence, [sequences × N], opened `chunk` sequences at a time. */
function scoresChunked(sim: UserSimulator, sequences: readonly (readonly number[])[], chunk: number): Float32Array {
  const out = new Float32Array(sequences.length * sim.numItems);
  for (let from = 0; from < sequences.length; from += chunk) {
    const batch = sim.open(sequences.slice(from, from + chunk));
    try {
      out.set(batch.scores(), from * sim.numItems);
    } finally {
      batch.dispose();
    }
  }
  return out;
}

/**
 * Plans one path per row from the observations' current sequences with the world's reward
 * simulator (opening batches of arbitrary sequences). Returns the best prefix per row.
 */
export function planPaths(
  env: AgentEnvView,
  sim: UserSimulator,
  observations: readonly ProactiveObservation[],
  rows: readonly number[],
  config: BeamPlannerConfig,
  chunk = PLAN_CHUNK,
): Map<number, number[]> {
  const N = env.actionSpace.stop;
  const w = config.weights ?? env.config.weights;
  const depth = config.depth > 0 ? config.depth : env.config.maxLength;
  const seqOf = (r: number) => [...observations[r].history, ...observations[r].path];
  const out = new Map<number, number[]>();
  if (rows.length === 0) return out;
  // Root: the current state of each row.
  const rootStats = simulatorTargetStats(sim, { prefixes: rows.map(seqOf), targets: Int32Array.from(rows, (r) => observations[r].target) }, chunk);
  let beams: PlanBeam[] = rows.map((r, k) => ({ row: r, items: [], value: 0, logProb: rootStats.logProb[k], rank: rootStats.rank[k] }));
  const best = new Map<number, { items: number[]; value: number }>(rows.map((r) => [r, { items: [], value: 0 }]));
  const stepsLeft = (r: number) => depth - observations[r].proposed.length;
  for (let d = 0; d < depth && beams.length > 0; d++) {
    beams = beams.filter((b) => b.items.length < stepsLeft(b.row));
    if (beams.length === 0) break;
    // Scores of every beam's sequence: its candidates (top-M allowed by CTR).
    const scores = scoresChunked(
      sim,
      beams.map((b) => [...seqOf(b.row), ...b.items]),
      chunk,
    );
    const expansions: { beam: PlanBeam; item: number; ctr: number }[] = [];
    beams.forEach((b, k) => {
      const obs = observations[b.row];
      const used = new Set(b.items);
      const base = allowedFn(obs, config.avoidHistory);
      for (const item of topCandidates(scores, k * N, N, config.candidates, (i) => base(i) && !used.has(i)))
        expansions.push({ beam: b, item, ctr: sigmoid(scores[k * N + item]) });
    });
    if (expansions.length === 0) break;
    const stats = simulatorTargetStats(
      sim,
      {
        prefixes: expansions.map((e) => [...seqOf(e.beam.row), ...e.beam.items, e.item]),
        targets: Int32Array.from(expansions, (e) => observations[e.beam.row].target),
      },
      chunk,
    );
    const byRow = new Map<number, PlanBeam[]>();
    expansions.forEach((e, k) => {
      const b = e.beam;
      const reward = w.ioi * (stats.logProb[k] - b.logProb) + w.ior * (b.rank - stats.rank[k]) + w.ctr * e.ctr;
      const nb: PlanBeam = { row: b.row, items: [...b.items, e.item], value: b.value + reward, logProb: stats.logProb[k], rank: stats.rank[k] };
      const list = byRow.get(b.row) ?? [];
      list.push(nb);
      byRow.set(b.row, list);
      const cur = best.get(b.row)!;
      if (nb.value > cur.value) best.set(b.row, { items: nb.items, value: nb.value });
    });
    beams = [];
    for (const list of byRow.values()) {
      list.sort((x, y) => y.value - x.value);
      beams.push(...list.slice(0, config.beamWidth));
    }
  }
  for (const [r, b] of best) out.set(r, b.items);
  return out;
}

export const beamPlannerAgent: AgentFactory = {
  name: 'beam-planner',
  description:
    'Multi-step beam lookahead with the reward simulator (W beams, top-M candidates by CTR); follows the prefix with the best cumulative fused reward (oracle: reads the simulator)',
  configSchema: BeamPlannerConfigSchema,
  usesSimulator: true,
  create(partial): Agent {
    const config = validate(BeamPlannerConfigSchema, partial, 'beam-planner config');
    // The plan of each row, made at its episode's first step (or when it has none), then followed.
    let plans: ({ start: number; items: number[] } | null)[] = [];
    return {
      name: 'beam-planner',
      config,
      act(observations, ctx: ActContext) {
        const N = ctx.env.actionSpace.stop;
        if (plans.length !== observations.length) plans = new Array(observations.length).fill(null);
        const replan = observations.flatMap((o, r) => (o.step === 0 || plans[r] === null ? [r] : []));
        const active = replan.filter((r) => observations[r].actionMask.some((x, i) => i < N && x === 1));
        for (const r of replan) plans[r] = { start: observations[r].proposed.length, items: [] };
        for (const [r, items] of planPaths(ctx.env, requireSimulator(ctx, 'beam-planner').simulator, observations, active, config)) plans[r]!.items = items;
        return Int32Array.from(observations, (o, r) => {
          const plan = plans[r]!;
          const item = plan.items[o.proposed.length - plan.start];
          return item !== undefined && o.actionMask[item] === 1 ? item : N;
        });
      },
    };
  },
};
