/**
 * Stage 1 (docs/design.md §5.1–§5.3): supervised pre-training. The policy imitates the train cases' real
 * proactive paths: given (history, target) it emits the real run's intermediate items, then STOP.
 * Loss: mean negative log-likelihood per decision (items and STOP). The checkpoint kept is the one
 * with the lowest NLL on the valid split, never anything measured on test.
 */
import * as tf from '@tensorflow/tfjs';
import { Type, type Static } from '@sinclair/typebox';
import type { Case, Dataset } from '../data/dataset.ts';
import type { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import { HISTORY_LENGTH } from '../data/dataset.ts';
import { Rng } from '../core/rng.ts';
import { validate } from '../core/validate.ts';
import type { AgentFactory, TrainBudget, TrainCallbacks } from './agent.ts';
import { AdamW, ensureBackend } from './nn.ts';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../core/cache-dir.ts';
import { sourceFingerprint, stableHash } from '../core/hash.ts';
import { numericsId } from '../compute/backend.ts';
import { loadPolicyWeights, PolicyAgent, policyCheckpoint, readPolicyCheckpoint, writeJson } from './policy-agent.ts';
import { packPaths, PolicyConfigSchema, PolicyNetwork, trainingTerms, type MaskOptions, type PathRecord } from './policy.ts';
import { StringEnum } from '../core/validate.ts';
import { ConfigError } from '../core/errors.ts';

export const SupervisedConfigSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 0, default: 10, description: 'passes over the train cases' }),
    batchSize: Type.Integer({ minimum: 1, default: 128, description: 'paths per gradient step' }),
    lr: Type.Number({ exclusiveMinimum: 0, default: 2e-3, description: 'learning rate (AdamW)' }),
    weightDecay: Type.Number({ minimum: 0, default: 0.01, description: 'AdamW weight decay' }),
    clipNorm: Type.Number({ minimum: 0, default: 5, description: 'global gradient-norm clip (0: no clipping)' }),
    patience: Type.Integer({ minimum: 0, default: 2, description: 'stop when the valid NLL has not improved for this many epochs (0: never)' }),
    maxTrainCases: Type.Integer({ minimum: 0, default: 0, description: 'cap on the train cases per epoch (0: all)' }),
    maxValidCases: Type.Integer({ minimum: 0, default: 0, description: 'cap on the valid cases used for model selection (0: all)' }),
    /**
     * Share of hindsight-relabelled windows among each epoch's examples (0: the coherent-run
     * demonstrations only; 1: windows only). A window is 10 items of a train user's real sequence,
     * the next k items (k uniform in 0..L_max − 1, re-drawn every epoch) as the path, then STOP, and
     * the item after them as the target: a target the user really reached, which the policy must
     * read to imitate the path. Valid examples are built the same way from the valid users.
     */
    hindsight: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0,
      description: 'share of hindsight-relabelled windows of real sequences among the examples (0: demonstrations only)',
    }),
    hindsightStride: Type.Integer({ minimum: 1, default: 3, description: 'stride of the hindsight windows over each sequence' }),
    /**
     * Reuse a policy pre-trained under the same key (dataset, configs, seed, L_max) from the cache
     * (<cache>/policies/) instead of training it again; the result is the same either way.
     */
    cache: Type.Boolean({ default: true, description: 'reuse a policy pre-trained under the same key from the cache (same result)' }),
  },
  { additionalProperties: false, default: {}, description: 'supervised training (maximum likelihood)' },
);
export type SupervisedConfig = Static<typeof SupervisedConfigSchema>;

/**
 * Hindsight-relabelled windows of real sequences: for each window start s (every `stride` items),
 * history = seq[s, s+10), path = the next k items (k uniform in 0..maxLength − 1, from `rng`),
 * target = the item after the path, then STOP. Windows the policy could not emit under its masks
 * (the target in the history or the path, a repeated item, a history item with maskHistory) are
 * skipped and counted.
 */
