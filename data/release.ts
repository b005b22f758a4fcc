/**
 * The official ProRL release layout (the `datasets/` folder of the paper's code): per dataset a
 * `.val` file (real windows with user ids), a `.test` file (the paper's test cases), `.datamaps`
 * (ids, titles, attributes) and `.sem_ids` (4-token semantic ids). The release has no interaction
 * logs, so the sequences the simulators train on are stitched together from the windows.
 *
 * Quirks handled here, each with a test:
 * - Books: val/test/sem_ids ids are the datamaps INTERNAL ids ("1".."5227"), while `item2id` keys
 *   are ASINs. The other two use raw ids (MovieLens movie ids, Steam app ids).
 * - `itemid2title` is keyed by the internal id; `raw_item_id2attribute` by the id used in val/test
 *   (raw for ml-1m/Steam, internal for Books).
 * - Steam histories repeat items (a game reviewed twice): kept as they are, never de-duplicated.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Case, Dataset, Split } from './dataset.ts';
import { HISTORY_LENGTH, interactionCount, itemCounts } from './dataset.ts';
import { Rng } from '../core/rng.ts';
import { yieldToEventLoop } from '../core/interrupt.ts';
import { DataFormatError, MissingItemsError } from './errors.ts';
import { MissingItemReport, checkCases, sortedUnique } from './items.ts';
import { countSharingRun, stitchWindows } from './stitch.ts';
import { readJson } from './text.ts';
import { validateFile } from './validation.ts';
import type { DatasetName } from './registry.ts';
import { DATASETS } from './registry.ts';

const History = Type.Array(Type.String({ minLength: 1 }), { minItems: HISTORY_LENGTH, maxItems: HISTORY_LENGTH });

export const ValRecords = Type.Array(
  Type.Object({
    user: Type.String({ minLength: 1 }),
    inters: History,
    proc_path: Type.Array(Type.String({ minLength: 1 }), { minItems: 2 }),
  }),
);

export const TestRecords = Type.Array(
  Type.Object({
    inters: History,
    proc_path: Type.Array(Type.String({ minLength: 1 }), { minItems: 2 }),
    target: Type.String({ minLength: 1 }),
  }),
);

export const Datamaps = Type.Object({
  item2id: Type.Record(Type.String(), Type.Integer({ minimum: 1 })),
  id2item: Type.Record(Type.String(), Type.String()),
  id2attribute: Type.Record(Type.String(), Type.String()),
  itemid2title: Type.Record(Type.String(), Type.String()),
  raw_item_id2attribute: Type.Record(Type.String(), Type.Array(Type.Integer({ minimum: 1 }))),
  id2name_full: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export const SemanticIds = Type.Record(Type.String(), Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 }));

/** The files of one dataset in the release layout. */
export interface ReleaseFiles {
  readonly dir: string;
  readonly val: string;
  readonly test: string;
  readonly datamaps: string;
  readonly semIds?: string;
}

/**
 * Finds the release files of `name` under `root`, which may be the release's `datasets/` folder
 * (holding `ml-1m/`, `Steam/`, `Books/`) or one dataset's own folder.
 */
export function findReleaseFiles(root: string, name: DatasetName): ReleaseFiles | null {
  const stem = DATASETS[name].releaseName;
  for (const dir of [path.join(root, stem), root]) {
    const val = path.join(dir, `${stem}.val`);
    const test = path.join(dir, `${stem}.test`);
    const datamaps = path.join(dir, `${stem}.datamaps`);
    if (![val, test, datamaps].every((f) => existsSync(f) && statSync(f).isFile())) continue;
    const semCandidates = readdirSync(dir)
      .filter((f) => f.endsWith('.sem_ids'))
      .sort();
    // The release ships one code file; prefer its name when several are present.
    const sem = semCandidates.find((f) => f === 'qwen3-embedding-8b-pca.sem_ids') ?? semCandidates[0];
    return { dir, val, test, datamaps, ...(sem ? { semIds: path.join(dir, sem) } : {}) };
  }
  return null;
}

export function releaseInputFiles(files: ReleaseFiles): string[] {
  return [files.val, files.test, files.datamaps, ...(files.semIds ? [files.semIds] : [])];
}

/** Overlap (items) needed to glue two windows of one known user: small, since both are that user's. */
export const VAL_MIN_OVERLAP = 3;
/**
 * Overlap needed to glue two test windows, whose users are unknown. Measured on the val windows
 * (whose users are known): suffix/prefix matches of >= 8 items between different users' windows
 * occur at most once per dataset, against thousands between windows of the same user.
 */
