/**
 * IPG, Iterative Preference Guidance (Bi et al., 2024), as docs/design.md §7.3 describes it: re-rank the
 * sequential recommender's candidates by
 *
 *     s_i = sigma(u·e_i) · [cos(e_i, e_T) − cos(u, e_T)]
 *
 * (acceptable now × moves the user's representation toward the target), recommend the best, and
 * read the updated user state u after each pick. This implementation reads the REWARD SIMULATOR
 * (its states and scores) as its sequential recommender: an oracle-side baseline, labelled so.
 *
 * Item embeddings: the simulator contract exposes states u(s) and scores u(s)·e_i, not e_i. They
 * are recovered once by ridge least squares on a probe batch of train sequences:
 *     Ê = argmin ‖S Êᵀ − Y‖² + λ‖Ê‖²,  S = states [M × D], Y = scores [M × N],
 * exact when the simulator's scores are linear in its state (the synthetic world: u = [β·m, 1],
 * e_i = [e_i, b_i], so the popularity bias is one embedding coordinate; SASRec: u·E^T). The
 * relative residual of the fit is reported (`fitResidual`). Differences from the paper: the
 * candidates are the top-M items by the simulator's score, not a separately trained recommender;
 * the path ends (STOP) when no candidate has s_i > 0, i.e. none moves u toward the target, or at
 * L_max.
 */
import { Type, type Static } from '@sinclair/typebox';
import { HISTORY_LENGTH } from '../data/dataset.ts';
import type { UserSimulator } from '../simulators/simulator.ts';
import { sigmoid } from '../simulators/simulator.ts';
import { validate } from '../core/validate.ts';
import { requireSimulator, type Agent, type AgentEnvView, type AgentFactory } from './agent.ts';
import { topCandidates } from './planners.ts';
import { ConfigError, ContractError } from '../core/errors.ts';

export const IpgConfigSchema = Type.Object(
  {
    candidates: Type.Integer({ minimum: 1, default: 50, description: 'M: candidates re-ranked at each step (top-M by simulator score)' }),
    probeSequences: Type.Integer({ minimum: 2, default: 512, description: 'sequences in the least-squares probe batch' }),
    pathLength: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'items per path before STOP (0: stop when no candidate has a positive score, or at L_max)',
    }),
    avoidHistory: Type.Boolean({ default: true, description: 'skip items already in the history' }),
  },
  { additionalProperties: false, default: {} },
);
export type IpgConfig = Static<typeof IpgConfigSchema>;

/** Solves the symmetric positive-definite system A x = b in place by Cholesky (A is D × D). */
function choleskySolve(A: Float64Array, D: number, rhs: Float64Array[]): void {
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * D + j];
      for (let k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
      if (i === j) {
        if (!(s > 0)) throw new ConfigError('IPG: the probe states are rank-deficient; use more probe sequences');
        L[i * D + i] = Math.sqrt(s);
      } else L[i * D + j] = s / L[j * D + j];
    }
  }
  for (const b of rhs) {
    for (let i = 0; i < D; i++) {
      let s = b[i];
      for (let k = 0; k < i; k++) s -= L[i * D + k] * b[k];
      b[i] = s / L[i * D + i];
    }
    for (let i = D - 1; i >= 0; i--) {
      let s = b[i];
      for (let k = i + 1; k < D; k++) s -= L[k * D + i] * b[k];
      b[i] = s / L[i * D + i];
    }
  }
}

/**
 * Item embeddings [N × D] with scores ≈ states · embᵀ, by ridge least squares on the states and
 * scores of `sequences` (read through the SimulatorBatch contract only).
 */
export function fitItemEmbeddings(
  sim: UserSimulator,
  sequences: readonly (readonly number[])[],
  ridge = 1e-6,
): { emb: Float64Array; dim: number; residual: number } {
  const batch = sim.open(sequences);
  const S = batch.states();
  const Y = batch.scores();
  batch.dispose();
  const M = sequences.length;
  const D = S.length / M;
  const N = sim.numItems;
  // Normal equations (SᵀS + λ·tr/D·I) X = SᵀY, one right-hand side per item.
  const A = new Float64Array(D * D);
  for (let m = 0; m < M; m++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) A[i * D + j] += S[m * D + i] * S[m * D + j];
  let tr = 0;
  for (let i = 0; i < D; i++) tr += A[i * D + i];
  for (let i = 0; i < D; i++) A[i * D + i] += (ridge * tr) / D;
  const rhs = Array.from({ length: N }, () => new Float64Array(D));
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const y = Y[m * N + n];
      const r = rhs[n];
      for (let i = 0; i < D; i++) r[i] += S[m * D + i] * y;
    }
  }
  choleskySolve(A, D, rhs);
  const emb = new Float64Array(N * D);
  rhs.forEach((x, n) => emb.set(x, n * D));
  // Relative residual ‖SÊᵀ − Y‖ / ‖Y − ȳ‖.
  let err = 0;
  let tot = 0;
  let mean = 0;
  for (let k = 0; k < Y.length; k++) mean += Y[k];
  mean /= Y.length;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let p = 0;
      for (let i = 0; i < D; i++) p += S[m * D + i] * emb[n * D + i];
      err += (p - Y[m * N + n]) ** 2;
      tot += (Y[m * N + n] - mean) ** 2;
    }
  }
  return { emb, dim: D, residual: Math.sqrt(err / Math.max(tot, 1e-30)) };
}

