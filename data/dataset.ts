import { Rng } from '../core/rng.ts';
import { ConfigError } from '../core/errors.ts';

/**
 * The canonical dataset every environment is built from, whatever its source (the synthetic world,
 * the official ProRL release files, RecBole atomic files, raw logs). Item ids are dense: 0..N-1.
 */

export type Split = 'train' | 'valid' | 'test';
export const SPLITS: readonly Split[] = ['train', 'valid', 'test'];

/** Number of history items in every case (docs/design.md §1.1). */
export const HISTORY_LENGTH = 10;

export interface ItemTable {
  /** N: dense ids are 0..N-1. */
  readonly count: number;
  /** The source's id of each dense item (as a string). */
  readonly rawIds: readonly string[];
  /** Titles; '' where the source has none. Untrusted text: escape before display. */
  readonly titles: readonly string[];
  /** Attribute (genre / tag / category) ids of each item, ascending, no repeats; may be empty. */
  readonly attributes: readonly (readonly number[])[];
  /** Name of each attribute id. */
  readonly attributeNames: readonly string[];
  /**
   * Optional semantic ids (the ProRL release's 4-token codes: three codebook digits 0-255 and a
   * collision digit) of each item; [] for an item the source has no code for.
   */
  readonly semanticIds?: readonly (readonly number[])[];
}

export interface Case {
  /** The HISTORY_LENGTH most recent items, oldest first. */
  readonly history: readonly number[];
  readonly target: number;
  /**
   * The real intermediate items between history and target, in order (target excluded), where
   * the source has them: a real attribute-coherent run for train/valid cases. Test cases may carry
   * the user's real continuation here too; the target of a test case is random, not its end.
   */
  readonly path?: readonly number[];
  /** The source's user id, where known (never shared across splits). */
  readonly user?: string;
}

export interface DatasetMeta {
  /** Where the data came from, e.g. 'synthetic(seed=1, items=1000, users=2000)'. */
  readonly source: string;
  /** Interactions in the train split's sequences (`sequences.train`: what agents may train on). */
  readonly trainInteractions: number;
  /** Interactions in `simulatorSequences`: every interaction the user simulators are built from. */
  readonly simulatorInteractions: number;
  /**
   * One sentence saying exactly which interactions `simulatorSequences` hold (which files or
   * splits, how many from each, what was left out), repeated in every result file.
   */
  readonly simulatorData: string;
  /** A stable hash of the inputs that produced this dataset (for caches and checkpoints). */
  readonly hash: string;
  /** Anything a reader of a report should know (filtering, reconstruction, quirks handled). */
  readonly notes: readonly string[];
}

export interface Dataset {
  readonly name: string;
  readonly items: ItemTable;
  /** Per-user time-ordered item sequences, by split (users never cross splits). */
  readonly sequences: Readonly<Record<Split, readonly (readonly number[])[]>>;
  readonly cases: Readonly<Record<Split, readonly Case[]>>;
  /**
   * Every real interaction sequence the data holds, for the learned user simulators. The simulator
   * is the world, not the agent, so it learns from all of them: the train and valid users' sequences
   * and the test users' real histories and continuations (never a test case's random target). It
   * splits each sequence by time itself (leave-one-out: the last item is its test, the one before
   * its valid; simulators/evaluate.ts). Agents train on `sequences` and `cases` only.
   */
  readonly simulatorSequences: readonly (readonly number[])[];
  /** Interactions per item in the train sequences. */
  readonly popularity: Float64Array;
  readonly meta: DatasetMeta;
}

/** True when the two items share at least one attribute (attributes are sorted ascending). */
export function shareAttribute(items: ItemTable, a: number, b: number): boolean {
  const x = items.attributes[a];
  const y = items.attributes[b];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) return true;
    if (x[i] < y[j]) i++;
    else j++;
  }
  return false;
}

/** Counts of each item in the given sequences. */
export function itemCounts(numItems: number, sequences: readonly (readonly number[])[]): Float64Array {
  const counts = new Float64Array(numItems);
  for (const s of sequences) for (const i of s) counts[i] += 1;
  return counts;
}

/** Total length of the given sequences. */
export function interactionCount(sequences: readonly (readonly number[])[]): number {
  let n = 0;
  for (const s of sequences) n += s.length;
  return n;
}

/**
 * The dataset with its simulator data cut to a share of its sequences: the first
 * round(fraction × count) sequences of a shuffle seeded by `seed` (at least one), so that smaller
 * fractions are subsets of larger ones. Everything agents see (cases, sequences, popularity) is
 * unchanged; the hash changes, so simulators trained on the cut data are cached apart.
 * `fraction` 1 returns the dataset itself. Used to measure how simulator fidelity grows with data.
 */
export function withSimulatorFraction(ds: Dataset, fraction: number, seed: number): Dataset {
  if (!(fraction > 0 && fraction <= 1)) throw new ConfigError(`simulator data fraction must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return ds;
  const all = ds.simulatorSequences;
  const order = Rng.stream(seed, 'simulator-data-fraction').shuffle(all.map((_, i) => i));
  const keep = order.slice(0, Math.max(1, Math.round(fraction * all.length))).sort((a, b) => a - b);
  const simulatorSequences = keep.map((i) => all[i]);
  const simulatorInteractions = interactionCount(simulatorSequences);
  return {
    ...ds,
    simulatorSequences,
    meta: {
      ...ds.meta,
      hash: `${ds.meta.hash}-simdata${fraction}`,
      simulatorInteractions,
      simulatorData: `a seeded ${fraction} share (seed ${seed}) of ${ds.meta.simulatorData}: ${simulatorSequences.length} of ${all.length} sequences, ${simulatorInteractions} interactions`,
    },
  };
}
