/**
 * What the user simulators of a real dataset learn from (`simulatorData`):
 * - 'release' (default): the loaded dataset's own `simulatorSequences`: for the ProRL release, its
 *   real windows stitched into sequences (about a tenth of ML-1M's ratings);
 * - 'logs': the release's cases and agent data as they are, and the simulators trained on the raw
 *   public logs instead (ML-1M's 1,000,209 ratings, as the paper's simulators were), each user's
 *   whole time-ordered sequence with the raw item ids mapped to the release's items.
 *
 * The mapping is the release's own: its `.datamaps` `id2item` gives every release item its raw id
 * (MovieLens movie id, Steam app id, Amazon ASIN), which the item table keeps as `rawIds`; a raw log
 * row whose item has that raw id becomes that release item. Raw items outside the release's item set
 * are dropped from the simulator sequences, release items the logs never mention stay unseen by the
 * simulators; both are counted, with examples, in the log, the notes and `meta.simulatorData`.
 */
import path from 'node:path';
import type { Dataset } from './dataset.ts';
import { interactionCount } from './dataset.ts';
import { compareIds, timeOrderedSequences } from './build.ts';
import { DataFormatError } from './errors.ts';
import type { InteractionLog } from './log.ts';
import { StringEnum } from '../core/validate.ts';

export const SIMULATOR_DATA_CHOICES = ['release', 'logs'] as const;
export type SimulatorDataChoice = (typeof SIMULATOR_DATA_CHOICES)[number];

/** The `simulatorData` option (a world option of the real environments, and of `loadDataset`). */
export const SimulatorDataSchema = StringEnum(SIMULATOR_DATA_CHOICES, {
  default: 'release',
  description:
    "What the user simulators (reward model and evaluator) learn from. 'release': the loaded data's own sequences (for the ProRL release, its windows stitched into sequences, about a tenth of the raw logs). " +
    "'logs': the release's cases (train/valid/test) unchanged, and the simulators trained on the raw public logs (e.g. ML-1M's ratings.dat) with their item ids mapped to the release's items through its .datamaps; " +
    "needs the release and the raw files (the data command's 'fetch <dataset>' downloads them); its simulators are trained (or loaded from the cache) apart from the shipped ones, which are for 'release'.",
});

/**
 * Version of what `withLogSimulatorSequences` produces, part of the hash of a 'logs' dataset (and so
 * of its simulators' checkpoint names): change it when the mapping produces other sequences.
 */
export const SIMULATOR_LOGS_VERSION = 1;

/** How many examples of unmapped and dropped items the report names. */
const EXAMPLES = 5;

export interface LogSimulatorOptions {
  /** The raw interaction file the log was read from (for messages). */
  readonly file: string;
  /** Which raw format it is (raw.ts `RawFiles.variant`). */
  readonly variant: string;
  /** The hash of the resulting dataset (covers the release and raw files and this choice). */
  readonly hash: string;
  readonly log: (s: string) => void;
}

