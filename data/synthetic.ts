/**
 * The synthetic world: a generative model of users whose interest drifts toward what they consume,
 * generated from a seed in about a second with no data files. It is the default environment
 * (`synthetic-v0`), and its exact dynamics serve as the ground-truth user simulator.
 *
 * Model (all draws from the `world` stream of the seed):
 * - A attributes (genres), each with a random unit centroid c_g in R^d.
 * - N items, each with 1-3 attributes; its topic vector e_i = normalise(mean_g c_g + σ·noise), and a
 *   popularity bias b_i ~ Normal(biasMean, biasStd).
 * - A user's interest after consuming s = (s_1..s_n) is the moving average
 *   m(s) = (1-η)·m(s_1..s_{n-1}) + η·e_{s_n},  m(∅) = 0,
 *   and score_i(s) = β·m(s)·e_i + b_i;  p(i | s) = softmax(score(s))_i;  CTR_a = sigmoid(score_a).
 *   The state is therefore fully determined by the sequence, which makes the simulator exact.
 * - Logs: each user's first item is drawn from a persona (a random mixture of 1-2 genre centroids,
 *   the same softmax form); every next item from p(· | s) restricted to items the user has not
 *   consumed yet. Sequence lengths are 25 + Geometric(mean lengthExtra).
 * - Cases as for the real data (docs/design.md §6.3): users are split 80/10/10 (train/valid/test);
 *   train/valid cases are 10-item windows followed by the real attribute-coherent run (2..10 items,
 *   its last item is the target); test cases are 10-item windows with a uniformly random target
 *   drawn from the items not in the history.
 */
import { Type, type Static } from '@sinclair/typebox';
import { HISTORY_LENGTH, interactionCount, itemCounts, shareAttribute, type Case, type Dataset, type ItemTable, type Split } from './dataset.ts';
import { stableHash } from '../core/hash.ts';
import { residualKMeans } from './semantic-ids.ts';
import { Rng } from '../core/rng.ts';
import { validate } from '../core/validate.ts';

export const SyntheticConfigSchema = Type.Object(
  {
    seed: Type.Integer({ default: 0, description: 'world seed' }),
    numItems: Type.Integer({ minimum: 50, maximum: 200000, default: 1000 }),
    numUsers: Type.Integer({ minimum: 30, maximum: 1000000, default: 2000 }),
    numAttributes: Type.Integer({ minimum: 2, maximum: 1000, default: 18 }),
    dim: Type.Integer({ minimum: 2, maximum: 512, default: 16 }),
    /** Interest drift rate η: weight of the newest item in the moving average. */
    drift: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.35 }),
    /** Inverse temperature β of the choice model. */
    sharpness: Type.Number({ exclusiveMinimum: 0, default: 6 }),
    itemNoise: Type.Number({ minimum: 0, default: 0.35 }),
    biasMean: Type.Number({ default: -1 }),
    biasStd: Type.Number({ minimum: 0, default: 0.7 }),
    /** Mean of the geometric part of a user's sequence length (total = 25 + extra). */
    lengthExtra: Type.Number({ minimum: 0, default: 15 }),
    /** Window stride when cutting cases from a user's sequence. */
    caseStride: Type.Integer({ minimum: 1, default: 5 }),
    /** Longest real run (path + target) kept in a train/valid case. */
    maxRun: Type.Integer({ minimum: 2, maximum: 10, default: 10 }),
    /**
     * Noise of the items' observable content vectors (what a text embedding is of a real item):
     * c_i = normalise(e_i + contentNoise·z/√d). Their residual k-means codes are the world's
     * semantic ids. Drawn from a stream of their own: the rest of the world does not depend on it.
     */
    contentNoise: Type.Number({ minimum: 0, default: 0.5 }),
    /** Codes per level of the semantic ids (three levels and a collision digit, like the release's). */
    semanticCodes: Type.Integer({ minimum: 2, maximum: 256, default: 16 }),
  },
  { additionalProperties: false, default: {} },
);
export type SyntheticConfig = Static<typeof SyntheticConfigSchema>;

