/**
 * The learned simulators' inference contract: padding and batch invariance, incremental stepping
 * equal to full recomputation (also past the sliding window), no tensor leaks, NaN detection.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ensureBackend, tf } from '../simulators/runtime.ts';
import { createModel } from '../simulators/model.ts';
import { NonFiniteScoresError, TfSimulator, type TfBatch } from '../simulators/batch.ts';
import type { ModelConfig } from '../simulators/config.ts';
import { Rng } from '../core/rng.ts';

const N = 37;
const MAX_LEN = 8;
const CONFIGS: ModelConfig[] = [
  { model: 'sasrec', hidden: 16, blocks: 2, heads: 2, feedForward: 32, dropout: 0.5, maxLen: MAX_LEN },
  { model: 'gru4rec', embedding: 16, hidden: 24, dropout: 0.3, maxLen: MAX_LEN },
];

before(async () => {
  await ensureBackend({ quiet: true });
});

function simulator(config: ModelConfig, seed = 1): TfSimulator {
  return new TfSimulator(createModel(config, N, seed), `${config.model}-test`);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function rowScores(batch: TfBatch | ReturnType<TfSimulator['open']>, row: number): Float32Array {
  return batch.scores().slice(row * N, (row + 1) * N);
}

const sequence = fc.array(fc.integer({ min: 0, max: N - 1 }), { minLength: 1, maxLength: 2 * MAX_LEN });

for (const config of CONFIGS) {
  test(`${config.model}: a sequence's scores do not depend on padding, batch composition or batch size`, () => {
    const sim = simulator(config);
    try {
      fc.assert(
        fc.property(sequence, fc.array(sequence, { maxLength: 6 }), fc.nat(), (seq, others, at) => {
          const alone = sim.open([seq]);
          const position = at % (others.length + 1);
          const rows = [...others.slice(0, position), seq, ...others.slice(position)];
          const mixed = sim.open(rows);
          try {
            assert.ok(maxAbsDiff(rowScores(alone, 0), rowScores(mixed, position)) < 1e-5);
          } finally {
            alone.dispose();
            mixed.dispose();
          }
        }),
        { numRuns: 25, seed: 7 },
      );
    } finally {
      sim.dispose();
    }
  });

  test(`${config.model}: incremental advance() agrees with full recomputation within 1e-4, also past the ${MAX_LEN}-item window`, () => {
    const sim = simulator(config);
    const rng = Rng.stream(3, 'sim-test');
    try {
      fc.assert(
        fc.property(fc.array(sequence, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 2 * MAX_LEN }), fc.nat(), (start, steps, seed) => {
          const r = new Rng(seed, 'steps');
          const batch = sim.open(start) as TfBatch;
          const size = start.length;
          try {
            for (let s = 0; s < steps; s++) {
              const items = Int32Array.from({ length: size }, () => r.int(N));
              const targets = Int32Array.from({ length: size }, () => r.int(N));
              const rows = Uint8Array.from({ length: size }, () => (r.float() < 0.8 ? 1 : 0));
              const before = batch.ctr(items);
              const result = batch.advance(items, targets, rows);
              const full = sim.open(batch.currentWindows());
              try {
                for (let i = 0; i < size; i++) assert.ok(Math.abs(result.ctr[i] - (rows[i] ? before[i] : 0)) < 1e-6);
                const stats = full.targetStats(targets);
                assert.ok(maxAbsDiff(result.logProb, stats.logProb) < 1e-4, `logProb at step ${s}`);
                assert.ok(maxAbsDiff(batch.scores(), full.scores()) < 1e-4, `scores at step ${s}`);
                assert.ok(maxAbsDiff(batch.states(), full.states()) < 1e-4, `states at step ${s}`);
                for (let i = 0; i < size; i++) assert.ok(Math.abs(result.rank[i] - stats.rank[i]) <= 1, 'rank');
              } finally {
                full.dispose();
              }
            }
          } finally {
            batch.dispose();
          }
        }),
        { numRuns: 15, seed: rng.int(1 << 30) },
      );
    } finally {
      sim.dispose();
    }
  });

  test(`${config.model}: 1,000 batched advance() steps leave tf.memory().numTensors unchanged`, () => {
    const sim = simulator(config);
    const batch = sim.open([[1, 2, 3], [4], [5, 6, 7, 8, 9], [10, 11]]);
    const r = Rng.stream(5, 'leak');
    const step = () => {
      const items = Int32Array.from({ length: 4 }, () => r.int(N));
      const rows = Uint8Array.from({ length: 4 }, () => (r.float() < 0.9 ? 1 : 0));
      batch.advance(items, Int32Array.from([0, 1, 2, 3]), rows);
    };
    // Warm-up: tensors cached once per shape (SASRec's causal masks) are created here.
    for (let s = 0; s < 3 * MAX_LEN; s++) step();
    const before = tf.memory().numTensors;
    for (let s = 0; s < 1000; s++) step();
    const copy = batch.clone();
    copy.advance(Int32Array.from([1, 2, 3, 4]), Int32Array.from([0, 1, 2, 3]));
    copy.dispose();
    assert.equal(tf.memory().numTensors, before);
    batch.dispose();
    sim.dispose();
  });

  test(`${config.model}: NaN weights raise instead of returning NaN scores`, () => {
    const sim = simulator(config);
    const batch = sim.open([[1, 2], [3]]);
    const emb = sim.model.itemEmbedding() as tf.Variable;
    const values = emb.dataSync().slice();
    values[0] = NaN;
    const poisoned = tf.tensor(values, emb.shape);
    emb.assign(poisoned);
    poisoned.dispose();
    sim.refresh();
    assert.throws(() => batch.targetStats(Int32Array.from([0, 1])), NonFiniteScoresError);
    assert.throws(() => batch.scores(), NonFiniteScoresError);
    const fresh = sim.open([[0, 1]]);
    assert.throws(() => fresh.advance(Int32Array.from([2]), Int32Array.from([3])), NonFiniteScoresError);
    fresh.dispose();
    batch.dispose();
    sim.dispose();
  });
}

test('invalid items and shapes are rejected with a clear error', () => {
  const sim = simulator(CONFIGS[0]);
  assert.throws(() => sim.open([[]]), /empty/);
  assert.throws(() => sim.open([[N]]), /not an item id/);
  const batch = sim.open([[1], [2]]);
  assert.throws(() => batch.advance(Int32Array.from([1]), Int32Array.from([1, 2])), /entries/);
  assert.throws(() => batch.advance(Int32Array.from([1, -1]), Int32Array.from([1, 2])), /not an item id/);
  // A rejected row's item is never read.
  batch.advance(Int32Array.from([1, -1]), Int32Array.from([1, 2]), Uint8Array.from([1, 0]));
  batch.dispose();
  sim.dispose();
});