export const TEST_MIN_OVERLAP = 8;
/** Share of the release's val users that become the valid split (the rest: train). */
export const VALID_USER_FRACTION = 0.1;

export interface BuildOptions {
  readonly seed: number;
  readonly strict: boolean;
  readonly hash: string;
  readonly log: (s: string) => void;
}

function decodeEntities(s: string): string {
  // Steam titles in the datamaps carry HTML entities (e.g. "Mount &amp; Blade"). Consumers escape
  // titles for display themselves, so decoding here avoids a double-escaped "&amp;amp;".
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos|#39);/g, (m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos' || e === '#39') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/**
 * Reads one dataset of the release into the canonical form. It yields to the event loop between its
 * phases (core/interrupt.ts), so a Ctrl-C is handled during a compilation of seconds.
 */
export async function buildFromRelease(name: DatasetName, files: ReleaseFiles, opts: BuildOptions): Promise<{ dataset: Dataset; droppedRecords: number }> {
  const spec = DATASETS[name];
  const maps = validateFile(
    Datamaps,
    readJson(files.datamaps),
    files.datamaps,
    'a .datamaps object (item2id, id2item, id2attribute, itemid2title, raw_item_id2attribute)',
  );

  await yieldToEventLoop();
  // Internal ids, ascending, become dense ids 0..N-1.
  const internal = Object.keys(maps.id2item)
    .map((k) => {
      const n = Number(k);
      if (!Number.isInteger(n) || n < 1) throw new DataFormatError(files.datamaps, `id2item key ${JSON.stringify(k)}`, 'a positive integer internal id');
      return n;
    })
    .sort((a, b) => a - b);
  const N = internal.length;
  const denseOfInternal = new Map<string, number>();
  internal.forEach((id, dense) => denseOfInternal.set(String(id), dense));
  for (const [raw, id] of Object.entries(maps.item2id)) {
    if (maps.id2item[String(id)] !== raw)
      throw new DataFormatError(
        files.datamaps,
        `item2id[${JSON.stringify(raw)}]`,
        `the inverse of id2item (id2item[${id}] = ${JSON.stringify(raw)})`,
        JSON.stringify(maps.id2item[String(id)]),
      );
  }
  const rawIds = internal.map((id) => maps.id2item[String(id)]);
  // The id the release's val/test/sem_ids files use for each dense item.
  const releaseIds = spec.releaseUsesInternalIds ? internal.map(String) : rawIds;
  const denseOfRelease = new Map<string, number>();
  releaseIds.forEach((r, dense) => denseOfRelease.set(r, dense));

  const attributeIds = Object.keys(maps.id2attribute)
    .map(Number)
    .sort((a, b) => a - b);
  attributeIds.forEach((a, i) => {
    if (a !== i + 1) throw new DataFormatError(files.datamaps, 'id2attribute', 'attribute ids 1..A without gaps', `id ${a} at position ${i + 1}`);
  });
  const attributeNames = attributeIds.map((a) => maps.id2attribute[String(a)]);
  const attributes = releaseIds.map((r) => {
    const list = maps.raw_item_id2attribute[r] ?? [];
    for (const a of list)
      if (a > attributeNames.length)
        throw new DataFormatError(files.datamaps, `raw_item_id2attribute[${JSON.stringify(r)}]`, `attribute ids in 1..${attributeNames.length}`, String(a));
    return sortedUnique(list.map((a) => a - 1));
  });
  let titledFromFull = 0;
  const titles = internal.map((id, dense) => {
    const t = maps.itemid2title[String(id)];
    if (t !== undefined) return decodeEntities(t);
    const full = maps.id2name_full?.[rawIds[dense]];
    if (full !== undefined) {
      titledFromFull++;
      return decodeEntities(full);
    }
    return '';
  });

  let semanticIds: number[][] | undefined;
  let semCovered = 0;
  if (files.semIds) {
    const sem = validateFile(SemanticIds, readJson(files.semIds), files.semIds, 'an object mapping item id to a list of code digits');
    semanticIds = releaseIds.map((r) => {
      const code = sem[r];
      if (code) semCovered++;
      return code ? [...code] : [];
    });
  }

  // Records.
  await yieldToEventLoop();
  const val = validateFile(ValRecords, readJson(files.val), files.val, `an array of {user, inters: ${HISTORY_LENGTH} ids, proc_path: >= 2 ids}`);
  await yieldToEventLoop();
  const test = validateFile(TestRecords, readJson(files.test), files.test, `an array of {inters: ${HISTORY_LENGTH} ids, proc_path: >= 2 ids, target}`);
  test.forEach((r, i) => {
    if (r.target !== r.proc_path[r.proc_path.length - 1])
      throw new DataFormatError(
        files.test,
        `record ${i}`,
        'target equal to the last item of proc_path',
        `target ${r.target}, last ${r.proc_path[r.proc_path.length - 1]}`,
      );
  });

  const missing = new MissingItemReport();
  const toDense = (ids: readonly string[], kind: string): number[] | null => {
    const out: number[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      const d = denseOfRelease.get(id);
      if (d === undefined) unknown.push(id);
      else out.push(d);
    }
    if (unknown.length > 0) {
      missing.note(kind, unknown);
      return null;
    }
    return out;
  };

  await yieldToEventLoop();
  // Train/valid: the val records, split by user (seeded).
  const users: string[] = [];
  const seenUser = new Set<string>();
  for (const r of val)
    if (!seenUser.has(r.user)) {
      seenUser.add(r.user);
      users.push(r.user);
    }
  const shuffled = Rng.stream(opts.seed, 'data/release-split').shuffle([...users]);
  const validCount = users.length >= 2 ? Math.max(1, Math.round(users.length * VALID_USER_FRACTION)) : 0;
  const validUsers = new Set(shuffled.slice(0, validCount));
  const cases: Record<Split, Case[]> = { train: [], valid: [], test: [] };
  const windowsByUser = new Map<string, number[][]>();
  for (const r of val) {
    const history = toDense(r.inters, `${path.basename(files.val)} records`);
    const run = history && toDense(r.proc_path, `${path.basename(files.val)} records`);
    if (!history || !run) continue;
    const split: Split = validUsers.has(r.user) ? 'valid' : 'train';
    cases[split].push({ history, target: run[run.length - 1], path: run.slice(0, -1), user: r.user });
    let ws = windowsByUser.get(r.user);
    if (!ws) windowsByUser.set(r.user, (ws = []));
    ws.push([...history, ...run]);
  }
  // Test: verbatim. The target is random (release design); the path is the real continuation.
  const testWindows: number[][] = [];
  for (const r of test) {
    const history = toDense(r.inters, `${path.basename(files.test)} records`);
    const run = history && toDense(r.proc_path, `${path.basename(files.test)} records`);
    if (!history || !run) continue;
    const realPath = run.slice(0, -1);
    cases.test.push({ history, target: run[run.length - 1], path: realPath });
    testWindows.push([...history, ...realPath]);
  }
  if (missing.total > 0) {
    if (opts.strict) throw new MissingItemsError(name, missing.lines());
    for (const l of missing.lines()) opts.log(`warning: ${name}: ${l}`);
  }

  await yieldToEventLoop();
  // Sequences: stitched windows.
  const sequences: Record<Split, number[][]> = { train: [], valid: [], test: [] };
  const stitchStats = {
    train: { windows: 0, joins: 0, ambiguous: 0 },
    valid: { windows: 0, joins: 0, ambiguous: 0 },
    test: { windows: 0, joins: 0, ambiguous: 0 },
  };
  for (const user of users) {
    const ws = windowsByUser.get(user);
    if (!ws) continue;
    const split: Split = validUsers.has(user) ? 'valid' : 'train';
    const r = stitchWindows(ws, VAL_MIN_OVERLAP);
    sequences[split].push(...r.contigs);
    stitchStats[split].windows += ws.length;
    stitchStats[split].joins += r.joins;
    stitchStats[split].ambiguous += r.ambiguous;
  }
  await yieldToEventLoop();
  const testStitch = stitchWindows(testWindows, TEST_MIN_OVERLAP);
  await yieldToEventLoop();
  sequences.test = testStitch.contigs;
  Object.assign(stitchStats.test, { windows: testWindows.length, joins: testStitch.joins, ambiguous: testStitch.ambiguous });

  // Evidence for the test-window rule: glue the val windows as if their users were unknown and
  // count joins that cross users.
  const allValWindows: number[][] = [];
  const ownerOfWindow: string[] = [];
  for (const [user, ws] of windowsByUser)
    for (const w of ws) {
      allValWindows.push(w);
      ownerOfWindow.push(user);
    }
  const crossUserJoins = countCrossUserJoins(allValWindows, ownerOfWindow);
  await yieldToEventLoop();

  // Leak check: test sequences sharing a TEST_MIN_OVERLAP-long run with train sequences.
  const testSharing = countSharingRun(sequences.train, sequences.test, TEST_MIN_OVERLAP);
  await yieldToEventLoop();

  for (const split of ['train', 'valid', 'test'] as const) checkCases(cases[split], N, `${name} ${split}`);
  const interactions = (split: Split) => interactionCount(sequences[split]);
  const trainInteractions = interactions('train');
  // The simulators learn from every real window: the world model may see the test users' real
  // histories and continuations (never their random targets); agents never see a test case.
  const simulatorSequences = [...sequences.train, ...sequences.valid, ...sequences.test];
  const simulatorInteractions = interactionCount(simulatorSequences);
  const simulatorData =
    `every real window of the release, stitched into ${simulatorSequences.length} sequences: ${trainInteractions} interactions from the train users' .val windows, ` +
    `${interactions('valid')} from the valid users', ${interactions('test')} from the .test records' histories and real continuations (never their random targets); ` +
    `each sequence's last item is the simulator's test and the one before its valid (leave-one-out)`;
  const noAttr = attributes.filter((a) => a.length === 0).length;
  const repeatHistories = cases.train.concat(cases.valid, cases.test).filter((c) => new Set(c.history).size < c.history.length).length;
  const notes: string[] = [
    `ProRL official release layout (${spec.releaseName}.val/.test/.datamaps${files.semIds ? `, ${path.basename(files.semIds)}` : ''}); no interaction logs are public, so sequences are reconstructed from windows.`,
    `items: ${N} from .datamaps (dense id = rank of the internal id); ${noAttr} without attributes${titledFromFull ? `; ${titledFromFull} titles from id2name_full` : ''}${semanticIds ? `; semantic ids for ${semCovered}` : ''}.`,
    spec.releaseUsesInternalIds
      ? `quirk: val/test/sem_ids use the datamaps internal ids; rawIds hold the source ids (${spec.rawIdKind}) from id2item.`
      : `quirk: val/test/sem_ids use raw ids (${spec.rawIdKind}); titles are looked up through item2id (itemid2title is keyed by internal id).`,
    `train/valid: the ${val.length} .val records split by user ${Math.round((1 - VALID_USER_FRACTION) * 100)}/${Math.round(VALID_USER_FRACTION * 100)} (seed ${opts.seed}): ${users.length - validUsers.size} train users (${cases.train.length} cases), ${validUsers.size} valid users (${cases.valid.length} cases).`,
    `test: the ${test.length} .test records verbatim (${cases.test.length} cases); targets are uniformly random items, paths are the users' real continuations; no user ids.`,
    `sequences reconstructed by stitching overlapping windows: train ${sequences.train.length} sequences / ${trainInteractions} interactions from ${stitchStats.train.windows} windows (${stitchStats.train.joins} joins, min overlap ${VAL_MIN_OVERLAP}, per user); valid ${sequences.valid.length} / ${interactions('valid')} from ${stitchStats.valid.windows}; test ${sequences.test.length} / ${interactions('test')} from ${stitchStats.test.windows} windows (${stitchStats.test.joins} joins, ${stitchStats.test.ambiguous} refused as ambiguous, min overlap ${TEST_MIN_OVERLAP}, users unknown${testStitch.duplicates ? `, ${testStitch.duplicates} duplicate windows counted once` : ''}).`,
    `check of the test rule: gluing the val windows without their user ids (min overlap ${TEST_MIN_OVERLAP}) makes ${crossUserJoins.joins} joins, ${crossUserJoins.cross} of them across users.`,
    `leak check: ${testSharing} of ${sequences.test.length} test sequences share a ${TEST_MIN_OVERLAP}-item run with a train sequence; test sequences hold histories and real continuations only, never the (random) test targets.`,
    `simulators: ${simulatorInteractions} interactions, ${simulatorData}; still far fewer than the full logs the paper's simulators saw.`,
    ...(repeatHistories > 0 ? [`${repeatHistories} case histories repeat an item (kept as in the source).`] : []),
    ...missing.lines().map((l) => `missing items: ${l}`),
  ];

  const dataset: Dataset = {
    name,
    items: { count: N, rawIds, titles, attributes, attributeNames, ...(semanticIds ? { semanticIds } : {}) },
    sequences,
    cases,
    simulatorSequences,
    popularity: itemCounts(N, sequences.train),
    meta: { source: `prorl-release:${spec.releaseName}`, trainInteractions, simulatorInteractions, simulatorData, hash: opts.hash, notes },
  };
  return { dataset, droppedRecords: missing.total };
}

function countCrossUserJoins(windows: number[][], owner: string[]): { joins: number; cross: number } {
  const r = stitchWindows(windows, TEST_MIN_OVERLAP);
  let cross = 0;
  for (const m of r.members) cross += new Set(m.map((w) => owner[w])).size - 1;
  return { joins: r.joins, cross };
}
