/**
 * The canonical dataset every environment is built from, whatever its source (the synthetic world,
 * the official ProRL release files, RecBole atomic files, raw logs). Item ids are dense: 0..N-1.
 */

export type Split = 'train' | 'valid' | 'test';
export const SPLITS: readonly Split[] = ['train', 'valid', 'test'];

/** Number of history items in every case (DESIGN.md §2). */
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
  /** Interactions in the sequences the simulators train on (train split). */
  readonly trainInteractions: number;
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
