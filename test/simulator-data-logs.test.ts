/**
 * World option `simulatorData` of the real environments: 'release' (default) trains the user
 * simulators on the release's stitched windows, as before; 'logs' keeps the release's cases and
 * trains the simulators on the raw logs, mapped to the release's items (data/simulator-logs.ts).
 * Checked on a small release-format fixture and raw files generated here in the raw formats (the
 * real files need a download).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, DataNotFoundError, SimulatorLogsNotFoundError, type DatasetName } from '../data/index.ts';
import { withLogSimulatorSequences } from '../data/simulator-logs.ts';
import { InteractionLog } from '../data/log.ts';
import type { Dataset } from '../data/dataset.ts';
import { Rng } from '../core/rng.ts';
import { ValidationError } from '../core/validate.ts';
import '../envs/index.ts';
import { resolveWorldOptions } from '../envs/registry.ts';
import { loadSuite, planRuns } from '../benchmarks/suite.ts';
import { runCli } from '../data/cli.ts';
import { writeRelease, RELEASE_ITEMS, TEST_RECORDS, type ReleaseFixture } from './fixtures/data/release.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-simdata-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = () => {};

/** Items of the release the raw logs never mention (the last two), and raw ids outside the release. */
const UNMAPPED = [RELEASE_ITEMS - 2, RELEASE_ITEMS - 1];
const FOREIGN = ['1', '2', '3'];

interface RawLog {
  /** Per user (source id), the raw item ids in time order (after de-duplication). */
  readonly sequences: Map<string, string[]>;
  /** Rows as written: [user, raw item, time], in file order (shuffled: the reader must sort by time). */
  readonly rows: [string, string, number][];
}

/**
 * A seeded raw log over the release's items (except UNMAPPED) and FOREIGN items: 6 users with 12 to
 * 20 interactions, one user whose items are all foreign (no sequence), rows in shuffled file order,
 * plus one exact duplicate record.
 */
function rawLog(f: ReleaseFixture): RawLog {
  const rng = Rng.stream(7, 'test/simulator-data-logs');
  const pool = [
    ...Array.from({ length: RELEASE_ITEMS }, (_, k) => k)
      .filter((k) => !UNMAPPED.includes(k))
      .map((k) => f.raw(k)),
    ...FOREIGN,
  ];
  const sequences = new Map<string, string[]>();
  const rows: [string, string, number][] = [];
  for (let u = 1; u <= 6; u++) {
    const len = 12 + rng.int(9);
    const seq = Array.from({ length: len }, () => pool[rng.int(pool.length)]);
    sequences.set(String(u), seq);
    seq.forEach((item, t) => rows.push([String(u), item, 978_300_000 + 3600 * t + u]));
  }
  sequences.set('7', ['1', '2']);
  rows.push(['7', '1', 978_300_000], ['7', '2', 978_303_600]);
  const shuffled = rng.shuffle(rows);
  shuffled.push([...shuffled[0]]);
  return { sequences, rows: shuffled };
}

/** MovieLens-1M raw files: ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat, Latin-1. */
function writeMovieLensRaw(dir: string, log: RawLog): void {
  mkdirSync(dir, { recursive: true });
  const ratings = log.rows.map(([u, i, t], n) => `${u}::${i}::${1 + (n % 5)}::${t}`);
  writeFileSync(path.join(dir, 'ratings.dat'), Buffer.from(`${ratings.join('\n')}\n`, 'latin1'));
  const items = [...new Set(log.rows.map((r) => r[1]))].sort((a, b) => Number(a) - Number(b));
  writeFileSync(path.join(dir, 'movies.dat'), Buffer.from(`${items.map((i) => `${i}::Film ${i} (1999)::Drama|Comedy`).join('\n')}\n`, 'latin1'));
}

/** Amazon 2018 ratings-only file: Books.csv (item,user,rating,timestamp). */
function writeBooksCsv(dir: string, log: RawLog): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'Books.csv'), `${log.rows.map(([u, i, t]) => `${i},${u},5.0,${t}`).join('\n')}\n`);
}