export function hindsightExamples(
  sequences: readonly (readonly number[])[],
  maxLength: number,
  stride: number,
  maskHistory: boolean,
  rng: Rng,
): { paths: PathRecord[]; skipped: number } {
  const paths: PathRecord[] = [];
  let skipped = 0;
  for (const seq of sequences) {
    for (let s = 0; s + HISTORY_LENGTH < seq.length; s += stride) {
      const room = seq.length - s - HISTORY_LENGTH; // items after the history: path + target
      const k = rng.int(Math.min(maxLength, room));
      const history = seq.slice(s, s + HISTORY_LENGTH);
      const items = seq.slice(s + HISTORY_LENGTH, s + HISTORY_LENGTH + k);
      const target = seq[s + HISTORY_LENGTH + k];
      const seen = new Set<number>();
      let ok = !history.includes(target);
      for (const i of items) {
        if (i === target || seen.has(i) || (maskHistory && history.includes(i))) ok = false;
        seen.add(i);
      }
      if (!ok) {
        skipped++;
        continue;
      }
      paths.push({ history, target, items, stopped: true });
    }
  }
  return { paths, skipped };
}

/**
 * The examples of one epoch: every demonstration and, with share h of hindsight windows,
 * round(D·h/(1−h)) windows drawn without replacement (all windows and no demonstrations at h = 1).
 */
function mixExamples(demos: readonly PathRecord[], windows: readonly PathRecord[], share: number, rng: Rng): PathRecord[] {
  if (share <= 0) return [...demos];
  if (share >= 1) return [...windows];
  const want = Math.min(windows.length, Math.round((demos.length * share) / (1 - share)));
  const pick = rng.shuffle(windows.map((_, i) => i)).slice(0, want);
  return [...demos, ...pick.map((i) => windows[i])];
}

/**
 * The demonstration of a case: its real path then STOP (no STOP term when the path already has
 * L_max items: the environment would truncate there). Null when the policy could not emit the
 * path under its masks (an item equal to the target, repeated, or in the history with maskHistory).
 */
export function demonstration(c: Case, maxLength: number, maskHistory: boolean): PathRecord | null {
  const real = c.path ?? [];
  const items = real.slice(0, maxLength);
  const seen = new Set<number>();
  for (const i of items) {
    if (i === c.target || seen.has(i) || (maskHistory && c.history.includes(i))) return null;
    seen.add(i);
  }
  if (c.history.length !== HISTORY_LENGTH) return null;
  return { history: c.history, target: c.target, items, stopped: items.length < maxLength };
}

export function demonstrations(cases: readonly Case[], maxLength: number, maskHistory: boolean): { paths: PathRecord[]; skipped: number } {
  const paths: PathRecord[] = [];
  let skipped = 0;
  for (const c of cases) {
    const d = demonstration(c, maxLength, maskHistory);
    if (d) paths.push(d);
    else skipped++;
  }
  return { paths, skipped };
}

/** Σ NLL and number of decisions of a batch of demonstrations under `net` (no gradient). */
export function batchNll(
  net: PolicyNetwork,
  paths: readonly PathRecord[],
  batchSize = 256,
  maskOpts: MaskOptions = {},
): { nll: number; terms: number; paths: number } {
  let nll = 0;
  let terms = 0;
  for (let i = 0; i < paths.length; i += batchSize) {
    const traj = packPaths(paths.slice(i, i + batchSize));
    const t = trainingTerms(traj, net.stop);
    const mask = net.buildMask(traj, t, null, maskOpts);
    const s = tf.tidy(() => tf.neg(tf.sum(net.chosenLogProbs(net.termLogProbs(traj, t, mask), t))));
    nll += s.dataSync()[0];
    s.dispose();
    terms += t.count;
  }
  return { nll, terms, paths: paths.length };
}