/** The latent parameters of the world: what the exact simulator needs. */
export interface SyntheticWorld {
  readonly config: SyntheticConfig;
  /** Item topic vectors, row-major [N × dim], unit norm. */
  readonly itemVectors: Float32Array;
  /** Popularity bias per item. */
  readonly itemBias: Float32Array;
  readonly dataset: Dataset;
}

const MIN_SEQUENCE = 25;

function unitVector(rng: Rng, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let norm = 0;
  for (let k = 0; k < dim; k++) {
    v[k] = rng.normal();
    norm += v[k] * v[k];
  }
  norm = Math.sqrt(norm);
  for (let k = 0; k < dim; k++) v[k] /= norm;
  return v;
}

function normaliseInPlace(v: Float32Array): void {
  let norm = 0;
  for (let k = 0; k < v.length; k++) norm += v[k] * v[k];
  norm = Math.sqrt(norm) || 1;
  for (let k = 0; k < v.length; k++) v[k] /= norm;
}

/** The dataset hash for caches and checkpoints: of the config's canonical JSON (core/hash.ts). */
function configHash(config: SyntheticConfig): string {
  return `synthetic-${stableHash(config).slice(0, 16)}`;
}

/** Generates the world; `overrides` are validated (unknown or out-of-range fields throw). */
export function generateSyntheticWorld(overrides: Partial<SyntheticConfig> = {}): SyntheticWorld {
  const config = validate(SyntheticConfigSchema, overrides, 'synthetic world config');
  const { numItems: N, numUsers, numAttributes: A, dim: d, sharpness: beta, drift: eta } = config;
  const rng = Rng.stream(config.seed, 'world');

  // Attributes and items.
  const centroids = Array.from({ length: A }, () => unitVector(rng, d));
  const attributes: number[][] = [];
  const itemVectors = new Float32Array(N * d);
  const itemBias = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const u = rng.float();
    const k = u < 0.5 ? 1 : u < 0.85 ? 2 : 3;
    const attrs = new Set<number>();
    while (attrs.size < k) attrs.add(rng.int(A));
    const sorted = [...attrs].sort((a, b) => a - b);
    attributes.push(sorted);
    const v = new Float32Array(d);
    for (const g of sorted) for (let j = 0; j < d; j++) v[j] += centroids[g][j] / sorted.length;
    for (let j = 0; j < d; j++) v[j] += (config.itemNoise * rng.normal()) / Math.sqrt(d);
    normaliseInPlace(v);
    itemVectors.set(v, i * d);
    itemBias[i] = config.biasMean + config.biasStd * rng.normal();
  }
  // Observable content and its semantic ids, from a stream of their own.
  const contentRng = Rng.stream(config.seed, 'content');
  const content = new Float64Array(N * d);
  for (let i = 0; i < N; i++) {
    const v = new Float32Array(d);
    for (let j = 0; j < d; j++) v[j] = itemVectors[i * d + j] + (config.contentNoise * contentRng.normal()) / Math.sqrt(d);
    normaliseInPlace(v);
    content.set(v, i * d);
  }
  const items: ItemTable = {
    count: N,
    rawIds: Array.from({ length: N }, (_, i) => `s${i}`),
    titles: Array.from({ length: N }, (_, i) => `Item ${i} (${attributes[i].map((g) => `genre-${g}`).join(', ')})`),
    attributes,
    attributeNames: Array.from({ length: A }, (_, g) => `genre-${g}`),
    semanticIds: residualKMeans(content, d, contentRng, { levels: 3, codes: config.semanticCodes }),
  };

  // Logs: each user's sequence from the drift dynamics.
  const sequences: number[][] = [];
  const m = new Float32Array(d);
  const weights = new Float64Array(N);
  for (let user = 0; user < numUsers; user++) {
    const length = MIN_SEQUENCE + Math.floor(-config.lengthExtra * Math.log(1 - rng.float()));
    const seen = new Uint8Array(N);
    const seq: number[] = [];
    // Persona: a mixture of one or two genre centroids; used only for the first choice.
    const persona = new Float32Array(d);
    const g1 = rng.int(A);
    const g2 = rng.float() < 0.5 ? rng.int(A) : g1;
    for (let j = 0; j < d; j++) persona[j] = 0.5 * (centroids[g1][j] + centroids[g2][j]);
    normaliseInPlace(persona);
    m.set(persona);
    for (let t = 0; t < Math.min(length, N); t++) {
      let max = -Infinity;
      for (let i = 0; i < N; i++) {
        if (seen[i]) continue;
        let dot = 0;
        for (let j = 0; j < d; j++) dot += m[j] * itemVectors[i * d + j];
        const s = beta * dot + itemBias[i];
        weights[i] = s;
        if (s > max) max = s;
      }
      let total = 0;
      for (let i = 0; i < N; i++) {
        weights[i] = seen[i] ? 0 : Math.exp(weights[i] - max);
        total += weights[i];
      }
      const item = rng.categorical(weights, total);
      seq.push(item);
      seen[item] = 1;
      // The first item replaces the persona: from here on the state is m(s), a function of s alone.
      if (t === 0) m.fill(0);
      for (let j = 0; j < d; j++) m[j] = (1 - eta) * m[j] + eta * itemVectors[item * d + j];
    }
    sequences.push(seq);
  }

  // Users split 80/10/10.
  const order = rng.shuffle(Array.from({ length: numUsers }, (_, u) => u));
  const nValid = Math.max(1, Math.round(numUsers * 0.1));
  const nTest = Math.max(1, Math.round(numUsers * 0.1));
  const splitOf = new Array<Split>(numUsers);
  order.forEach((u, rank) => {
    splitOf[u] = rank < nTest ? 'test' : rank < nTest + nValid ? 'valid' : 'train';
  });

  const bySplit: Record<Split, number[][]> = { train: [], valid: [], test: [] };
  const cases: Record<Split, Case[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < numUsers; u++) {
    const split = splitOf[u];
    const seq = sequences[u];
    bySplit[split].push(seq);
    for (let start = 0; start + HISTORY_LENGTH < seq.length; start += config.caseStride) {
      const history = seq.slice(start, start + HISTORY_LENGTH);
      if (split === 'test') {
        const inHistory = new Set(history);
        let target: number;
        do target = rng.int(N);
        while (inHistory.has(target));
        const continuation = seq.slice(start + HISTORY_LENGTH, start + HISTORY_LENGTH + config.maxRun - 1);
        cases.test.push({ history, target, path: continuation, user: `u${u}` });
      } else {
        // The real attribute-coherent run that follows the window.
        const run = [seq[start + HISTORY_LENGTH]];
        for (let t = start + HISTORY_LENGTH + 1; t < seq.length && run.length < config.maxRun; t++) {
          if (!shareAttribute(items, run[run.length - 1], seq[t])) break;
          run.push(seq[t]);
        }
        if (run.length < 2) continue;
        cases[split].push({ history, target: run[run.length - 1], path: run.slice(0, -1), user: `u${u}` });
      }
    }
  }

  const dataset: Dataset = {
    name: 'synthetic',
    items,
    sequences: bySplit,
    cases,
    // The world's whole logs: every user's sequence, in user order (learned simulators of this world train on them).
    simulatorSequences: sequences,
    popularity: itemCounts(N, bySplit.train),
    meta: {
      source: `synthetic(seed=${config.seed}, items=${N}, users=${numUsers}, attributes=${A}, dim=${d})`,
      trainInteractions: interactionCount(bySplit.train),
      simulatorInteractions: interactionCount(sequences),
      simulatorData: `the world's logs: all ${numUsers} users' sequences (${interactionCount(sequences)} interactions; leave-one-out per sequence for learned simulators)`,
      hash: configHash(config),
      notes: [
        'Generated by the drift model in data/synthetic.ts; users split 80/10/10.',
        `Train/valid cases: 10-item windows (stride ${config.caseStride}) followed by a real attribute-coherent run of 2..${config.maxRun} items.`,
        'Test cases: 10-item windows with a uniformly random target outside the history.',
      ],
    },
  };
  return { config, itemVectors, itemBias, dataset };
}