/** The raw log's sequences as the simulators should see them: release items only, users in id order. */
function expectedSequences(ds: Dataset, log: RawLog): number[][] {
  const dense = new Map(ds.items.rawIds.map((r, d) => [r, d]));
  return [...log.sequences.keys()]
    .sort((a, b) => Number(a) - Number(b))
    .map((u) =>
      log.sequences
        .get(u)!
        .filter((i) => dense.has(i))
        .map((i) => dense.get(i)!),
    )
    .filter((s) => s.length > 0);
}

function assertSameCases(a: Dataset, b: Dataset): void {
  assert.deepEqual(a.cases, b.cases);
  assert.deepEqual(a.sequences, b.sequences);
  assert.deepEqual(a.items, b.items);
  assert.deepEqual([...a.popularity], [...b.popularity]);
}

test("ml-1m: 'logs' keeps the release's cases exactly and trains the simulators on the raw ratings, mapped to the release's items", async () => {
  const data = path.join(tmp, 'ml', 'data');
  const cache = path.join(tmp, 'ml', 'cache');
  const f = writeRelease(data, 'ml-1m');
  const before = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, useCache: false, log: quiet });
  const log = rawLog(f);
  writeMovieLensRaw(data, log);
  const lines: string[] = [];
  const [release, explicit, logs] = [
    await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet }),
    await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, simulatorData: 'release', log: quiet }),
    await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, simulatorData: 'logs', log: (l) => lines.push(l) }),
  ];

  // 'release' (default or explicit) is today's dataset, hash included, raw files beside it or not.
  assert.equal(release.meta.source, 'prorl-release:ml-1m');
  assert.equal(release.meta.hash, before.meta.hash);
  assert.deepEqual(release.simulatorSequences, before.simulatorSequences);
  assert.deepEqual(explicit.meta, release.meta);

  // The cases are the release's, exactly: the test records verbatim (history, real path, target).
  assertSameCases(logs, release);
  const dense = (k: number) => logs.items.rawIds.indexOf(f.raw(k));
  assert.deepEqual(
    logs.cases.test.map((c) => [c.history, c.path, c.target]),
    TEST_RECORDS.map(([h, cont, target]) => [h.map(dense), cont.map(dense), dense(target)]),
  );

  // The simulators' sequences are the raw users' time-ordered ratings, release items only.
  assert.deepEqual(logs.simulatorSequences, expectedSequences(logs, log));
  assert.notDeepEqual(logs.simulatorSequences, release.simulatorSequences);
  const interactions = logs.simulatorSequences.reduce((n, s) => n + s.length, 0);
  assert.equal(logs.meta.simulatorInteractions, interactions);
  assert.equal(logs.meta.trainInteractions, release.meta.trainInteractions);

  // Unmapped release items and dropped raw items: counted, with examples, in meta and in the log.
  const droppedRows = [...log.sequences.values()].flat().filter((i) => FOREIGN.includes(i)).length;
  assert.match(logs.meta.simulatorData, /^the raw logs \(ratings\.dat, raw:ml-1m\)/);
  assert.match(
    logs.meta.simulatorData,
    new RegExp(`2 release items of ${RELEASE_ITEMS} never occur in the logs \\(unmapped.*raw ids ${f.raw(UNMAPPED[0])}, ${f.raw(UNMAPPED[1])}\\)`),
  );
  assert.match(
    logs.meta.simulatorData,
    new RegExp(`${droppedRows} interactions on 3 raw items outside the release's item set dropped \\(raw ids with their interactions, most first: `),
  );
  assert.match(logs.meta.simulatorData, /leaving 1 user with no sequence/);
  for (const id of FOREIGN) assert.match(logs.meta.simulatorData, new RegExp(`[:,] ${id} \\(\\d+\\)`));
  assert.ok(lines.some((l) => /warning: ml-1m: 2 release items .* never occur in the logs/.test(l)));
  assert.ok(lines.some((l) => /warning: ml-1m: raw logs ratings\.dat: \d+ interactions on 3 raw items outside/.test(l)));
  assert.ok(lines.some((l) => l.includes(`the simulators learn from the raw logs ${path.join(data, 'ratings.dat')}`)));
  assert.ok(logs.meta.notes.some((n) => n.includes('1 exact duplicate record')));
  assert.equal(logs.meta.notes.filter((n) => n.startsWith('simulators: ')).length, 1);
  assert.match(logs.meta.source, /^prorl-release:ml-1m; simulators: raw:ml-1m$/);

  // Its own hash, so its simulators never share a checkpoint (or a shipped one) with 'release'.
  assert.notEqual(logs.meta.hash, release.meta.hash);
  const { checkpointPath } = await import('../simulators/index.ts');
  const spec = { model: 'sasrec' as const, seed: 1, cacheDir: cache };
  assert.notEqual(checkpointPath({ ...spec, dataset: logs }), checkpointPath({ ...spec, dataset: release }));

  // `data stats --simulator-data logs` shows the same report in its notes.
  let stdout = '';
  assert.equal(
    await runCli(['stats', 'ml-1m', '--data-dir', data, '--cache-dir', cache, '--simulator-data', 'logs', '--json'], {
      out: (s) => (stdout += s),
      err: () => {},
    }),
    0,
  );
  assert.ok((JSON.parse(stdout) as { notes: string[] }).notes.includes(`simulators: ${interactions} interactions, ${logs.meta.simulatorData}.`));

  // The compiled cache gives back the same dataset, and still says what the simulators learn from.
  const again: string[] = [];
  const cached = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, simulatorData: 'logs', log: (l) => again.push(l) });
  assert.ok(again.some((l) => l.includes('cached build')));
  assert.ok(again.some((l) => l.includes('simulators learn from the raw logs (ratings.dat')));
  assert.deepEqual(cached.simulatorSequences, logs.simulatorSequences);
  assert.deepEqual(cached.meta, logs.meta);
});