export const SupervisedResultSchema = Type.Object(
  {
    bestEpoch: Type.Integer({ minimum: 0 }),
    /** Lowest valid NLL per decision; null when there were no valid demonstrations (NaN in memory). */
    bestValidNll: Type.Union([Type.Number(), Type.Null()]),
    epochsRun: Type.Integer({ minimum: 0 }),
    skippedTrain: Type.Integer({ minimum: 0 }),
    skippedValid: Type.Integer({ minimum: 0 }),
    /**
     * The kept weights' valid NLL per decision with the valid targets permuted among the examples:
     * minus bestValidNll it is how much the policy reads its target (0: it ignores it). Null
     * without valid examples.
     */
    permutedValidNll: Type.Union([Type.Number(), Type.Null()]),
    /** Wall seconds (informative). */
    seconds: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type SupervisedResult = Static<typeof SupervisedResultSchema>;

/**
 * Valid NLL per decision with each example's target replaced by another example's (a seeded
 * derangement-like shuffle; examples whose new target would be illegal for their path keep theirs).
 */
export function permutedTargetNll(net: PolicyNetwork, paths: readonly PathRecord[], seed: number, maskOpts: MaskOptions = {}): number {
  if (paths.length < 2) return NaN;
  const order = Rng.stream(seed, 'permuted-targets').shuffle(paths.map((_, i) => i));
  const permuted = paths.map((p, i) => {
    const t = paths[order[i]].target;
    const legal = !Array.from(p.history).includes(t) && !Array.from(p.items).includes(t);
    return legal ? { ...p, target: t } : p;
  });
  const r = batchNll(net, permuted, 256, maskOpts);
  return r.nll / r.terms;
}

export interface MleData {
  /** The examples of an epoch (may differ per epoch, e.g. re-drawn targets). */
  train(epoch: number): readonly PathRecord[];
  valid: readonly PathRecord[];
  skippedTrain: number;
  skippedValid: number;
  maskOpts?: MaskOptions;
  /** Prefix of the logged names. */
  label: string;
}

/**
 * Maximum likelihood on demonstrations: minimise the mean over decisions of −log π(a_t | s_t),
 * leaving `net` at the epoch with the lowest valid NLL per decision (epoch 0 = initial weights).
 */
export async function trainMle(
  net: PolicyNetwork,
  data: MleData,
  config: SupervisedConfig,
  ctx: { seed: number; budget?: TrainBudget; callbacks?: TrainCallbacks; progressScale?: [number, number] },
): Promise<SupervisedResult> {
  const started = performance.now();
  const L = data.label;
  const valid = config.maxValidCases > 0 ? data.valid.slice(0, config.maxValidCases) : data.valid;
  const optimizer = new AdamW(net.params, { lr: config.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay, clipNorm: config.clipNorm });
  const epochs = ctx.budget?.epochs ?? config.epochs;
  const [p0, p1] = ctx.progressScale ?? [0, 1];
  const validNll = () => {
    if (valid.length === 0) return NaN;
    const r = batchNll(net, valid, 256, data.maskOpts);
    return r.nll / r.terms;
  };
  let best = validNll();
  let bestEpoch = 0;
  let bestWeights = net.params.snapshot();
  let stale = 0;
  let epoch: number;
  let step = 0;
  ctx.callbacks?.onLog?.(0, { [`${L}/validNll`]: best });
  for (epoch = 1; epoch <= epochs; epoch++) {
    const examples = data.train(epoch);
    if (examples.length === 0) throw new ConfigError(`${L}: no train examples`);
    // Each epoch's order comes from its own stream: the same seed gives the same batches.
    const order = Rng.stream(ctx.seed, `${L}/epoch-${epoch}`).shuffle(examples.map((_, i) => i));
    const use = config.maxTrainCases > 0 ? order.slice(0, config.maxTrainCases) : order;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < use.length; i += config.batchSize) {
      const traj = packPaths(use.slice(i, i + config.batchSize).map((j) => examples[j]));
      const terms = trainingTerms(traj, net.stop);
      const mask = net.buildMask(traj, terms, null, data.maskOpts);
      // Loss = mean over decisions of −log π(a_t | s_t): every item of the real path, then STOP.
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(net.chosenLogProbs(net.termLogProbs(traj, terms, mask), terms))) as tf.Scalar,
        net.params.list(),
      );
      const named: Record<string, tf.Tensor> = {};
      for (const k of net.params.keys) named[k] = grads[net.params.get(k).name];
      optimizer.apply(named);
      sum += value.dataSync()[0] * terms.count;
      count += terms.count;
      tf.dispose([value, ...Object.values(grads)]);
      step++;
      ctx.callbacks?.onProgress?.(
        p0 + (p1 - p0) * ((epoch - 1 + Math.min(1, (i + config.batchSize) / use.length)) / Math.max(1, epochs)),
        // With patience the epoch count is a bound, not a forecast: the bar's ETA assumes every epoch.
        config.patience > 0
          ? `${L} epoch ${epoch} of at most ${epochs} (stops early when valid NLL stalls; the ETA assumes all)`
          : `${L} epoch ${epoch}/${epochs}`,
      );
      await new Promise<void>((r) => setImmediate(r));
    }
    const v = validNll();
    ctx.callbacks?.onLog?.(step, { [`${L}/epoch`]: epoch, [`${L}/trainNll`]: sum / Math.max(1, count), [`${L}/validNll`]: v });
    if (v < best || Number.isNaN(best)) {
      best = v;
      bestEpoch = epoch;
      bestWeights = net.params.snapshot();
      stale = 0;
    } else if (config.patience > 0 && ++stale >= config.patience) {
      epoch++;
      break;
    }
  }
  net.params.restore(bestWeights);
  optimizer.dispose();
  const permuted = valid.length > 1 ? permutedTargetNll(net, valid, ctx.seed, data.maskOpts) : NaN;
  if (Number.isFinite(best) && Number.isFinite(permuted))
    ctx.callbacks?.onLog?.(step, { [`${L}/validNllKept`]: best, [`${L}/validNllPermutedTargets`]: permuted });
  const seconds = (performance.now() - started) / 1000;
  ctx.callbacks?.onTime?.(L, seconds);
  return {
    bestEpoch,
    bestValidNll: Number.isNaN(best) ? null : best,
    permutedValidNll: Number.isNaN(permuted) ? null : permuted,
    epochsRun: epoch - 1,
    skippedTrain: data.skippedTrain,
    skippedValid: data.skippedValid,
    seconds,
  };
}

