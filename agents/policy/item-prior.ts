/** The fixed content matrix of an item prior: what the policy adds to its free item embeddings. */
import type { ItemTable } from '../../data/dataset.ts';
import { ConfigError } from '../../core/errors.ts';
import { cachedCooccurrenceFactors } from '../item-prior.ts';
import { resolvePolicyConfig, type PolicyConfig } from './config.ts';

/**
 * The fixed content matrix F [N × features] of an item prior (PolicyConfig.itemPrior), row-major;
 * rows have unit norm per part (attributes; semantic-id digits; co-occurrence factors), zero where
 * an item has no content. `trainSequences` (the train split's item sequences) are needed by the
 * 'cooccurrence' priors only.
 * @throws Error when the prior needs semantic ids or train sequences the caller does not have.
 */
export function itemContentMatrix(
  items: ItemTable,
  prior: PolicyConfig['itemPrior'],
  trainSequences: readonly (readonly number[])[] | null = null,
  cooccurrence: PolicyConfig['cooccurrence'] = resolvePolicyConfig().cooccurrence,
): { features: number; values: Float32Array } {
  const N = items.count;
  const parts: { width: number; fill: (row: Float32Array, offset: number, i: number) => void }[] = [];
  if (prior === 'attributes' || prior === 'attributes+semantic' || prior === 'attributes+cooccurrence') {
    const A = items.attributeNames.length;
    parts.push({
      width: A,
      fill: (row, o, i) => {
        const attrs = items.attributes[i];
        for (const a of attrs) row[o + a] = 1 / Math.sqrt(attrs.length);
      },
    });
  }
  if (prior === 'semantic' || prior === 'attributes+semantic') {
    const ids = items.semanticIds;
    if (!ids || !ids.some((s) => s.length >= 3)) throw new ConfigError(`itemPrior '${prior}': the dataset has no semantic ids`);
    // The three codebook digits (the fourth, a collision digit, carries no content).
    const vocab = [0, 1, 2].map((l) => 1 + Math.max(0, ...ids.map((s) => (s.length > l ? s[l] : 0))));
    const offsets = [0, vocab[0], vocab[0] + vocab[1]];
    parts.push({
      width: vocab[0] + vocab[1] + vocab[2],
      fill: (row, o, i) => {
        const s = ids[i];
        if (s.length < 3) return;
        for (let l = 0; l < 3; l++) row[o + offsets[l] + s[l]] = 1 / Math.sqrt(3);
      },
    });
  }
  if (prior === 'cooccurrence' || prior === 'attributes+cooccurrence') {
    if (!trainSequences) throw new ConfigError(`itemPrior '${prior}' needs the train split's sequences (create the agent with trainSequences)`);
    const R = cooccurrence.rank;
    const factors = cachedCooccurrenceFactors(N, trainSequences, cooccurrence);
    parts.push({
      width: R,
      fill: (row, o, i) => {
        let norm = 0;
        for (let r = 0; r < R; r++) norm += factors[i * R + r] ** 2;
        if (norm === 0) return;
        const inv = 1 / Math.sqrt(norm);
        for (let r = 0; r < R; r++) row[o + r] = factors[i * R + r] * inv;
      },
    });
  }
  const features = parts.reduce((n, x) => n + x.width, 0);
  const values = new Float32Array(N * features);
  for (let i = 0; i < N; i++) {
    const row = values.subarray(i * features, (i + 1) * features);
    let o = 0;
    for (const part of parts) {
      part.fill(row, o, i);
      o += part.width;
    }
  }
  return { features, values };
}
