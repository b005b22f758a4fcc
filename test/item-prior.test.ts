/**
 * The co-occurrence item prior (agents/item-prior.ts): collaborative factors of the train split's
 * sequences. Items consumed together get nearby factors, items never seen get zeros, the factors
 * depend on the data only, and a policy asked for the prior without the sequences fails clearly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cooccurrenceFactors, ppmiMatrix } from '../agents/item-prior.ts';
import { itemContentMatrix, PolicyNetwork } from '../agents/policy.ts';
import { Rng } from '../core/rng.ts';
import type { ItemTable } from '../data/dataset.ts';

/** Users who each stay in one of three blocks of 20 items (ids 0-59); items 60-63 are never seen. */
function blockSequences(): number[][] {
  const rng = Rng.stream(5, 'item-prior-test');
  const out: number[][] = [];
  for (let u = 0; u < 240; u++) {
    const block = u % 3;
    out.push(Array.from({ length: 15 }, () => block * 20 + rng.int(20)));
  }
  return out;
}
const N = 64;
const R = 8;

function cosine(f: Float32Array, a: number, b: number): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let r = 0; r < R; r++) {
    ab += f[a * R + r] * f[b * R + r];
    aa += f[a * R + r] ** 2;
    bb += f[b * R + r] ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

test('PPMI is symmetric, non-negative, with an empty diagonal', () => {
  const A = ppmiMatrix(N, blockSequences(), 3);
  const at = new Map<string, number>();
  for (let i = 0; i < N; i++) for (let p = A.rowStart[i]; p < A.rowStart[i + 1]; p++) at.set(`${i},${A.cols[p]}`, A.values[p]);
  assert.ok(at.size > 0);
  for (const [k, v] of at) {
    const [i, j] = k.split(',').map(Number);
    assert.notEqual(i, j);
    assert.ok(v > 0);
    assert.equal(at.get(`${j},${i}`), v);
  }
});

test('co-occurrence factors: items of one block are close, of different blocks far; unseen items are zero', () => {
  const f = cooccurrenceFactors(N, blockSequences(), { rank: R, window: 3 });
  assert.equal(f.length, N * R);
  let within = 0,
    across = 0,
    nw = 0,
    na = 0;
  for (let a = 0; a < 60; a++)
    for (let b = a + 1; b < 60; b++) {
      const c = cosine(f, a, b);
      if (Math.floor(a / 20) === Math.floor(b / 20)) {
        within += c;
        nw++;
      } else {
        across += c;
        na++;
      }
    }
  assert.ok(within / nw > 0.8, `mean cosine within a block ${within / nw}`);
  assert.ok(across / na < 0.2, `mean cosine across blocks ${across / na}`);
  for (let i = 60; i < N; i++) for (let r = 0; r < R; r++) assert.equal(f[i * R + r], 0);
});

test('co-occurrence factors depend on the data only (same input, same factors) and reject bad ids', () => {
  const seqs = blockSequences();
  assert.deepEqual(
    cooccurrenceFactors(N, seqs, { rank: R, window: 3 }),
    cooccurrenceFactors(
      N,
      seqs.map((s) => [...s]),
      { rank: R, window: 3 },
    ),
  );
  assert.throws(() => cooccurrenceFactors(N, [[1, 99]], { rank: R, window: 3 }), /item 99 outside \[0, 64\)/);
  assert.throws(() => cooccurrenceFactors(N, seqs, { rank: N, window: 3 }), /rank 64 must be below/);
});

test("the policy's 'cooccurrence' prior: unit-norm factor rows beside the attributes; a clear error without train sequences", () => {
  const items: ItemTable = {
    count: N,
    rawIds: Array.from({ length: N }, (_, i) => String(i)),
    titles: Array.from({ length: N }, () => ''),
    attributes: Array.from({ length: N }, (_, i) => [Math.floor(i / 20) % 3]),
    attributeNames: ['a', 'b', 'c'],
  };
  const seqs = blockSequences();
  const m = itemContentMatrix(items, 'attributes+cooccurrence', seqs, { rank: R, window: 3 });
  assert.equal(m.features, 3 + R);
  const norm = (i: number) => Math.hypot(...m.values.subarray(i * m.features + 3, (i + 1) * m.features));
  assert.ok(Math.abs(norm(5) - 1) < 1e-5);
  assert.equal(norm(61), 0);
  assert.throws(() => new PolicyNetwork(N, { dim: 8, itemPrior: 'cooccurrence' }, { seed: 1, items }), /needs the train split's sequences/);
  const net = new PolicyNetwork(N, { dim: 8, itemPrior: 'cooccurrence', cooccurrence: { rank: R, window: 3 } }, { seed: 1, items, trainSequences: seqs });
  assert.equal(net.config.cooccurrence.rank, R);
  net.dispose();
});