/**
 * The identity of the code that pre-trains a policy (the agents' and the policy's, compute and core folders): part of
 * the cache key, so a policy pre-trained by older code (other numerics, other data handling) is
 * trained again rather than silently reused.
 */
export function pretrainCode(): string {
  return sourceFingerprint(PRETRAIN_CODE_DIRS.map((d) => new URL(d, import.meta.url)));
}

/** The folders whose source `pretrainCode` covers (the fingerprint is not recursive). */
export const PRETRAIN_CODE_DIRS = ['./', './policy/', '../compute/', '../compute/kernels/', '../compute/native/', '../compute/nn/', '../core/'] as const;

/**
 * The file under <cache>/policies/ of the policy that `trainSupervisedCached` pre-trains for these
 * arguments, with its key: the code, the backend's numerics (`numericsId`: the same training on
 * another backend, or with the native products, gives other bits), the dataset, the policy and
 * training configs, the seed, L_max and the epoch budget.
 */
export function pretrainCacheFile(
  net: PolicyNetwork,
  dataset: Dataset,
  config: SupervisedConfig,
  ctx: { seed: number; budget?: TrainBudget; maxLength: number },
): { file: string; key: string } {
  const key = stableHash({
    v: 2,
    code: pretrainCode(),
    numerics: numericsId(),
    dataset: dataset.meta.hash,
    numItems: net.numItems,
    policy: net.config,
    config,
    seed: ctx.seed,
    maxLength: ctx.maxLength,
    epochs: ctx.budget?.epochs ?? null,
  });
  return { file: path.join(cacheDir(), 'policies', `pretrain-${key.slice(0, 24)}.json`), key };
}

