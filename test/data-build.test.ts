/** Building cases from interaction logs (docs/design.md §6.3): seeded, users disjoint, k-core, coherent runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFromLog } from '../data/build.ts';
import { InteractionLog } from '../data/log.ts';
import { datasetStats, formatStats } from '../data/stats.ts';
import { HISTORY_LENGTH, SPLITS, shareAttribute, type Dataset } from '../data/dataset.ts';
import { syntheticLog } from './fixtures/data/synthetic-logs.ts';

function logOf(seed = 1, users = 60): InteractionLog {
  const { items, sequences } = syntheticLog(seed, users);
  const log = new InteractionLog();
  // Rows in reverse time order, so the builder has to sort.
  for (let t = 60; t >= 0; t--) sequences.forEach((s, u) => t < s.length && log.add(`u${u}`, `i${s[t]}`, 1000 + t));
  for (const it of items) log.addMeta(`i${it.id}`, it.title, it.genres);
  return log;
}

const build = (seed: number, log = logOf(), extra: Partial<Parameters<typeof buildFromLog>[2]> = {}) =>
  buildFromLog('fixture', log, { seed, hash: 'h', source: 'test', ...extra });

test('cases: 10-item history, then a real attribute-coherent run; train/valid target = its last item', () => {
  const ds = build(1);
  const seqText = (split: 'train' | 'valid' | 'test') => ds.sequences[split].map((s) => `,${s.join(',')},`);
  for (const split of ['train', 'valid'] as const) {
    assert.ok(ds.cases[split].length > 0);
    for (const c of ds.cases[split]) {
      assert.equal(c.history.length, HISTORY_LENGTH);
      const run = [...c.path!, c.target];
      assert.ok(run.length >= 2 && run.length <= 10);
      for (let i = 1; i < run.length; i++) assert.ok(shareAttribute(ds.items, run[i - 1], run[i]), 'consecutive run items share an attribute');
      const w = `,${[...c.history, ...run].join(',')},`;
      assert.ok(
        seqText(split).some((s) => s.includes(w)),
        'history + run is a contiguous stretch of the user sequence',
      );
    }
  }
});

test('test cases: the real run is the path, the target is uniform over items outside history and path', () => {
  const ds = build(1);
  assert.ok(ds.cases.test.length > 0);
  const targets = new Set<number>();
  for (const c of ds.cases.test) {
    assert.ok(!c.history.includes(c.target) && !c.path!.includes(c.target));
    targets.add(c.target);
  }
  assert.ok(targets.size > ds.items.count / 3, 'targets spread over the catalogue');
});

test('users never cross splits; sequences are time-ordered; the build is a pure function of the seed', () => {
  const a = build(5);
  const b = build(5);
  assert.deepEqual(a.cases, b.cases);
  assert.deepEqual(a.sequences, b.sequences);
  const c = build(6);
  assert.notDeepEqual(
    c.cases.test.map((x) => x.user),
    a.cases.test.map((x) => x.user),
  );
  const usersOf = (ds: Dataset, split: 'train' | 'valid' | 'test') => new Set(ds.cases[split].map((x) => x.user));
  for (const [x, y] of [
    ['train', 'valid'],
    ['train', 'test'],
    ['valid', 'test'],
  ] as const)
    for (const u of usersOf(a, x)) assert.ok(!usersOf(a, y).has(u), `user ${u} in ${x} and ${y}`);
  const { sequences } = syntheticLog(1, 60);
  const all = new Set(SPLITS.flatMap((s) => a.sequences[s].map((q) => q.map((i) => a.items.rawIds[i]).join(' '))));
  // Sequences are the users' item lists in time order (the log was written newest first).
  const expected = new Set(sequences.map((s) => s.map((i) => `i${i}`).join(' ')));
  assert.equal(all.size, sequences.length, 'no user or item was filtered out of this log');
  for (const s of all) assert.ok(expected.has(s), 'every sequence is a user sequence in time order');
  assert.equal(
    a.meta.trainInteractions,
    a.sequences.train.reduce((n, s) => n + s.length, 0),
  );
  assert.ok(a.meta.notes.some((n) => /users split 80\/10\/10/.test(n)));
});

test('k-core: every kept user and item has at least k interactions, and the filtering is stated', () => {
  const log = new InteractionLog();
  // 20 users x 12 items of a popular set, plus rare items and a too-short user.
  for (let u = 0; u < 20; u++) for (let t = 0; t < 12; t++) log.add(`u${u}`, `p${(u + t) % 12}`, t);
  for (let u = 0; u < 3; u++) log.add(`u${u}`, 'rare', 100);
  for (let t = 0; t < 3; t++) log.add('short', `p${t}`, t);
  for (let i = 0; i < 12; i++) log.addMeta(`p${i}`, `P${i}`, ['g']);
  const ds = build(1, log, { kCore: 5 });
  assert.ok(!ds.items.rawIds.includes('rare'));
  const counts = new Map<number, number>();
  for (const s of SPLITS)
    for (const q of ds.sequences[s]) {
      assert.ok(q.length >= 5);
      for (const i of q) counts.set(i, (counts.get(i) ?? 0) + 1);
    }
  for (const c of counts.values()) assert.ok(c >= 5);
  assert.equal(
    SPLITS.reduce((n, s) => n + ds.sequences[s].length, 0),
    20,
    'the short user is dropped',
  );
  assert.ok(ds.meta.notes.some((n) => /5-core filtering .*: 240 of 246 interactions, 20 users, 12 items kept/.test(n)));
});

test('exact duplicate records are dropped (and counted); repeats at other times are kept', () => {
  const log = new InteractionLog();
  for (let u = 0; u < 10; u++) for (let t = 0; t < 14; t++) log.add(`u${u}`, `p${t % 7}`, t);
  log.add('u0', 'p0', 0); // same user, item and time as an earlier row
  for (let i = 0; i < 7; i++) log.addMeta(`p${i}`, '', ['g']);
  const ds = build(1, log);
  assert.equal(
    SPLITS.reduce((n, s) => n + ds.sequences[s].reduce((m, q) => m + q.length, 0), 0),
    140,
  );
  assert.ok(ds.meta.notes.some((n) => /1 exact duplicate records/.test(n)));
});

test('stats: counts per split, path-length distribution, attribute coverage; a readable table', () => {
  const ds = build(1);
  const s = datasetStats(ds);
  assert.equal(s.items, ds.items.count);
  for (const split of SPLITS) {
    assert.equal(s.splits[split].cases, ds.cases[split].length);
    assert.equal(
      Object.values(s.splits[split].pathLengths).reduce((a, b) => a + b, 0),
      ds.cases[split].length,
    );
  }
  assert.equal(s.itemAttributeCoverage, 1);
  const text = formatStats(s);
  assert.match(text, /split\s+users\s+sequences\s+interactions\s+cases/);
  assert.match(text, /path length/);
});
