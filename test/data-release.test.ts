/**
 * The ProRL release layout: small fixtures that run everywhere, and the real snapshot (record
 * counts and quirks) when it is present. The real data is loaded once per dataset in this file.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, DataFormatError, MissingItemsError } from '../data/index.ts';
import { snapshotDir } from '../data/paths.ts';
import { HISTORY_LENGTH, SPLITS, type Dataset } from '../data/dataset.ts';
import { writeRelease, USERS, VAL_WINDOWS, TEST_RECORDS, RELEASE_ITEMS } from './fixtures/data/release.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-data-release-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const quiet = () => {};

function fresh(name: string): { data: string; cache: string } {
  const d = path.join(tmp, name);
  return { data: path.join(d, 'data'), cache: path.join(d, 'cache') };
}

// ---------------------------------------------------------------- fixtures (always run)

test('release fixture: cases are the records, dense ids map back to raw ids, titles via the internal id', async () => {
  const { data, cache } = fresh('ml');
  const f = writeRelease(data, 'ml-1m');
  const ds = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet });
  assert.equal(ds.items.count, RELEASE_ITEMS);
  const dense = (k: number) => ds.items.rawIds.indexOf(f.raw(k));
  for (let k = 0; k < RELEASE_ITEMS; k++) {
    const d = dense(k);
    assert.ok(d >= 0);
    // The title of raw item k is stored under its INTERNAL id in itemid2title.
    assert.equal(ds.items.titles[d], f.title(k));
    // Attributes are keyed by the raw id (ids are 1-based in the file, 0-based here).
    assert.deepEqual(
      ds.items.attributes[d],
      f.attributes(k).map((a) => a - 1),
    );
    assert.deepEqual(ds.items.semanticIds?.[d], [k, 2 * k, 3 * k, 1]);
  }
  assert.deepEqual(ds.items.attributeNames, ['Action', 'Comedy', 'Drama', 'Sci-Fi']);
  // Val records -> train + valid, by user; test records verbatim.
  assert.equal(ds.cases.train.length + ds.cases.valid.length, VAL_WINDOWS.length);
  assert.equal(ds.cases.test.length, TEST_RECORDS.length);
  TEST_RECORDS.forEach(([h, cont, target], i) => {
    const c = ds.cases.test[i];
    assert.deepEqual(c.history, h.map(dense));
    assert.deepEqual(c.path, cont.map(dense));
    assert.equal(c.target, dense(target));
    assert.equal(c.user, undefined);
  });
  for (const c of [...ds.cases.train, ...ds.cases.valid]) {
    const w = VAL_WINDOWS.find(
      ([u, s]) =>
        u === c.user &&
        USERS[u]
          .slice(s, s + 10)
          .map(dense)
          .join() === c.history.join(),
    )!;
    assert.ok(w, 'each case comes from a val record');
    const run = USERS[w[0]].slice(w[1] + 10, w[2]).map(dense);
    assert.equal(c.target, run[run.length - 1]);
    assert.deepEqual(c.path, run.slice(0, -1));
  }
});

test('release fixture: users never cross train/valid; windows of one user are stitched back into the real sequence', async () => {
  const { data, cache } = fresh('stitch');
  const f = writeRelease(data, 'ml-1m');
  const ds = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet });
  const trainUsers = new Set(ds.cases.train.map((c) => c.user));
  const validUsers = new Set(ds.cases.valid.map((c) => c.user));
  assert.ok(trainUsers.size > 0 && validUsers.size > 0);
  for (const u of validUsers) assert.ok(!trainUsers.has(u));
  const all = [...ds.sequences.train, ...ds.sequences.valid].map((s) => s.map((d) => ds.items.rawIds[d]).join(' '));
  // alice's two windows (0..12 and 3..16) overlap by 9 items: one sequence of all 16 items.
  assert.ok(all.includes(USERS.alice.map(f.raw).join(' ')));
  assert.ok(all.includes(USERS.bob.slice(0, 13).map(f.raw).join(' ')));
  assert.equal(
    ds.meta.trainInteractions,
    ds.sequences.train.reduce((a, s) => a + s.length, 0),
  );
  assert.ok(ds.meta.notes.some((n) => /sequences reconstructed by stitching/.test(n)));
  // Test sequences: the two test windows overlap by 8 items (>= the test threshold): one sequence.
  assert.deepEqual(
    ds.sequences.test.map((s) => s.map((d) => ds.items.rawIds[d]).join(' ')),
    [[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(f.raw).join(' ')],
  );
});

test('release fixture: the split is seeded (same seed, same split; the cases are the same whatever the seed)', async () => {
  const { data, cache } = fresh('seed');
  writeRelease(data, 'ml-1m');
  const a = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, seed: 3, log: quiet });
  const b = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, seed: 3, useCache: false, log: quiet });
  assert.deepEqual(a.cases, b.cases);
  const users = (ds: Dataset) => [...new Set(ds.cases.valid.map((c) => c.user))].sort().join();
  const splits = new Set<string>();
  for (let seed = 0; seed < 8; seed++) splits.add(users(await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, seed, log: quiet })));
  assert.ok(splits.size > 1, 'different seeds choose different valid users');
  assert.notEqual(a.meta.hash, (await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, seed: 4, log: quiet })).meta.hash);
});

test('quirk (Books): records use datamaps internal ids while item2id keys are ASINs', async () => {
  const { data, cache } = fresh('books');
  const f = writeRelease(data, 'Books', { internalIds: true });
  const ds = await loadDataset('books', { dataDir: data, cacheDir: cache, log: quiet });
  // rawIds are the ASINs; case ids resolve through the internal id.
  const dense = (k: number) => ds.items.rawIds.indexOf(f.raw(k));
  assert.ok(ds.items.rawIds.every((r) => /^B0/.test(r)));
  const [h, cont, target] = TEST_RECORDS[0];
  assert.deepEqual(ds.cases.test[0].history, h.map(dense));
  assert.deepEqual(ds.cases.test[0].path, cont.map(dense));
  assert.equal(ds.cases.test[0].target, dense(target));
  for (let k = 0; k < RELEASE_ITEMS; k++) {
    assert.equal(ds.items.titles[dense(k)], f.title(k));
    assert.deepEqual(
      ds.items.attributes[dense(k)],
      f.attributes(k).map((a) => a - 1),
    );
  }
  assert.ok(ds.meta.notes.some((n) => /internal ids/.test(n)));
  // Read as if it used raw ids (the ml-1m/Steam convention), nothing would resolve.
  const { data: d2, cache: c2 } = fresh('books-as-ml');
  writeRelease(d2, 'ml-1m', { internalIds: true });
  await assert.rejects(loadDataset('ml-1m', { dataDir: d2, cacheDir: c2, strict: true, log: quiet }), MissingItemsError);
});

test('quirk (Steam): repeated items in histories are kept, not de-duplicated', async () => {
  const { data, cache } = fresh('steam');
  const f = writeRelease(data, 'Steam');
  const ds = await loadDataset('steam', { dataDir: data, cacheDir: cache, log: quiet });
  const carol = [...ds.cases.train, ...ds.cases.valid].find((c) => c.user === 'carol')!;
  assert.deepEqual(
    carol.history.map((d) => ds.items.rawIds[d]),
    USERS.carol.slice(1, 11).map(f.raw),
  );
  assert.ok(new Set(carol.history).size < HISTORY_LENGTH);
});

test('records naming unknown items: reported with counts, an error under strict; nothing cached on failure', async () => {
  const { data, cache } = fresh('missing');
  const known = (k: number) => String(100 + 7 * k); // raw ids of the fixture's items
  writeRelease(data, 'ml-1m', {
    extraVal: [{ user: 'dave', inters: Array.from({ length: 10 }, (_, k) => known(k)), proc_path: ['99999', known(0)] }],
    extraTest: [{ inters: ['424242', ...Array.from({ length: 9 }, (_, k) => known(k))], target: known(0), proc_path: [known(1), known(0)] }],
  });
  const logs: string[] = [];
  await assert.rejects(loadDataset('ml-1m', { dataDir: data, cacheDir: cache, strict: true, log: (s) => logs.push(s) }), (e: unknown) => {
    assert.ok(e instanceof MissingItemsError);
    assert.match(e.message, /ml-1m\.val records: 1 record\(s\) dropped, 1 distinct unknown item id\(s\) \(e\.g\. 99999\)/);
    assert.match(e.message, /ml-1m\.test records: 1 record\(s\) dropped.*424242/);
    return true;
  });
  assert.deepEqual(cacheEntries(cache), [], 'a failed load writes nothing to the cache');
  const ds = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: (s) => logs.push(s) });
  assert.equal(ds.cases.test.length, TEST_RECORDS.length);
  assert.ok(logs.some((l) => /warning: ml-1m: ml-1m\.test records: 1 record\(s\) dropped/.test(l)));
  assert.ok(ds.meta.notes.some((n) => /^missing items: ml-1m\.val records: 1 record/.test(n)));
  // The cached entry remembers the drops: a strict load still refuses it.
  await assert.rejects(loadDataset('ml-1m', { dataDir: data, cacheDir: cache, strict: true, log: quiet }), MissingItemsError);
});

function cacheEntries(cacheDir: string): string[] {
  const d = path.join(cacheDir, 'compiled');
  return existsSync(d) ? readdirSync(d) : [];
}

test('malformed release files: the error names the file, the record and what was expected', async () => {
  const { data, cache } = fresh('bad-val');
  writeRelease(data, 'ml-1m', { extraVal: [{ user: 'x', inters: ['100', '107'], proc_path: ['114', '121'] }] });
  await assert.rejects(loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet }), (e: unknown) => {
    assert.ok(e instanceof DataFormatError);
    assert.match(e.message, /ml-1m\.val: expected an array of \{user, inters: 10 ids/);
    assert.match(e.message, /record 4, field inters: must NOT have fewer than 10 items/);
    return true;
  });
  const bad2 = fresh('bad-test');
  writeRelease(bad2.data, 'ml-1m', { extraTest: [{ inters: Array(10).fill('100'), target: '107', proc_path: ['114', '121'] }] });
  await assert.rejects(
    loadDataset('ml-1m', { dataDir: bad2.data, cacheDir: bad2.cache, log: quiet }),
    /ml-1m\.test, record 2: expected target equal to the last item of proc_path, found target 107, last 121/,
  );
  const bad3 = fresh('bad-json');
  writeRelease(bad3.data, 'ml-1m');
  const file = path.join(bad3.data, 'ml-1m', 'ml-1m.datamaps');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"item2id": {', '"item2id": {,').replace('"item2id":{', '"item2id":{,'));
  await assert.rejects(
    loadDataset('ml-1m', { dataDir: bad3.data, cacheDir: bad3.cache, log: quiet }),
    /ml-1m\.datamaps, line 1, column \d+: expected valid JSON/,
  );
  assert.deepEqual(cacheEntries(bad3.cache), []);
});

test('no source: the error says where it looked and how to get the data', async () => {
  const empty = path.join(tmp, 'empty');
  await assert.rejects(loadDataset('steam', { dataDir: empty, cacheDir: path.join(tmp, 'c'), log: quiet }), (e: unknown) => {
    const m = (e as Error).message;
    assert.match(m, /no data for 'steam'/);
    assert.ok(m.includes(empty));
    assert.match(m, /npm run data -- fetch steam/);
    return true;
  });
});

// ---------------------------------------------------------------- the real snapshot

const SNAPSHOT = snapshotDir();
const haveSnapshot = existsSync(path.join(SNAPSHOT, 'ml-1m', 'ml-1m.val'));
const skip = haveSnapshot
  ? false
  : `no ../shared/datasets/prorl-snapshot: set PRORL_SNAPSHOT_DIR to the ProRL release's datasets/ folder to run the real-data tests (looked in ${SNAPSHOT})`;

const EXPECTED = {
  'ml-1m': { stem: 'ml-1m', val: 6771, test: 6928, valUsers: 491 },
  steam: { stem: 'Steam', val: 9522, test: 10240, valUsers: 1031 },
  books: { stem: 'Books', val: 8986, test: 8704, valUsers: 243 },
} as const;
type Name = keyof typeof EXPECTED;
const real = {} as Record<Name, Dataset>;
const rawRecords = {} as Record<
  Name,
  {
    val: { user: string; inters: string[]; proc_path: string[] }[];
    test: { inters: string[]; proc_path: string[]; target: string }[];
    maps: Record<string, Record<string, unknown>>;
  }
>;

const REAL_CACHE = path.join(tmp, 'real-cache');
const coldMs = {} as Record<Name, number>;

before(async () => {
  if (!haveSnapshot) return;
  for (const name of Object.keys(EXPECTED) as Name[]) {
    const t0 = performance.now();
    real[name] = await loadDataset(name, { dataDir: SNAPSHOT, cacheDir: REAL_CACHE, strict: true, log: quiet });
    coldMs[name] = performance.now() - t0;
    const stem = EXPECTED[name].stem;
    const read = (ext: string) => JSON.parse(readFileSync(path.join(SNAPSHOT, stem, `${stem}.${ext}`), 'utf8'));
    rawRecords[name] = { val: read('val'), test: read('test'), maps: read('datamaps') };
  }
});

for (const name of Object.keys(EXPECTED) as Name[]) {
  test(`real ${name}: record counts, 10-item histories, users disjoint, test cases verbatim`, { skip }, () => {
    const ds = real[name];
    const e = EXPECTED[name];
    assert.equal(ds.cases.train.length + ds.cases.valid.length, e.val);
    assert.equal(ds.cases.test.length, e.test);
    for (const split of SPLITS) for (const c of ds.cases[split]) assert.equal(c.history.length, HISTORY_LENGTH);
    const trainUsers = new Set(ds.cases.train.map((c) => c.user));
    const validUsers = new Set(ds.cases.valid.map((c) => c.user));
    assert.equal(trainUsers.size + validUsers.size, e.valUsers);
    for (const u of validUsers) assert.ok(!trainUsers.has(u), `user ${u} in both train and valid`);
    assert.ok(Math.abs(validUsers.size - Math.round(e.valUsers * 0.1)) <= 1);
    // Test cases are the .test records, in order: path = proc_path without its last item, target = target.
    const { test: recs, maps } = rawRecords[name];
    const toRecordId = (d: number) => (name === 'books' ? String((maps.item2id as Record<string, number>)[ds.items.rawIds[d]]) : ds.items.rawIds[d]);
    for (const i of [0, 1, recs.length - 1]) {
      const c = ds.cases.test[i];
      assert.deepEqual(c.history.map(toRecordId), recs[i].inters);
      assert.deepEqual(c.path!.map(toRecordId), recs[i].proc_path.slice(0, -1));
      assert.equal(toRecordId(c.target), recs[i].target);
    }
    // Every train window is a contiguous run of some train sequence (stitching lost nothing).
    const seqText = ds.sequences.train.map((s) => `,${s.join(',')},`);
    for (const c of ds.cases.train.slice(0, 300)) {
      const w = `,${[...c.history, ...c.path!, c.target].join(',')},`;
      assert.ok(
        seqText.some((s) => s.includes(w)),
        'train window found in a stitched sequence',
      );
    }
    assert.ok(ds.meta.trainInteractions > 0);
    // The simulators learn from every real window: train, valid and the test records' histories
    // and real continuations (never a test case's random target, which is not part of any window).
    assert.deepEqual(ds.simulatorSequences, [...ds.sequences.train, ...ds.sequences.valid, ...ds.sequences.test]);
    assert.equal(
      ds.meta.simulatorInteractions,
      ds.simulatorSequences.reduce((a, s) => a + s.length, 0),
    );
    const simText = ds.simulatorSequences.map((s) => `,${s.join(',')},`);
    for (const c of ds.cases.test.slice(0, 300)) {
      const w = `,${[...c.history, ...c.path!].join(',')},`;
      assert.ok(
        simText.some((s) => s.includes(w)),
        'test window (history + real continuation) found in a simulator sequence',
      );
    }
    assert.ok(ds.meta.notes.some((n) => n.startsWith('simulators: ')));
    assert.ok(
      ds.meta.notes.some((n) => /0 of them across users/.test(n)),
      'the test stitching rule glues no val windows of different users',
    );
  });
}

test('real quirk: ml-1m titles are keyed by internal id (raw movie 1 is Toy Story; internal id 1 is not)', { skip }, () => {
  const ds = real['ml-1m'];
  const d = ds.items.rawIds.indexOf('1');
  assert.equal(ds.items.titles[d], 'Toy Story (1995)');
  assert.equal((rawRecords['ml-1m'].maps.itemid2title as Record<string, string>)['1'], 'Star Wars: Episode V - The Empire Strikes Back (1980)');
  // Attributes are keyed by the raw id: Toy Story is Animation, Children's, Comedy.
  assert.deepEqual(ds.items.attributes[d].map((a) => ds.items.attributeNames[a]).sort(), ['Animation', "Children's", 'Comedy']);
});

test('real quirk: Books records use internal ids, rawIds are ASINs, attributes agree with the ASIN-keyed map', { skip }, () => {
  const ds = real.books;
  const maps = rawRecords.books.maps;
  assert.equal(ds.items.count, 5227);
  assert.ok(
    ds.items.rawIds.every((r) => r in (maps.item2id as object)),
    'rawIds are item2id keys (ASINs)',
  );
  const byAsin = maps.raw_item_id2attribute_ as Record<string, number[]>;
  for (let d = 0; d < ds.items.count; d += 97)
    assert.deepEqual(
      ds.items.attributes[d],
      [...byAsin[ds.items.rawIds[d]]].map((a) => a - 1).sort((a, b) => a - b),
    );
  // The first val record's first history item is internal id 4240.
  const first = rawRecords.books.val[0];
  const c = [...ds.cases.train, ...ds.cases.valid].find((x) => x.user === first.user)!;
  assert.equal(ds.items.rawIds[c.history[0]], (maps.id2item as Record<string, string>)[first.inters[0]]);
});

test('real quirk: Steam histories repeat items and are kept as they are', { skip }, () => {
  const ds = real.steam;
  const withRepeats = [...ds.cases.train, ...ds.cases.valid].filter((c) => new Set(c.history).size < HISTORY_LENGTH).length;
  assert.equal(withRepeats, rawRecords.steam.val.filter((r) => new Set(r.inters).size < HISTORY_LENGTH).length);
  assert.ok(withRepeats > 1000);
  // Titles: HTML entities decoded.
  assert.ok(!ds.items.titles.some((t) => t.includes('&amp;')));
});

test('real data: a cached load equals the fresh build, and is faster', { skip }, async () => {
  for (const name of Object.keys(EXPECTED) as Name[]) {
    const t0 = performance.now();
    const warm = await loadDataset(name, { dataDir: SNAPSHOT, cacheDir: REAL_CACHE, strict: true, log: quiet });
    const ms = performance.now() - t0;
    const cold = real[name];
    assert.deepEqual(warm.cases, cold.cases);
    assert.deepEqual(warm.sequences, cold.sequences);
    assert.deepEqual(warm.simulatorSequences, cold.simulatorSequences);
    assert.deepEqual(warm.items, cold.items);
    assert.deepEqual(warm.meta, cold.meta);
    assert.deepEqual(warm.popularity, cold.popularity);
    assert.ok(ms < coldMs[name], `${name}: cached ${Math.round(ms)} ms vs cold ${Math.round(coldMs[name])} ms`);
  }
});
