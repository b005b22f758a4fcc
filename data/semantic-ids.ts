/**
 * Semantic ids from item content by residual quantisation (residual k-means, as in RQ-VAE-style
 * semantic ids, without the learned encoder): level 1 clusters the items' content vectors into K
 * codes; each later level clusters what the previous levels left unexplained (the residual), so
 * that items sharing a prefix of codes have similar content. A last digit tells apart items whose
 * codes collide, as in the ProRL release's 4-token ids (three codebook digits and a collision digit).
 *
 * This gives every environment the kind of item prior the release ships for its real datasets
 * (codes of text embeddings): the synthetic world codes a noisy content view of its items, RecBole
 * and raw-data builds code their items' attributes and title words (contentSemanticIds).
 */
import type { Rng } from '../core/rng.ts';
import { ContractError } from '../core/errors.ts';

export interface ResidualKMeansOptions {
  /** Codebook levels (default 3). */
  readonly levels?: number;
  /** Codes per level (default 16; capped at the number of items). */
  readonly codes?: number;
  /** Lloyd iterations per level (default 25). */
  readonly iterations?: number;
}

/**
 * Codes of N vectors (row-major [N × dim]): per item, `levels` codebook digits in [0, codes) and
 * a collision digit (1 + the item's rank among items with the same digits). Deterministic given
 * `rng` (k-means++ seeding).
 */
export function residualKMeans(vectors: Float64Array | Float32Array, dim: number, rng: Rng, opts: ResidualKMeansOptions = {}): number[][] {
  const N = vectors.length / dim;
  if (!Number.isInteger(N) || N < 1) throw new ContractError(`residualKMeans: ${vectors.length} values are not rows of ${dim}`);
  const levels = opts.levels ?? 3;
  const K = Math.max(1, Math.min(opts.codes ?? 16, N));
  const iterations = opts.iterations ?? 25;
  const residual = Float64Array.from(vectors);
  const codes: number[][] = Array.from({ length: N }, () => []);
  const centroids = new Float64Array(K * dim);
  const assign = new Int32Array(N);
  const dist2 = (i: number, c: number) => {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const d = residual[i * dim + j] - centroids[c * dim + j];
      s += d * d;
    }
    return s;
  };
  for (let level = 0; level < levels; level++) {
    // k-means++ seeding.
    const first = rng.int(N);
    for (let j = 0; j < dim; j++) centroids[j] = residual[first * dim + j];
    const nearest = new Float64Array(N).fill(Infinity);
    for (let c = 1; c < K; c++) {
      let total = 0;
      for (let i = 0; i < N; i++) {
        nearest[i] = Math.min(nearest[i], dist2(i, c - 1));
        total += nearest[i];
      }
      const pick = total > 0 ? rng.categorical(nearest, total) : rng.int(N);
      for (let j = 0; j < dim; j++) centroids[c * dim + j] = residual[pick * dim + j];
    }
    // Lloyd iterations.
    for (let it = 0; it < iterations; it++) {
      let moved = 0;
      for (let i = 0; i < N; i++) {
        let best = 0;
        let bestD = Infinity;
        for (let c = 0; c < K; c++) {
          const d = dist2(i, c);
          if (d < bestD) {
            bestD = d;
            best = c;
          }
        }
        if (assign[i] !== best || it === 0) moved++;
        assign[i] = best;
      }
      const sums = new Float64Array(K * dim);
      const counts = new Int32Array(K);
      for (let i = 0; i < N; i++) {
        counts[assign[i]]++;
        for (let j = 0; j < dim; j++) sums[assign[i] * dim + j] += residual[i * dim + j];
      }
      for (let c = 0; c < K; c++) {
        if (counts[c] === 0) continue; // an empty cluster keeps its centroid
        for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j] / counts[c];
      }
      if (moved === 0) break;
    }
    for (let i = 0; i < N; i++) {
      codes[i].push(assign[i]);
      for (let j = 0; j < dim; j++) residual[i * dim + j] -= centroids[assign[i] * dim + j];
    }
  }
  // Collision digit: 1 + rank among the items with the same codebook digits.
  const seen = new Map<string, number>();
  for (const c of codes) {
    const key = c.join(',');
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    c.push(n);
  }
  return codes;
}

/** FNV-1a of a string, for hashing title words into buckets. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Semantic ids of items that have no text embedding (RecBole and raw-data builds): residual
 * k-means codes of a content vector made of the item's attributes (multi-hot, unit norm) and the
 * words of its title hashed into `titleBuckets` counts (unit norm), the two halves weighted alike.
 * Items with neither get a zero vector (and so the codes of the zero vector's cluster).
 */
export function contentSemanticIds(
  items: {
    readonly count: number;
    readonly titles: readonly string[];
    readonly attributes: readonly (readonly number[])[];
    readonly attributeNames: readonly string[];
  },
  rng: Rng,
  opts: ResidualKMeansOptions & { readonly titleBuckets?: number } = {},
): number[][] {
  const A = items.attributeNames.length;
  const T = opts.titleBuckets ?? 64;
  const dim = A + T;
  const v = new Float64Array(items.count * dim);
  for (let i = 0; i < items.count; i++) {
    const o = i * dim;
    const attrs = items.attributes[i];
    for (const a of attrs) v[o + a] = 1 / Math.sqrt(attrs.length);
    const words = (items.titles[i] ?? '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    let norm = 0;
    for (const w of words) v[o + A + (fnv1a(w) % T)] += 1;
    for (let j = 0; j < T; j++) norm += v[o + A + j] ** 2;
    if (norm > 0) for (let j = 0; j < T; j++) v[o + A + j] /= Math.sqrt(norm);
  }
  return residualKMeans(v, dim, rng, { levels: 3, codes: Math.max(2, Math.min(opts.codes ?? 32, Math.floor(items.count / 4))), iterations: opts.iterations });
}
