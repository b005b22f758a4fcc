/** The compiled cache: keyed by inputs, round-trips exactly, survives damage, never half-written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset } from '../data/index.ts';
import { deserializeDataset, serializeDataset, writeFileAtomic } from '../data/cache.ts';
import { buildFromLog } from '../data/build.ts';
import { InteractionLog } from '../data/log.ts';
import { writeRelease } from './fixtures/data/release.ts';
import { syntheticLog } from './fixtures/data/synthetic-logs.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-data-cache-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const entries = (cache: string) => readdirSync(path.join(cache, 'compiled'));

test('serialize/deserialize round-trips every field (paths, missing paths, users, semantic ids)', () => {
  const { items, sequences } = syntheticLog(2, 50);
  const log = new InteractionLog();
  sequences.forEach((s, u) => s.forEach((i, t) => log.add(`u${u}`, `i${i}`, t)));
  for (const it of items) log.addMeta(`i${it.id}`, it.title, it.genres);
  const built = buildFromLog('rt', log, { seed: 1, hash: 'abc', source: 'test' });
  const ds = {
    ...built,
    items: { ...built.items, semanticIds: built.items.rawIds.map((_, i) => (i % 5 === 0 ? [] : [i, 1, 2, 3])) },
    cases: { ...built.cases, test: [...built.cases.test, { history: built.cases.test[0].history, target: 0 }] },
  };
  const back = deserializeDataset(serializeDataset(ds, 3), 'x');
  assert.equal(back.droppedRecords, 3);
  assert.deepEqual(back.dataset.items, ds.items);
  assert.deepEqual(back.dataset.cases, ds.cases);
  assert.deepEqual(back.dataset.sequences, ds.sequences);
  assert.deepEqual(back.dataset.meta, ds.meta);
  assert.deepEqual(back.dataset.popularity, ds.popularity);
  assert.equal(back.dataset.cases.test.at(-1)!.path, undefined, 'a case without a path stays without one');
});

test('the cache key follows the inputs: same files and seed hit, a changed file or seed misses', async () => {
  const data = path.join(tmp, 'key', 'data');
  const cache = path.join(tmp, 'key', 'cache');
  writeRelease(data, 'ml-1m');
  const logs: string[] = [];
  const log = (s: string) => logs.push(s);
  const a = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log });
  const b = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log });
  assert.equal(a.meta.hash, b.meta.hash);
  assert.equal(logs.filter((l) => /cached build/.test(l)).length, 1);
  appendFileSync(path.join(data, 'ml-1m', 'ml-1m.test'), ' ');
  const c = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log });
  assert.notEqual(c.meta.hash, a.meta.hash);
  assert.equal(entries(cache).length, 2);
});

test('a damaged cache entry is reported, removed and rebuilt', async () => {
  const data = path.join(tmp, 'damaged', 'data');
  const cache = path.join(tmp, 'damaged', 'cache');
  writeRelease(data, 'ml-1m');
  const good = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache });
  const [entry] = entries(cache);
  writeFileSync(path.join(cache, 'compiled', entry), 'PRORECGYM-DATASET-1\n12\n{"name": 1}');
  const logs: string[] = [];
  const again = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: (s) => logs.push(s) });
  assert.deepEqual(again.cases, good.cases);
  assert.ok(logs.some((l) => /not a usable cache entry .*rebuilding/.test(l)));
  assert.deepEqual(entries(cache), [entry]);
});

test('writeFileAtomic leaves no temporary file, and an unwritable cache only warns', async () => {
  const dir = path.join(tmp, 'atomic');
  writeFileAtomic(path.join(dir, 'f'), 'one');
  writeFileAtomic(path.join(dir, 'f'), 'two');
  assert.deepEqual(readdirSync(dir), ['f']);
  const data = path.join(tmp, 'ro', 'data');
  writeRelease(data, 'ml-1m');
  // A file where the cache folder should be: nothing can be written under it.
  const blocked = path.join(tmp, 'ro', 'cache-is-a-file');
  writeFileSync(blocked, '');
  const logs: string[] = [];
  const ds = await loadDataset('ml-1m', { dataDir: data, cacheDir: blocked, log: (s) => logs.push(s) });
  assert.ok(ds.cases.test.length > 0);
  assert.ok(logs.some((l) => /warning: could not write the cache entry/.test(l)));
});