/**
 * `trainSupervised` through a cache of pre-trained policies (<cache>/policies/): training is
 * deterministic given the code (`pretrainCode`), the backend's numerics, the dataset, the policy and
 * training configs, the seed and L_max (`pretrainCacheFile`), so a policy trained once under the same key is loaded instead of trained again,
 * and its logged curve points are replayed, so that a run's result file is the same either way
 * (timings aside). Every RL agent at a run seed pre-trains exactly the `supervised` agent's policy:
 * the first of them trains it.
 */
export async function trainSupervisedCached(
  net: PolicyNetwork,
  dataset: Dataset,
  config: SupervisedConfig,
  ctx: { seed: number; budget?: TrainBudget; callbacks?: TrainCallbacks; maxLength: number; progressScale?: [number, number] },
): Promise<SupervisedResult> {
  if (!config.cache) return trainSupervised(net, dataset, config, ctx);
  const { file, key } = pretrainCacheFile(net, dataset, config, ctx);
  if (existsSync(file)) {
    // Verified before its weights are loaded: an entry edited or damaged after it was written (its
    // header intact) is not served; it is removed and the policy trained again, with a warning.
    const why = await pretrainCacheProblem(file, key);
    if (why === null) {
      const json = await loadPolicyWeights(net, file);
      const cached = validate(PretrainCacheSchema, json.training, `pre-trained policy ${file}`);
      for (const p of cached.curve) ctx.callbacks?.onLog?.(p.step, p.values);
      return cached.result;
    }
    process.stderr.write(`warning: ${file}: not a usable pre-trained policy (${why}); training it again\n`);
    rmSync(file, { force: true });
  }
  const curve: { step: number; values: Record<string, number> }[] = [];
  const result = await trainSupervised(net, dataset, config, {
    ...ctx,
    callbacks: {
      ...ctx.callbacks,
      onLog(step, values) {
        curve.push({ step, values });
        ctx.callbacks?.onLog?.(step, values);
      },
    },
  });
  const checkpoint = policyCheckpoint('supervised', net);
  const sha256 = stableHash({ params: checkpoint.params, key, result, curve });
  await writeJson(file, { ...checkpoint, training: { kind: 'pretrain-cache', key, result, curve, sha256 } });
  return result;
}

/** Why the pre-trained policy `file` must not be served for `key` (unreadable, another key, a checksum mismatch), or null. */
async function pretrainCacheProblem(file: string, key: string): Promise<string | null> {
  try {
    const json = await readPolicyCheckpoint(file);
    const t = validate(PretrainCacheSchema, json.training, `pre-trained policy ${file}`);
    if (t.key !== key) return 'written for another key';
    if (t.sha256 !== stableHash({ params: json.params, key: t.key, result: t.result, curve: t.curve }))
      return 'content checksum mismatch: the file was changed after it was written';
    return null;
  } catch (e) {
    return (e as Error).message.split('\n').slice(0, 2).join(' ');
  }
}

