/**
 * IRN, the Influential Recommender Network (Zhu et al., ICDE 2023): a target-conditioned sequence
 * model trained on real user sequences. Here: the policy network with its self-attention encoder
 * (the target is a key every position attends to), trained by maximum likelihood on windows of the
 * train users' real sequences: a 10-item history, the next k items (k uniform in 1..L_max+1,
 * re-drawn each epoch), and the k-th of them as the target. The model learns to predict each
 * next item given the history, the items so far and the target, including the target itself as
 * the last prediction: no STOP action. At inference it decodes greedily over items ∪ {target}
 * and ends the path (STOP) when its most likely next item is the target, as IRN ends its
 * influence path when it generates the target, or at L_max.
 *
 * Differences from the paper: one attention block instead of a multi-layer transformer; no
 * personalised impressionability mask (PIM: IRN's per-user weighting of how strongly the target
 * token is attended to); targets drawn from the user's own continuation, not from a separate
 * target sampler; the checkpoint is chosen by valid NLL on the valid users' windows.
 */
import { CloneType, Type, type Static } from '@sinclair/typebox';
import { HISTORY_LENGTH } from '../data/dataset.ts';
import type { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { Rng } from '../core/rng.ts';
import { StringEnum, validate } from '../core/validate.ts';
import type { ActContext, Agent, AgentFactory, TrainBudget, TrainCallbacks } from './agent.ts';
import { ensureBackend } from './nn.ts';
import { loadPolicyWeights, observationPaths, policyCheckpoint, writeJson } from './policy-agent.ts';
import { packPaths, PolicyConfigSchema, PolicyNetwork, type MaskOptions, type PathRecord } from './policy.ts';
import { SupervisedConfigSchema, trainMle, type SupervisedResult } from './supervised.ts';

const IRN_MASK: MaskOptions = { allowTarget: true, forbidStop: true };

export const IrnConfigSchema = Type.Object(
  {
    policy: PolicyConfigSchema,
    training: CloneType(SupervisedConfigSchema, { description: 'maximum-likelihood training on windows of real sequences' }),
    stride: Type.Integer({ minimum: 1, default: 3, description: "window stride over each user's sequence" }),
    decode: StringEnum(['greedy'] as const, { default: 'greedy', description: 'decoding (greedy only; ends the path when the target is predicted)' }),
  },
  { additionalProperties: false, default: {} },
);
export type IrnConfig = Static<typeof IrnConfigSchema>;

/**
 * Training examples from real sequences: items = the k items after the window (the last one is
 * the target). Windows whose continuation repeats an item, or (with maskHistory) contains a
 * history item, are skipped: the model could not emit them under its masks.
 */
export function irnExamples(
  sequences: readonly (readonly number[])[],
  maxLength: number,
  stride: number,
  maskHistory: boolean,
  rng: Rng,
): { paths: PathRecord[]; skipped: number } {
  const paths: PathRecord[] = [];
  let skipped = 0;
  for (const seq of sequences) {
    for (let start = 0; start + HISTORY_LENGTH < seq.length; start += stride) {
      const history = seq.slice(start, start + HISTORY_LENGTH);
      const avail = Math.min(maxLength + 1, seq.length - start - HISTORY_LENGTH);
      const k = 1 + rng.int(avail);
      const items = seq.slice(start + HISTORY_LENGTH, start + HISTORY_LENGTH + k);
      const target = items[items.length - 1];
      const path = items.slice(0, -1);
      const seen = new Set<number>();
      let ok = true;
      for (const i of path) {
        if (i === target || seen.has(i) || (maskHistory && history.includes(i))) ok = false;
        seen.add(i);
      }
      if (history.includes(target)) ok = false;
      if (!ok) {
        skipped++;
        continue;
      }
      paths.push({ history, target, items, stopped: false });
    }
  }
  return { paths, skipped };
}

export class IrnAgent implements Agent {
  readonly name = 'irn';
  result: SupervisedResult | null = null;

  constructor(
    readonly net: PolicyNetwork,
    readonly config: IrnConfig,
  ) {}

  async train(makeEnv: (numEnvs: number) => Promise<ProactiveRecVectorEnv>, budget: TrainBudget, ctx: { rng: Rng; callbacks?: TrainCallbacks }): Promise<void> {
    const env = await makeEnv(1);
    try {
      const ds = env.world.dataset;
      const L = env.config.maxLength;
      const seed = ctx.rng.seed32();
      const mh = this.net.config.maskHistory;
      const valid = irnExamples(ds.sequences.valid, L, this.config.stride, mh, Rng.stream(seed, 'irn/valid'));
      const train = (epoch: number) => irnExamples(ds.sequences.train, L, this.config.stride, mh, Rng.stream(seed, `irn/train-${epoch}`)).paths;
      this.result = await trainMle(
        this.net,
        { train, valid: valid.paths, skippedTrain: 0, skippedValid: valid.skipped, maskOpts: IRN_MASK, label: 'irn' },
        this.config.training,
        { seed, budget, callbacks: ctx.callbacks },
      );
      ctx.callbacks?.onProgress?.(1, 'irn done');
    } finally {
      env.close();
    }
  }

  act(observations: Parameters<Agent['act']>[0], _ctx: ActContext): Int32Array {
    const A = this.net.numItems + 1;
    const N = this.net.numItems;
    const traj = packPaths(observationPaths(observations));
    // The environment forbids the target as an action; IRN may predict it (meaning: stop here).
    const extra = observations.map((o) => {
      const m = o.actionMask.slice();
      m[o.target] = 1;
      return m;
    });
    const logp = this.net.nextLogProbs(traj, extra, IRN_MASK);
    return Int32Array.from(observations, (o, r) => {
      if (!o.actionMask.some((x, i) => i < N && x === 1)) return N;
      let best = -1;
      let bestV = -Infinity;
      for (let a = 0; a < N; a++) {
        const v = logp[r * A + a];
        if (v > bestV) {
          bestV = v;
          best = a;
        }
      }
      return best < 0 || best === o.target ? N : best;
    });
  }

  async save(file: string): Promise<void> {
    await writeJson(file, policyCheckpoint(this.name, this.net));
  }

  async load(file: string): Promise<void> {
    await loadPolicyWeights(this.net, file);
  }

  dispose(): void {
    this.net.dispose();
  }
}

export const irnAgent: AgentFactory = {
  name: 'irn',
  description:
    'IRN-style target-conditioned attention model trained on real sequences (next items, target as the last); stops when it predicts the target (no personalised impressionability mask)',
  configSchema: IrnConfigSchema,
  async create(config, ctx) {
    await ensureBackend();
    const c = validate(IrnConfigSchema, config, 'irn config');
    return new IrnAgent(
      new PolicyNetwork(ctx.numItems, c.policy, { seed: ctx.seed, label: 'irn', items: ctx.items ?? null, trainSequences: ctx.trainSequences ?? null }),
      c,
    );
  },
};
