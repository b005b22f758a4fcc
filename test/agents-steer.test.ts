/**
 * Agents that read their target. On a fixture where the target is informative (the synthetic
 * world's train/valid cases: the path is the real coherent run that led to the target), a policy
 * with a content prior must read its target: permuting the valid targets among the examples raises
 * its valid NLL by a clear margin. Without a prior the same training barely reads it (the fault the
 * prior fixes). Also: hindsight windows are real sequence windows.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ensureBackend } from '../agents/nn.ts';
import { PolicyNetwork, itemContentMatrix } from '../agents/policy.ts';
import { hindsightExamples, SupervisedConfigSchema, trainSupervised } from '../agents/supervised.ts';
import { generateSyntheticWorld } from '../data/synthetic.ts';
import { Rng } from '../core/rng.ts';
import { validate } from '../core/validate.ts';

before(async () => {
  await ensureBackend();
});

const world = generateSyntheticWorld({ numItems: 150, numUsers: 400, seed: 2 });
const ds = world.dataset;

test('the synthetic world has semantic ids (three residual k-means digits and a collision digit), unique per item', () => {
  const ids = ds.items.semanticIds!;
  assert.equal(ids.length, ds.items.count);
  assert.ok(ids.every((s) => s.length === 4 && s.slice(0, 3).every((d) => d >= 0 && d < 16) && s[3] >= 1));
  assert.equal(new Set(ids.map((s) => s.join(','))).size, ids.length);
  // Items that share the first digit are closer in content than items that do not (the codes mean something).
  const d = world.config.dim;
  const cos = (a: number, b: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += world.itemVectors[a * d + j] * world.itemVectors[b * d + j];
    return s;
  };
  let same = 0,
    sameN = 0,
    other = 0,
    otherN = 0;
  for (let a = 0; a < 150; a++)
    for (let b = a + 1; b < 150; b++) {
      if (ids[a][0] === ids[b][0]) {
        same += cos(a, b);
        sameN++;
      } else {
        other += cos(a, b);
        otherN++;
      }
    }
  assert.ok(same / sameN > other / otherN + 0.2, `same code ${same / sameN}, other ${other / otherN}`);
});

test('content matrices: attributes unit-norm multi-hot, semantic one-hot per digit, both side by side', () => {
  const a = itemContentMatrix(ds.items, 'attributes');
  const s = itemContentMatrix(ds.items, 'semantic');
  const b = itemContentMatrix(ds.items, 'attributes+semantic');
  assert.equal(a.features, ds.items.attributeNames.length);
  assert.equal(b.features, a.features + s.features);
  for (const [m, norm] of [
    [a, 1],
    [s, 1],
    [b, Math.SQRT2],
  ] as const) {
    for (let i = 0; i < ds.items.count; i++) {
      let n = 0;
      for (let j = 0; j < m.features; j++) n += m.values[i * m.features + j] ** 2;
      assert.ok(Math.abs(Math.sqrt(n) - norm) < 1e-5, `row ${i} norm ${Math.sqrt(n)}`);
    }
  }
  assert.throws(() => new PolicyNetwork(ds.items.count, { itemPrior: 'attributes' }, { seed: 1 }), /needs the environment's item table/);
});

test('hindsight windows are real windows: history, the next k items, then the item after them as the target', () => {
  const { paths } = hindsightExamples(ds.sequences.train, 10, 3, true, Rng.stream(1, 'h'));
  assert.ok(paths.length > 100);
  const seqs = ds.sequences.train.map((s) => s.join(','));
  for (const p of paths.slice(0, 200)) {
    const run = [...Array.from(p.history), ...Array.from(p.items), p.target].join(',');
    assert.ok(
      seqs.some((s) => s.includes(run)),
      'a contiguous window of a train sequence',
    );
    assert.ok(p.items.length < 10 && p.stopped);
  }
});

test('a policy with a content prior reads its target: permuting the valid targets raises its NLL by a margin', async () => {
  const config = validate(SupervisedConfigSchema, { epochs: 4, batchSize: 64, lr: 3e-3, patience: 0 }, 'test');
  const gap = async (itemPrior: 'none' | 'attributes') => {
    const net = new PolicyNetwork(ds.items.count, { dim: 32, itemPrior }, { seed: 1, items: ds.items });
    const r = await trainSupervised(net, ds, config, { seed: 1, maxLength: 10 });
    net.dispose();
    return r.permutedValidNll! - r.bestValidNll!;
  };
  const withPrior = await gap('attributes');
  const without = await gap('none');
  assert.ok(withPrior > 0.3, `NLL gap with the attribute prior: ${withPrior.toFixed(3)}`);
  assert.ok(withPrior > without + 0.2, `the prior makes the policy read its target: gap ${withPrior.toFixed(3)} vs ${without.toFixed(3)} without`);
});

test('content semantic ids (RecBole and raw builds): items with the same attributes share their first code more often', async () => {
  const { contentSemanticIds } = await import('../data/semantic-ids.ts');
  const codes = contentSemanticIds(ds.items, Rng.stream(1, 'c'));
  assert.equal(codes.length, ds.items.count);
  assert.ok(codes.every((c) => c.length === 4));
  let same = 0,
    sameN = 0,
    other = 0,
    otherN = 0;
  for (let a = 0; a < 150; a++)
    for (let b = a + 1; b < 150; b++) {
      const eq = ds.items.attributes[a].join() === ds.items.attributes[b].join();
      const hit = codes[a][0] === codes[b][0] ? 1 : 0;
      if (eq) {
        same += hit;
        sameN++;
      } else {
        other += hit;
        otherN++;
      }
    }
  assert.ok(same / sameN > other / otherN + 0.3, `same attributes ${same / sameN}, other ${other / otherN}`);
});
