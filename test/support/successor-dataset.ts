/**
 * Small datasets with known structure, for simulator tests and quick experiments: users walk a
 * hidden successor permutation (item i is followed by next[i] with probability `follow`, else by a
 * uniform item), so a sequence model can predict the next item far better than popularity can.
 */
import type { Dataset } from '../../data/dataset.ts';
import { itemCounts } from '../../data/dataset.ts';
import { Rng } from '../../core/rng.ts';

export function successorDataset(opts: { numItems?: number; users?: number; length?: number; follow?: number; seed?: number; name?: string } = {}): Dataset {
  const numItems = opts.numItems ?? 40;
  const users = opts.users ?? 300;
  const length = opts.length ?? 20;
  const follow = opts.follow ?? 0.8;
  const seed = opts.seed ?? 0;
  const rng = Rng.stream(seed, 'successor-dataset');
  const next = rng.shuffle(Array.from({ length: numItems }, (_, i) => i));
  const walk = () => {
    const s = [rng.int(numItems)];
    while (s.length < length) s.push(rng.float() < follow ? next[s[s.length - 1]] : rng.int(numItems));
    return s;
  };
  const all = Array.from({ length: users }, walk);
  const nValid = Math.max(1, Math.floor(users / 10));
  const train = all.slice(2 * nValid);
  const valid = all.slice(0, nValid);
  const test = all.slice(nValid, 2 * nValid);
  const trainInteractions = train.reduce((n, s) => n + s.length, 0);
  return {
    name: opts.name ?? 'successor',
    items: {
      count: numItems,
      rawIds: Array.from({ length: numItems }, (_, i) => String(i)),
      titles: Array.from({ length: numItems }, () => ''),
      attributes: Array.from({ length: numItems }, () => []),
      attributeNames: [],
    },
    sequences: { train, valid, test },
    cases: { train: [], valid: [], test: [] },
    simulatorSequences: all,
    popularity: itemCounts(numItems, train),
    meta: {
      source: `successor(seed=${seed}, items=${numItems}, users=${users}, length=${length}, follow=${follow})`,
      trainInteractions,
      simulatorInteractions: users * length,
      simulatorData: `all ${users} walks of ${length} items (leave-one-out per walk)`,
      hash: `successor-${seed}-${numItems}-${users}-${length}-${follow}`,
      notes: [],
    },
  };
}
