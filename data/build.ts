/**
 * Building the canonical dataset from interaction logs (raw sources, RecBole `.inter` files), as
 * docs/design.md §6.3 describes: order each user's interactions by time; train and valid cases are 10-item
 * windows followed by a real attribute-coherent run whose last item is the target; test cases are
 * 10-item windows with a target drawn uniformly from the items not in the history. Users never
 * cross splits, and every random choice comes from a seeded `Rng`.
 */
import { contentSemanticIds } from './semantic-ids.ts';
import type { Case, Dataset, Split } from './dataset.ts';
import { HISTORY_LENGTH, interactionCount, itemCounts, shareAttribute } from './dataset.ts';
import { Rng } from '../core/rng.ts';
import { ItemTableBuilder, checkCases } from './items.ts';
import type { InteractionLog } from './log.ts';
import { ConfigError } from '../core/errors.ts';

export interface LogBuildOptions {
  readonly seed: number;
  readonly hash: string;
  /** e.g. 'raw:ml-1m (ratings.dat, movies.dat)'. */
  readonly source: string;
  /** Notes from the reader (what was read, what was skipped). */
  readonly readerNotes?: readonly string[];
  /** Minimum interactions per user and per item, applied until stable. Default 5. */
  readonly kCore?: number;
  /** Fractions of users in train/valid/test. Default 0.8/0.1/0.1. */
  readonly splitFractions?: readonly [number, number, number];
  /** Longest real run (path items + target). Default 10, as in the ProRL release. */
  readonly maxRunLength?: number;
  /** At most this many cases per user (chosen with the seeded Rng, kept in time order). Default 50. */
  readonly maxCasesPerUser?: number;
  readonly log?: (s: string) => void;
}

export const DEFAULT_K_CORE = 5;
export const DEFAULT_SPLIT: readonly [number, number, number] = [0.8, 0.1, 0.1];
export const DEFAULT_MAX_RUN = 10;
export const DEFAULT_MAX_CASES_PER_USER = 50;

/** Numeric ids sort as numbers, others as strings: a stable order that ignores file order. */
export function compareIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Each user's interactions as a sequence of the log's item indices (`log.items`), indexed like
 * `log.users`: 1. in time order (ties keep file order; rows without a time go last); 2. exact
 * duplicates (same user, item and time) dropped, as repeated records rather than repeated
 * interactions. `undated` counts rows without a usable time, `duplicates` the rows dropped.
 */
