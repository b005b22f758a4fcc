/** Window stitching: the rebuilt sequences are real stretches, and ambiguity is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stitchWindows } from '../data/stitch.ts';
import { Rng } from '../core/rng.ts';

test('overlapping windows of one sequence glue back into it, whatever their order', () => {
  const seq = Array.from({ length: 40 }, (_, i) => i * 3);
  const windows = [seq.slice(0, 12), seq.slice(5, 20), seq.slice(15, 30), seq.slice(27, 40)];
  for (const order of [
    [0, 1, 2, 3],
    [3, 1, 0, 2],
    [2, 3, 1, 0],
  ]) {
    const r = stitchWindows(
      order.map((i) => windows[i]),
      3,
    );
    assert.deepEqual(r.contigs, [seq]);
    assert.equal(r.joins, 3);
    assert.deepEqual(r.members, [[0, 1, 2, 3]]);
  }
});

test('windows that overlap by less than the minimum stay apart; contained and duplicate windows are absorbed', () => {
  const seq = Array.from({ length: 30 }, (_, i) => 100 + i);
  const r = stitchWindows([seq.slice(0, 12), seq.slice(10, 22), seq.slice(2, 8), seq.slice(0, 12)], 3);
  assert.deepEqual(r.contigs, [seq.slice(0, 12), seq.slice(10, 22)]); // overlap of 2 < 3
  assert.equal(r.absorbed, 1);
  assert.equal(r.duplicates, 1);
  assert.deepEqual(r.members, [[0, 2, 3], [1]]);
  assert.deepEqual(stitchWindows([seq.slice(0, 12), seq.slice(10, 22)], 2).contigs, [seq.slice(0, 22)]);
});

test('ambiguous overlaps are refused: two windows that could follow the same one', () => {
  // a ends with [7, 8, 9]; both b and c start with it: which one came next is unknown.
  const a = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const b = [7, 8, 9, 10, 11, 12];
  const c = [7, 8, 9, 20, 21, 22];
  const r = stitchWindows([a, b, c], 3);
  assert.equal(r.joins, 0);
  assert.equal(r.contigs.length, 3);
  assert.ok(r.ambiguous >= 1);
  // A longer overlap is preferred over a shorter one (the nearer later window of one sequence).
  const d = [5, 6, 7, 8, 9, 30];
  const r2 = stitchWindows([a, b, d], 3);
  assert.deepEqual(r2.contigs[0], [...a, 30]);
});

test('Steam-like repeats (an item reviewed again soon after) still rebuild real stretches only', () => {
  const rng = Rng.stream(7, 'test/stitch');
  for (let trial = 0; trial < 200; trial++) {
    const seq: number[] = [];
    while (seq.length < 30 + rng.int(30)) {
      // Mostly new items; sometimes the same item again, or one from a few steps back.
      const r = rng.float();
      if (seq.length > 0 && r < 0.15) seq.push(seq[seq.length - 1]);
      else if (seq.length > 3 && r < 0.25) seq.push(seq[seq.length - 1 - rng.int(4)]);
      else seq.push(rng.int(500));
    }
    const windows: number[][] = [];
    for (let s = 0; s + 12 <= seq.length; s += 1 + rng.int(6)) windows.push(seq.slice(s, s + 12 + rng.int(Math.min(8, seq.length - s - 11))));
    rng.shuffle(windows);
    const text = `,${seq.join(',')},`;
    const r = stitchWindows(windows, 3);
    for (const c of r.contigs) assert.ok(text.includes(`,${c.join(',')},`), `contig ${c.join(',')} is a real stretch of ${seq.join(',')}`);
    for (const w of windows)
      assert.ok(
        r.contigs.some((c) => `,${c.join(',')},`.includes(`,${w.join(',')},`)),
        'every window is kept',
      );
  }
});

test('degenerate repeats (4 distinct items): every window is still kept whole', () => {
  const rng = Rng.stream(8, 'test/stitch-degenerate');
  for (let trial = 0; trial < 100; trial++) {
    const seq = Array.from({ length: 30 + rng.int(30) }, () => rng.int(4));
    const windows: number[][] = [];
    for (let s = 0; s + 12 <= seq.length; s += 1 + rng.int(6)) windows.push(seq.slice(s, s + 12));
    const r = stitchWindows(rng.shuffle(windows), 3);
    for (const w of windows) assert.ok(r.contigs.some((c) => `,${c.join(',')},`.includes(`,${w.join(',')},`)));
    assert.equal(
      r.members
        .flat()
        .sort((a, b) => a - b)
        .join(),
      windows.map((_, i) => i).join(),
    );
  }
});

test('unique-item sequences cut into random windows are rebuilt exactly (as ml-1m users are)', () => {
  const rng = Rng.stream(11, 'test/stitch-unique');
  for (let trial = 0; trial < 100; trial++) {
    const seq = rng.shuffle(Array.from({ length: 60 }, (_, i) => i));
    const windows: number[][] = [];
    let s = 0;
    while (s + 12 <= seq.length) {
      const len = Math.min(12 + rng.int(9), seq.length - s);
      windows.push(seq.slice(s, s + len));
      if (s + len >= seq.length) break;
      s += 1 + rng.int(len - 3); // the next window overlaps this one by >= 3 items
    }
    const r = stitchWindows(rng.shuffle(windows), 3);
    const covered = seq.slice(0, s + windows.reduce((m, w) => Math.max(m, w.length), 0));
    assert.equal(r.contigs.length, 1);
    assert.ok(`,${covered.join(',')},`.includes(`,${r.contigs[0].join(',')},`));
    assert.equal(r.contigs[0][0], seq[0]);
  }
});