test("the issue's case: with the raw files fetched into the cache, 'release' reads them as today, 'logs' gets the release's cases back", async () => {
  const saved = { data: process.env.PRORL_DATA_DIR };
  delete process.env.PRORL_DATA_DIR;
  try {
    const cache = path.join(tmp, 'cached', 'cache');
    const f = writeRelease(path.join(cache, 'raw', 'prorl-release'), 'ml-1m');
    const log = rawLog(f);
    writeMovieLensRaw(path.join(cache, 'raw', 'ml-1m', 'ml-1m'), log);
    const today = await loadDataset('ml-1m', { cacheDir: cache, useCache: false, log: quiet });
    assert.equal(today.meta.source, 'raw:ml-1m');
    const logs = await loadDataset('ml-1m', { cacheDir: cache, useCache: false, simulatorData: 'logs', log: quiet });
    const release = await loadDataset('ml-1m', { dataDir: path.join(cache, 'raw', 'prorl-release'), cacheDir: cache, useCache: false, log: quiet });
    assertSameCases(logs, release);
    assert.deepEqual(logs.simulatorSequences, expectedSequences(logs, log));
  } finally {
    if (saved.data !== undefined) process.env.PRORL_DATA_DIR = saved.data;
  }
});

test("books: release records use internal ids; the raw log's ASINs map through the datamaps' id2item", async () => {
  const data = path.join(tmp, 'books', 'data');
  const f = writeRelease(data, 'Books', { internalIds: true });
  const log = rawLog(f);
  writeBooksCsv(data, log);
  const opts = { dataDir: data, cacheDir: path.join(tmp, 'books', 'cache'), useCache: false, log: quiet };
  const release = await loadDataset('books', opts);
  const logs = await loadDataset('books', { ...opts, simulatorData: 'logs' });
  assertSameCases(logs, release);
  assert.ok(f.raw(0).startsWith('B0'), 'the raw ids are ASINs, not the ids the records use');
  assert.deepEqual(logs.simulatorSequences, expectedSequences(logs, log));
  assert.match(logs.meta.simulatorData, /raw:amazon-csv/);
});