/** What mapping the raw log to the release's items kept and left out. */
export interface LogMappingReport {
  readonly users: number;
  readonly sequences: number;
  readonly interactions: number;
  /** Raw items not in the release's item set, and their interactions (dropped). */
  readonly droppedItems: number;
  readonly droppedInteractions: number;
  /** The most frequent dropped raw ids, with their interaction counts. */
  readonly droppedExamples: readonly { readonly rawId: string; readonly interactions: number }[];
  /** Users left with no interaction on a release item (no sequence). */
  readonly droppedUsers: number;
  /** Release items (dense ids) the raw log never mentions: unmapped. */
  readonly unmappedItems: number;
  readonly unmappedExamples: readonly string[];
  readonly duplicates: number;
  readonly undated: number;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * Each raw user's time-ordered sequence (exact duplicate records dropped, as buildFromLog does),
 * mapped to the release's dense item ids through `items.rawIds`; users in source-id order. Throws a
 * DataFormatError naming the file when no raw item is a release item (logs of another dataset).
 */
export function mapLogToRelease(ds: Dataset, raw: InteractionLog, file: string): { sequences: number[][]; report: LogMappingReport } {
  const denseOfRaw = new Map<string, number>();
  ds.items.rawIds.forEach((r, d) => denseOfRaw.set(r, d));
  const denseOfLogItem = Int32Array.from(raw.items, (r) => denseOfRaw.get(r) ?? -1);
  if (denseOfLogItem.every((d) => d < 0))
    throw new DataFormatError(
      file,
      '',
      `interactions on items of the release's item table (${plural(ds.items.count, 'item')}, e.g. ${ds.items.rawIds.slice(0, 3).join(', ')})`,
      raw.items.length === 0
        ? 'no interactions'
        : `none of its ${plural(raw.items.length, 'item')} among them (e.g. ${raw.items.slice(0, 3).join(', ')}): logs of another dataset?`,
    );
  const ordered = timeOrderedSequences(raw);
  const userOrder = raw.users.map((_, u) => u).sort((a, b) => compareIds(raw.users[a], raw.users[b]));
  const droppedPerItem = new Map<number, number>();
  const sequences: number[][] = [];
  let droppedUsers = 0;
  let droppedInteractions = 0;
  for (const u of userOrder) {
    const seq: number[] = [];
    for (const i of ordered.sequences[u]) {
      const d = denseOfLogItem[i];
      if (d >= 0) seq.push(d);
      else {
        droppedInteractions++;
        droppedPerItem.set(i, (droppedPerItem.get(i) ?? 0) + 1);
      }
    }
    if (seq.length > 0) sequences.push(seq);
    else droppedUsers++;
  }
  const droppedExamples = [...droppedPerItem]
    .sort((a, b) => b[1] - a[1] || compareIds(raw.items[a[0]], raw.items[b[0]]))
    .slice(0, EXAMPLES)
    .map(([i, n]) => ({ rawId: raw.items[i], interactions: n }));
  const inLog = new Set(raw.items);
  const unmapped = ds.items.rawIds.filter((r) => !inLog.has(r)).sort(compareIds);
  return {
    sequences,
    report: {
      users: raw.users.length,
      sequences: sequences.length,
      interactions: interactionCount(sequences),
      droppedItems: droppedPerItem.size,
      droppedInteractions,
      droppedExamples,
      droppedUsers,
      unmappedItems: unmapped.length,
      unmappedExamples: unmapped.slice(0, EXAMPLES),
      duplicates: ordered.duplicates,
      undated: ordered.undated,
    },
  };
}

/** One sentence on the unmapped release items (count and examples). */
function unmappedSentence(r: LogMappingReport, items: number): string {
  if (r.unmappedItems === 0) return `every one of the release's ${plural(items, 'item')} occurs in the logs`;
  const more = r.unmappedItems > r.unmappedExamples.length ? ', ...' : '';
  return `${plural(r.unmappedItems, 'release item')} of ${items.toLocaleString('en-US')} never occur in the logs (unmapped, unseen by the simulators; raw ids ${r.unmappedExamples.join(', ')}${more})`;
}

/** One sentence on the raw items dropped for not being release items (count and examples). */
function droppedSentence(r: LogMappingReport): string {
  if (r.droppedItems === 0) return 'no raw item outside the release';
  const more = r.droppedItems > r.droppedExamples.length ? ', ...' : '';
  return (
    `${plural(r.droppedInteractions, 'interaction')} on ${plural(r.droppedItems, 'raw item')} outside the release's item set dropped ` +
    `(raw ids with their interactions, most first: ${r.droppedExamples.map((e) => `${e.rawId} (${e.interactions})`).join(', ')}${more})` +
    (r.droppedUsers ? `, leaving ${plural(r.droppedUsers, 'user')} with no sequence` : '')
  );
}

/**
 * The release dataset `ds` with its simulator data replaced by the raw log's sequences
 * (`mapLogToRelease`): cases, agents' sequences, popularity and items are kept as they are; the
 * hash, `simulatorSequences`, `meta.simulatorInteractions`, `meta.simulatorData` and the notes on
 * the simulators change. The unmapped and dropped items are also written to `opts.log`.
 */
export function withLogSimulatorSequences(ds: Dataset, raw: InteractionLog, opts: LogSimulatorOptions): Dataset {
  const { sequences, report: r } = mapLogToRelease(ds, raw, opts.file);
  const file = path.basename(opts.file);
  if (r.unmappedItems > 0) opts.log(`warning: ${ds.name}: ${unmappedSentence(r, ds.items.count)}`);
  if (r.droppedItems > 0) opts.log(`warning: ${ds.name}: raw logs ${file}: ${droppedSentence(r)}`);
  const simulatorData =
    `the raw logs (${file}, raw:${opts.variant}): ${plural(r.sequences, 'user sequence')}, ${plural(r.interactions, 'interaction')}, each user's whole time-ordered sequence ` +
    `with the raw item ids mapped to the release's items through its .datamaps (id2item); ${droppedSentence(r)}; ${unmappedSentence(r, ds.items.count)}; ` +
    `the cases are the release's; each sequence's last item is the simulator's test and the one before its valid (leave-one-out)`;
  const notes = [
    ...ds.meta.notes.filter((n) => !n.startsWith('simulators: ')),
    `simulators (simulatorData 'logs'): read ${plural(raw.length, 'interaction')} of ${plural(r.users, 'user')} on ${plural(raw.items.length, 'item')} from ${file}` +
      `${r.duplicates ? `; ${plural(r.duplicates, 'exact duplicate record')} (same user, item and time) dropped` : ''}` +
      `${r.undated ? `; ${plural(r.undated, 'row')} without a usable time placed last in their user's sequence` : ''}; no k-core filtering (the release's item set decides).`,
    `simulators: ${r.interactions} interactions, ${simulatorData}.`,
  ];
  return {
    ...ds,
    simulatorSequences: sequences,
    meta: {
      ...ds.meta,
      source: `${ds.meta.source}; simulators: raw:${opts.variant}`,
      hash: opts.hash,
      simulatorInteractions: r.interactions,
      simulatorData,
      notes,
    },
  };
}