/** Probe sequences: windows of the train users' sequences of varied lengths (diverse states). */
function probeSequences(env: AgentEnvView, count: number): number[][] {
  const seqs = env.world.dataset.sequences.train;
  const out: number[][] = [];
  for (let k = 0; out.length < count && k < count * 4; k++) {
    const s = seqs[k % Math.max(1, seqs.length)];
    if (!s || s.length === 0) break;
    const len = 1 + (k % (HISTORY_LENGTH + 10));
    const start = (Math.floor(k / Math.max(1, seqs.length)) * 7) % Math.max(1, s.length - len + 1);
    out.push(s.slice(start, start + len));
  }
  // Fall back to case histories when the dataset has no train sequences.
  if (out.length < 2) for (const c of env.world.dataset.cases.train.slice(0, count)) out.push([...c.history]);
  return out;
}

export class IpgAgent implements Agent {
  readonly name = 'ipg';
  private emb: Float64Array | null = null;
  private norms: Float64Array | null = null;
  private dim = 0;
  fitResidual = NaN;

  constructor(readonly config: IpgConfig) {}

  private fit(env: AgentEnvView, sim: UserSimulator): void {
    const fit = fitItemEmbeddings(sim, probeSequences(env, this.config.probeSequences));
    this.emb = fit.emb;
    this.dim = fit.dim;
    this.fitResidual = fit.residual;
    const N = env.actionSpace.stop;
    this.norms = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let i = 0; i < fit.dim; i++) s += fit.emb[n * fit.dim + i] ** 2;
      this.norms[n] = Math.sqrt(s) || 1e-12;
    }
  }

  act(observations: Parameters<Agent['act']>[0], ctx: Parameters<Agent['act']>[1]): Int32Array {
    const env = ctx.env;
    const oracle = requireSimulator(ctx, 'ipg');
    if (!this.emb) this.fit(env, oracle.simulator);
    const emb = this.emb!;
    const norms = this.norms!;
    const D = this.dim;
    const N = env.actionSpace.stop;
    const batch = oracle.batch();
    const U = batch.states();
    const scores = batch.scores();
    if (U.length !== observations.length * D)
      throw new ContractError(`ipg: the simulator state has ${U.length / observations.length} dimensions, the fitted embeddings ${D}`);
    return Int32Array.from(observations, (o, r) => {
      if (this.config.pathLength > 0 && o.step >= this.config.pathLength) return N;
      const hist = this.config.avoidHistory ? new Set(o.history) : null;
      const cands = topCandidates(scores, r * N, N, this.config.candidates, (i) => o.actionMask[i] === 1 && !(hist && hist.has(i)));
      if (cands.length === 0) return N;
      const T = o.target;
      let uT = 0;
      let uu = 0;
      for (let i = 0; i < D; i++) {
        uT += U[r * D + i] * emb[T * D + i];
        uu += U[r * D + i] ** 2;
      }
      const cosUT = uT / (Math.sqrt(uu) * norms[T] || 1e-12);
      let best = N;
      let bestV = this.config.pathLength > 0 ? -Infinity : 0;
      for (const c of cands) {
        let cT = 0;
        for (let i = 0; i < D; i++) cT += emb[c * D + i] * emb[T * D + i];
        const v = sigmoid(scores[r * N + c]) * (cT / (norms[c] * norms[T]) - cosUT);
        if (v > bestV) {
          bestV = v;
          best = c;
        }
      }
      return best;
    });
  }
}

export const ipgAgent: AgentFactory = {
  name: 'ipg',
  description:
    "IPG: re-rank the top-M candidates by sigma(u·e_i)·[cos(e_i,e_T) − cos(u,e_T)], u re-read after each pick; embeddings fitted from the reward simulator's states and scores (reads the simulator)",
  configSchema: IpgConfigSchema,
  usesSimulator: true,
  create(partial) {
    const config = validate(IpgConfigSchema, partial, 'ipg config');
    return new IpgAgent(config);
  },
};