test("'logs' without raw logs: an input error naming every file looked for and the fetch command", async () => {
  const data = path.join(tmp, 'nolog', 'data');
  writeRelease(data, 'ml-1m');
  const opts = { dataDir: data, cacheDir: path.join(tmp, 'nolog', 'cache'), simulatorData: 'logs' as const, log: quiet };
  await assert.rejects(loadDataset('ml-1m', opts), (e: unknown) => {
    assert.ok(e instanceof SimulatorLogsNotFoundError);
    assert.equal(e.kind, 'input');
    assert.ok(e.message.includes(path.join(data, 'ratings.dat')), e.message);
    assert.ok(e.message.includes(path.join(data, 'ml-1m', 'ratings.dat')), e.message);
    assert.match(e.message, /fetch ml-1m/);
    return true;
  });
  // The data command says the same and exits 2 (an input error).
  let stderr = '';
  const code = await runCli(['stats', 'ml-1m', '--data-dir', data, '--cache-dir', opts.cacheDir, '--simulator-data', 'logs'], {
    out: () => {},
    err: (s) => (stderr += s),
  });
  assert.equal(code, 2);
  assert.match(stderr, /simulatorData 'logs' trains the user simulators on the raw interaction logs, and none were found/);
  // Steam and Books need --allow-unverified (no recorded checksum), and name their own files.
  const steamData = path.join(tmp, 'nolog', 'steam');
  writeRelease(steamData, 'Steam');
  await assert.rejects(loadDataset('steam', { ...opts, dataDir: steamData }), (e: unknown) => {
    assert.ok(e instanceof SimulatorLogsNotFoundError);
    assert.ok(e.message.includes(path.join(steamData, 'steam_reviews.json.gz')), e.message);
    assert.ok(e.message.includes(path.join(steamData, 'steam', 'australian_user_reviews.json')), e.message);
    assert.match(e.message, /fetch steam --allow-unverified/);
    return true;
  });
  // Without the release there are no paper cases to keep: said so, with the release's fetch command.
  const rawOnly = path.join(tmp, 'nolog', 'raw-only');
  writeMovieLensRaw(rawOnly, rawLog(writeRelease(path.join(tmp, 'nolog', 'unused'), 'ml-1m')));
  await assert.rejects(loadDataset('ml-1m', { ...opts, dataDir: rawOnly }), (e: unknown) => {
    assert.ok(e instanceof DataNotFoundError);
    assert.match(e.message, /fetch prorl-release/);
    return true;
  });
});

test('raw logs that share no item with the release are refused, naming the file', () => {
  const ds = {
    name: 'ml-1m',
    items: { count: 2, rawIds: ['10', '11'], titles: ['', ''], attributes: [[], []], attributeNames: [] },
    meta: { notes: [] },
  } as unknown as Dataset;
  const raw = new InteractionLog();
  raw.add('u', '99', 1);
  assert.throws(
    () => withLogSimulatorSequences(ds, raw, { file: '/x/ratings.dat', variant: 'ml-1m', hash: 'h', log: quiet }),
    /\/x\/ratings\.dat: expected interactions on items of the release's item table .* logs of another dataset\?/,
  );
  assert.throws(
    () => withLogSimulatorSequences(ds, new InteractionLog(), { file: '/x/ratings.dat', variant: 'ml-1m', hash: 'h', log: quiet }),
    /\/x\/ratings\.dat: expected interactions on items of the release's item table .*, found no interactions/,
  );
});

test('the world option: default release, recorded in the resolved world options and in the planned runs', async () => {
  for (const id of ['ml-1m-v0', 'steam-v0', 'books-v0'] as const) {
    assert.equal(resolveWorldOptions(id, {}).simulatorData, 'release');
    assert.equal(resolveWorldOptions(id, { simulatorData: 'logs' }).simulatorData, 'logs');
    assert.throws(() => resolveWorldOptions(id, { simulatorData: 'raw' }), ValidationError);
  }
  const name: DatasetName = 'ml-1m';
  const plan = await planRuns(loadSuite('smoke'), { env: `${name}-v0`, agent: 'random', world: { simulatorData: 'logs' } });
  assert.ok(plan.runs.length > 0);
  assert.ok(plan.runs.every((r) => r.config.world.simulatorData === 'logs'));
  const defaults = await planRuns(loadSuite('smoke'), { env: `${name}-v0`, agent: 'random' });
  assert.ok(defaults.runs.every((r) => r.config.world.simulatorData === 'release'));
});