const PretrainCacheSchema = Type.Object(
  {
    kind: Type.Literal('pretrain-cache'),
    key: Type.String(),
    result: SupervisedResultSchema,
    curve: Type.Array(Type.Object({ step: Type.Integer(), values: Type.Record(Type.String(), Type.Number()) }, { additionalProperties: false })),
    /** sha256 of the canonical JSON of { params, key, result, curve }: checked before the weights are loaded. */
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

/** Stage 1: imitate the train cases' real paths then STOP; select on the valid cases' NLL. */
export function trainSupervised(
  net: PolicyNetwork,
  dataset: Dataset,
  config: SupervisedConfig,
  ctx: { seed: number; budget?: TrainBudget; callbacks?: TrainCallbacks; maxLength: number; progressScale?: [number, number] },
): Promise<SupervisedResult> {
  const maskHistory = net.config.maskHistory;
  const L = ctx.maxLength;
  const train = demonstrations(dataset.cases.train, L, maskHistory);
  const valid = demonstrations(dataset.cases.valid, L, maskHistory);
  const h = config.hindsight;
  const windows = (split: 'train' | 'valid', stream: string) =>
    hindsightExamples(dataset.sequences[split], L, config.hindsightStride, maskHistory, Rng.stream(ctx.seed, stream));
  // Model selection on the valid split built the same way (one fixed draw).
  const validSet =
    h > 0 ? mixExamples(valid.paths, windows('valid', 'supervised/hindsight-valid').paths, h, Rng.stream(ctx.seed, 'supervised/mix-valid')) : valid.paths;
  const trainSet = (epoch: number) =>
    h > 0 ? mixExamples(train.paths, windows('train', `supervised/hindsight-${epoch}`).paths, h, Rng.stream(ctx.seed, `supervised/mix-${epoch}`)) : train.paths;
  return trainMle(net, { train: trainSet, valid: validSet, skippedTrain: train.skipped, skippedValid: valid.skipped, label: 'supervised' }, config, ctx);
}

// ---------------------------------------------------------------------------------------------
// The `supervised` agent
// ---------------------------------------------------------------------------------------------

export const SupervisedAgentConfigSchema = Type.Object(
  {
    policy: PolicyConfigSchema,
    supervised: SupervisedConfigSchema,
    decode: StringEnum(['greedy', 'sample'] as const, { default: 'greedy', description: 'evaluation decoding: greedy (argmax) or sample' }),
    init: Type.Optional(Type.String({ description: 'policy checkpoint to start from instead of training' })),
  },
  { additionalProperties: false, default: {} },
);
export type SupervisedAgentConfig = Static<typeof SupervisedAgentConfigSchema>;

export class SupervisedAgent extends PolicyAgent {
  result: SupervisedResult | null = null;

  constructor(
    net: PolicyNetwork,
    readonly config: SupervisedAgentConfig,
  ) {
    super('supervised', net, config.decode);
  }

  async train(makeEnv: (numEnvs: number) => Promise<ProactiveRecVectorEnv>, budget: TrainBudget, ctx: { rng: Rng; callbacks?: TrainCallbacks }): Promise<void> {
    if (this.config.init) {
      await this.load(this.config.init);
      return;
    }
    const env = await makeEnv(1);
    try {
      this.result = await trainSupervisedCached(this.net, env.world.dataset, this.config.supervised, {
        seed: ctx.rng.seed32(),
        budget,
        callbacks: ctx.callbacks,
        maxLength: env.config.maxLength,
      });
      const nll = this.result.bestValidNll;
      ctx.callbacks?.onLog?.(this.result.epochsRun, {
        'supervised/bestEpoch': this.result.bestEpoch,
        ...(nll === null ? {} : { 'supervised/bestValidNll': nll }),
      });
      ctx.callbacks?.onProgress?.(1, 'supervised done');
    } finally {
      env.close();
    }
  }
}

export const supervisedAgent: AgentFactory = {
  name: 'supervised',
  description:
    'Item-level policy (causal attention over history ⊕ path, target as a key) imitating real attribute-coherent paths then STOP (stage 1 of ProRL); checkpoint chosen by valid NLL',
  configSchema: SupervisedAgentConfigSchema,
  async create(config, ctx) {
    await ensureBackend();
    const c = validate(SupervisedAgentConfigSchema, config, 'supervised config');
    return new SupervisedAgent(
      new PolicyNetwork(ctx.numItems, c.policy, { seed: ctx.seed, items: ctx.items ?? null, trainSequences: ctx.trainSequences ?? null }),
      c,
    );
  },
};