export function timeOrderedSequences(log: InteractionLog): { sequences: number[][]; undated: number; duplicates: number } {
  const rowsByUser: number[][] = log.users.map(() => []);
  for (let r = 0; r < log.length; r++) rowsByUser[log.user(r)].push(r);
  const timeKey = (r: number) => {
    const t = log.time(r);
    return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY;
  };
  let undated = 0;
  for (let r = 0; r < log.length; r++) if (!Number.isFinite(log.time(r))) undated++;
  let duplicates = 0;
  const sequences = rowsByUser.map((rows) => {
    rows.sort((a, b) => timeKey(a) - timeKey(b) || a - b);
    const out: number[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      const key = `${log.item(r)}@${log.time(r)}`;
      if (Number.isFinite(log.time(r)) && seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      out.push(log.item(r));
    }
    return out;
  });
  return { sequences, undated, duplicates };
}

export function buildFromLog(name: string, log: InteractionLog, opts: LogBuildOptions): Dataset {
  const k = opts.kCore ?? DEFAULT_K_CORE;
  const fractions = opts.splitFractions ?? DEFAULT_SPLIT;
  const maxRun = opts.maxRunLength ?? DEFAULT_MAX_RUN;
  const maxCases = opts.maxCasesPerUser ?? DEFAULT_MAX_CASES_PER_USER;
  if (Math.abs(fractions[0] + fractions[1] + fractions[2] - 1) > 1e-9) throw new ConfigError(`split fractions must sum to 1, got ${fractions.join('/')}`);

  // 1-2. Each user's items in time order, exact duplicate records dropped.
  const ordered = timeOrderedSequences(log);
  const { undated, duplicates } = ordered;
  let seqs: number[][] = ordered.sequences;

  // 3. k-core: drop users and items with fewer than k interactions until none is left.
  const rowsBefore = seqs.reduce((a, s) => a + s.length, 0);
  let rounds = 0;
  for (;;) {
    rounds++;
    const itemCount = new Int32Array(log.items.length);
    for (const s of seqs) if (s.length >= k) for (const i of s) itemCount[i]++;
    let changed = false;
    seqs = seqs.map((s) => {
      if (s.length < k) {
        if (s.length > 0) changed = true;
        return [];
      }
      const kept = s.filter((i) => itemCount[i] >= k);
      if (kept.length !== s.length) changed = true;
      return kept;
    });
    if (!changed) break;
  }
  const rowsAfter = seqs.reduce((a, s) => a + s.length, 0);

  // 4. The item table: surviving items, ordered by source id.
  const surviving = new Set<number>();
  for (const s of seqs) for (const i of s) surviving.add(i);
  const order = [...surviving].sort((a, b) => compareIds(log.items[a], log.items[b]));
  const table = new ItemTableBuilder();
  // Attribute ids in order of name, so they do not depend on file order either.
  const attributeNames = new Set<string>();
  for (const i of order) for (const a of log.meta.get(log.items[i])?.attributes ?? []) attributeNames.add(a);
  for (const a of [...attributeNames].sort()) table.attribute(a);
  const dense = new Int32Array(log.items.length).fill(-1);
  let withMeta = 0;
  for (const i of order) {
    const m = log.meta.get(log.items[i]);
    if (m) withMeta++;
    dense[i] = table.add(log.items[i], m?.title ?? '', m?.attributes ?? []);
  }
  // Semantic ids from the items' content (attributes and title words), as every environment has them.
  const items = table.build(contentSemanticIds(table, Rng.stream(opts.seed, 'data/semantic-ids')));
  const N = items.count;

  // 5. Users: those left, ordered by source id, shuffled with the seed, cut into splits.
  const userOrder = seqs
    .map((_, u) => u)
    .filter((u) => seqs[u].length > 0)
    .sort((a, b) => compareIds(log.users[a], log.users[b]));
  const rng = Rng.stream(opts.seed, 'data/log-build');
  const shuffled = rng.child('split').shuffle([...userOrder]);
  const nTrain = Math.round(shuffled.length * fractions[0]);
  const nValid = Math.round(shuffled.length * fractions[1]);
  const splitUsers: Record<Split, number[]> = {
    train: shuffled.slice(0, nTrain),
    valid: shuffled.slice(nTrain, nTrain + nValid),
    test: shuffled.slice(nTrain + nValid),
  };
  for (const s of ['train', 'valid', 'test'] as const) splitUsers[s].sort((a, b) => compareIds(log.users[a], log.users[b]));

  // 6. Cases.
  const caseRng = rng.child('cases');
  const sequences: Record<Split, number[][]> = { train: [], valid: [], test: [] };
  const cases: Record<Split, Case[]> = { train: [], valid: [], test: [] };
  let capped = 0;
  for (const split of ['train', 'valid', 'test'] as const) {
    for (const u of splitUsers[split]) {
      const seq = seqs[u].map((i) => dense[i]);
      sequences[split].push(seq);
      const runs: { start: number; end: number }[] = [];
      // Non-overlapping maximal coherent runs after the first full history.
      let i = HISTORY_LENGTH;
      while (i < seq.length - 1) {
        let j = i + 1;
        while (j < seq.length && j - i < maxRun && shareAttribute(items, seq[j - 1], seq[j])) j++;
        if (j - i >= 2) {
          runs.push({ start: i, end: j });
          i = j;
        } else i++;
      }
      let chosen = runs;
      if (runs.length > maxCases) {
        capped++;
        const idx = caseRng
          .shuffle(runs.map((_, x) => x))
          .slice(0, maxCases)
          .sort((a, b) => a - b);
        chosen = idx.map((x) => runs[x]);
      }
      for (const { start, end } of chosen) {
        const history = seq.slice(start - HISTORY_LENGTH, start);
        const run = seq.slice(start, end);
        const user = log.users[u];
        if (split !== 'test') {
          cases[split].push({ history, target: run[run.length - 1], path: run.slice(0, -1), user });
        } else {
          // The real run is the user's continuation; the target is uniform over the other items.
          const excluded = new Set([...history, ...run]);
          if (excluded.size >= N) continue;
          let target: number;
          do target = caseRng.int(N);
          while (excluded.has(target));
          cases.test.push({ history, target, path: run, user });
        }
      }
    }
  }
  for (const split of ['train', 'valid', 'test'] as const) checkCases(cases[split], N, `${name} ${split}`);
  const trainInteractions = interactionCount(sequences.train);
  // The simulators learn from every user's whole sequence (a test case's random target is not part
  // of it); agents see only the train split.
  const simulatorSequences = [...sequences.train, ...sequences.valid, ...sequences.test];
  const simulatorInteractions = interactionCount(simulatorSequences);
  const simulatorData =
    `every user's whole time-ordered sequence (${simulatorSequences.length} sequences after ${k}-core filtering: train ${trainInteractions}, valid ${interactionCount(sequences.valid)}, test ${interactionCount(sequences.test)} interactions; never a test case's random target); ` +
    `each sequence's last item is the simulator's test and the one before its valid (leave-one-out)`;
  const noAttr = items.attributes.filter((a) => a.length === 0).length;
  const notes = [
    ...(opts.readerNotes ?? []),
    `read ${log.length} interactions of ${log.users.length} users on ${log.items.length} items${duplicates ? `; ${duplicates} exact duplicate records (same user, item and time) dropped` : ''}${undated ? `; ${undated} without a usable time placed last in their user's sequence` : ''}.`,
    `${k}-core filtering (users and items with >= ${k} interactions, ${rounds} rounds): ${rowsAfter} of ${rowsBefore} interactions, ${userOrder.length} users, ${N} items kept.`,
    `items: ${N}, ordered by source id; ${withMeta} with metadata, ${noAttr} without attributes (those never extend a coherent run).`,
    `users split ${fractions.map((f) => Math.round(f * 100)).join('/')} train/valid/test (seed ${opts.seed}): ${splitUsers.train.length}/${splitUsers.valid.length}/${splitUsers.test.length}; sequences are the users' whole time-ordered histories.`,
    `cases: after the first ${HISTORY_LENGTH} items, each non-overlapping maximal attribute-coherent run of 2..${maxRun} items gives one case (history = the ${HISTORY_LENGTH} items before it); train/valid target = the run's last item, path = the rest; test path = the whole run, target uniform over items outside history and run. At most ${maxCases} cases per user (${capped} users capped, seeded choice).`,
    `cases per split: train ${cases.train.length}, valid ${cases.valid.length}, test ${cases.test.length}; agents train on ${trainInteractions} interactions (train users).`,
    `simulators: ${simulatorInteractions} interactions, ${simulatorData}.`,
  ];
  return {
    name,
    items,
    sequences,
    cases,
    simulatorSequences,
    popularity: itemCounts(N, sequences.train),
    meta: { source: opts.source, trainInteractions, simulatorInteractions, simulatorData, hash: opts.hash, notes },
  };
}
