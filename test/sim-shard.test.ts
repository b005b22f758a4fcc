/**
 * Row sharding over worker threads: a sharded simulator gives the same results as one thread
 * (open, advance with left-out rows, clone, target stats, scores), and errors leave every shard
 * unchanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureBackend } from '../simulators/runtime.ts';
import { createModel } from '../simulators/model.ts';
import { TfSimulator } from '../simulators/batch.ts';
import { ShardedSimulator } from '../simulators/shard.ts';
import { Rng } from '../core/rng.ts';

const N = 50;
let local: TfSimulator;
let sharded: ShardedSimulator;

before(async () => {
  await ensureBackend({ quiet: true });
  local = new TfSimulator(createModel({ model: 'sasrec', hidden: 16, blocks: 2, heads: 2, feedForward: 32, dropout: 0.5, maxLen: 10 }, N, 3), 'local');
  sharded = await ShardedSimulator.create(local, { seed: 3, workers: 1, minRows: 4 });
});
after(async () => {
  await sharded.dispose();
});

test('a sharded batch matches the single-thread batch step for step', () => {
  const rng = Rng.stream(1, 'shard-test');
  const rows = 9;
  const sequences = Array.from({ length: rows }, () => Array.from({ length: 1 + rng.int(12) }, () => rng.int(N)));
  const a = local.open(sequences);
  const b = sharded.open(sequences);
  assert.equal(b.size, rows);
  for (let step = 0; step < 12; step++) {
    const items = Int32Array.from({ length: rows }, () => rng.int(N));
    const targets = Int32Array.from({ length: rows }, () => rng.int(N));
    const mask = Uint8Array.from({ length: rows }, () => (rng.float() < 0.8 ? 1 : 0));
    const ra = a.advance(items, targets, mask);
    const rb = b.advance(items, targets, mask);
    assert.deepEqual(rb.rank, ra.rank);
    for (let r = 0; r < rows; r++) {
      assert.ok(Math.abs(ra.logProb[r] - rb.logProb[r]) < 1e-5);
      assert.ok(Math.abs(ra.ctr[r] - rb.ctr[r]) < 1e-6);
    }
  }
  const ca = a.clone();
  const cb = b.clone();
  const items = Int32Array.from({ length: rows }, (_, r) => r);
  ca.advance(items, items);
  cb.advance(items, items);
  const close = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    assert.equal(x.length, y.length);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5);
  };
  close(cb.scores(), ca.scores());
  close(b.scores(), a.scores());
  close(b.states(), a.states());
  close(b.ctr(items), a.ctr(items));
  assert.deepEqual(b.targetStats(items).rank, a.targetStats(items).rank);
  // An invalid item is refused before any shard moves.
  const bad = Int32Array.from(items);
  bad[rows - 1] = N;
  assert.throws(() => b.advance(bad, items), /not an item id/);
  close(b.scores(), a.scores());
  for (const x of [a, b, ca, cb]) x.dispose();
});

test('small batches stay on the main thread', () => {
  const batch = sharded.open([[1, 2]]);
  assert.equal(batch.constructor.name, 'TfBatch');
  batch.dispose();
});
