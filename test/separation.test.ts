/** Separation marks of the leaderboard (results/separation.ts): adjacent rows whose order or intervals do not survive every simulator. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intervalsOverlap, scorersOf, separationFor, separationMarkdown, separationOf, separationSummary, type SeparationRow } from '../results/separation.ts';

/** A metric aggregate: mean ± half-width (null: one seed). */
const agg = (mean: number, half: number | null = 0.1) => ({ mean, ci95: half === null ? null : ([mean - half, mean + half] as [number, number]) });

function row(label: string, values: Record<string, number | [number, number | null]>): SeparationRow {
  return {
    label,
    metrics: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? agg(v[0], v[1]) : agg(v)])),
  };
}

test('rows far apart in the same order under every simulator are separated', () => {
  const rows = [
    row('b', { specificIoi: 1, 'eval.specificIoi': 0.5, 'evalx.g.specificIoi': 0.2 }),
    row('a', { specificIoi: 2, 'eval.specificIoi': 1.5, 'evalx.g.specificIoi': 0.9 }),
  ];
  assert.deepEqual(separationFor(rows, 'specificIoi'), [
    {
      metric: 'specificIoi',
      upper: 'a',
      lower: 'b',
      separated: true,
      simulators: ['reward', 'eval', 'evalx.g'],
      flips: [],
      overlaps: [],
      oneSeed: false,
    },
  ]);
});

test('an order reversed (or tied) under another simulator, or overlapping intervals under any, is not separated', () => {
  const flipped = separationFor(
    [
      row('a', { specificIoi: 2, 'eval.specificIoi': 1, 'evalx.g.specificIoi': 0.1 }),
      row('b', { specificIoi: 1, 'eval.specificIoi': 0.5, 'evalx.g.specificIoi': 0.6 }),
    ],
    'specificIoi',
  )[0];
  assert.equal(flipped.separated, false);
  assert.deepEqual(flipped.flips, ['evalx.g']);
  assert.deepEqual(flipped.overlaps, []);

  const tied = separationFor([row('a', { specificIoi: 2, 'eval.specificIoi': 1 }), row('b', { specificIoi: 1, 'eval.specificIoi': 1 })], 'specificIoi')[0];
  assert.deepEqual([tied.separated, tied.flips], [false, ['eval']]);

  const close = separationFor(
    [row('a', { specificIoi: [1.1, 0.2], 'eval.specificIoi': 3 }), row('b', { specificIoi: [1, 0.2], 'eval.specificIoi': 1 })],
    'specificIoi',
  )[0];
  assert.deepEqual([close.separated, close.flips, close.overlaps], [false, [], ['reward']]);

  // A tie under the reward simulator itself: the order is the labels', and not a claim.
  const even = separationFor([row('b', { specificIoi: 1 }), row('a', { specificIoi: 1 })], 'specificIoi')[0];
  assert.deepEqual([even.upper, even.lower, even.flips], ['a', 'b', ['reward']]);
});

test('a row with one seed has no interval: its pairs are never separated', () => {
  const p = separationFor([row('a', { specificIoi: [5, null] }), row('b', { specificIoi: 1 })], 'specificIoi')[0];
  assert.deepEqual([p.separated, p.oneSeed, p.overlaps, p.flips], [false, true, ['reward'], []]);
});

test('pairs are adjacent by the reward mean of each metric; simulators only where both rows were scored', () => {
  const rows = [
    row('mid', { specificIoi: 2, targetPercentile: 0.9, 'eval.specificIoi': 2 }),
    row('top', { specificIoi: 3, targetPercentile: 0.6, 'eval.specificIoi': 3, 'evalx.x.specificIoi': 3 }),
    row('low', { specificIoi: 1, targetPercentile: 0.7, 'evalx.x.specificIoi': 1 }),
    row('none', { ioi: 1 }),
  ];
  const pairs = separationOf(rows);
  assert.deepEqual(
    pairs.map((p) => [p.metric, p.upper, p.lower, p.simulators.join(' ')]),
    [
      ['specificIoi', 'top', 'mid', 'reward eval'],
      ['specificIoi', 'mid', 'low', 'reward'],
      ['targetPercentile', 'mid', 'low', 'reward'],
      ['targetPercentile', 'low', 'top', 'reward'],
    ],
  );
  assert.deepEqual(
    scorersOf(rows, 'specificIoi').map((s) => s.name),
    ['reward', 'eval', 'evalx.x'],
  );
  assert.deepEqual(separationOf([row('alone', { specificIoi: 1 })]), []);
  assert.ok(rows[0].label === 'mid', 'the rows given are not reordered');
});

test('intervals that touch overlap', () => {
  assert.equal(intervalsOverlap([0, 1], [1, 2]), true);
  assert.equal(intervalsOverlap([0, 1], [1.0000001, 2]), false);
  assert.equal(intervalsOverlap([3, 4], [0, 1]), false);
});

test('the Markdown section: one line per pair with its verdict and why; nothing without pairs', () => {
  assert.deepEqual(separationMarkdown([]), []);
  const pairs = separationOf([row('a|b', { specificIoi: 2, 'evalx.g.specificIoi': 0 }), row('c', { specificIoi: [1, null], 'evalx.g.specificIoi': 1 })]);
  const md = separationMarkdown(pairs, (l) => `${l} (ref)`).join('\n');
  assert.match(md, /^### Separation/);
  assert.match(
    md,
    /\| specificIoi \| a\\\|b \(ref\) > c \(ref\) \| \*\*not separated\*\* \| reward, evalx\.g \| order reversed or tied under evalx\.g; one seed: no interval \|/,
  );
  const ok = separationMarkdown(separationOf([row('a', { specificIoi: 2 }), row('b', { specificIoi: 1 })])).join('\n');
  assert.match(ok, /\| specificIoi \| a > b \| separated \| reward \| - \|/);
});

test('the terminal line counts the pairs not separated and names the simulators', () => {
  assert.equal(separationSummary([]), null);
  const pairs = separationOf([
    row('a', { specificIoi: 3, targetPercentile: 0.9, 'evalx.g.specificIoi': 1 }),
    row('b', { specificIoi: 1, targetPercentile: 0.5, 'evalx.g.specificIoi': 2 }),
  ]);
  assert.match(separationSummary(pairs)!, /^separation: 1 of 2 adjacent pairs .* under reward, evalx\.g\); leaderboard\.md lists them/);
});
