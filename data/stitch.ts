/**
 * Reconstructing interaction sequences from overlapping windows. The ProRL release has no
 * interaction logs, only windows: each `.val` record is a contiguous window of one user's real
 * sequence (history then path), and each `.test` record's history plus its real continuation is
 * one too. Windows of the same stretch of a sequence overlap; gluing them along their overlaps
 * recovers longer real sequences ("contigs") for the simulators to train on.
 *
 * The glue is conservative. A window b can follow a window a when a suffix of a equals a prefix of
 * b, at least `minOverlap` items long. Among a's candidates the one with the longest overlap is its
 * next window (for sliding windows of one sequence, the nearest later one); the edge is used only
 * when that best candidate is unique and a is, in turn, b's unique best predecessor. Repeated items
 * (Steam histories repeat games) or windows of different users that happen to share a run would
 * otherwise glue unrelated stretches together: callers choose `minOverlap` by how much they know
 * (small within one user's windows, a whole history's length for windows of unknown users).
 * A window contained in another adds no items and is absorbed into it.
 */
import { ContractError } from '../core/errors.ts';

export interface StitchResult {
  /** The recovered sequences, each a real contiguous stretch (under the assumptions above). */
  readonly contigs: number[][];
  /** For each contig, the indices of the input windows it holds (glued, absorbed or duplicate). */
  readonly members: number[][];
  /** Windows absorbed because another window contains them. */
  readonly absorbed: number;
  /** Identical windows seen more than once (counted once). */
  readonly duplicates: number;
  /** Overlap edges used to glue windows. */
  readonly joins: number;
  /** Overlap edges refused as ambiguous (tied best candidates, or a best that is not mutual). */
  readonly ambiguous: number;
}

/**
 * Run hashes, so candidate lookups need no string keys: a polynomial hash of a run, cut to 30 bits
 * so that it stays a small integer (fast Map keys in V8). Every candidate a hash finds is verified
 * item by item, so a collision can cost time but never glue the wrong windows.
 */
const BASE = 0x01000193;
const POW: number[] = [1];
function ensurePowers(k: number): void {
  while (POW.length <= k) POW.push(Math.imul(POW[POW.length - 1], BASE) >>> 0);
}

class RunHasher {
  private readonly h: Uint32Array;
  constructor(w: readonly number[]) {
    this.h = new Uint32Array(w.length + 1);
    ensurePowers(w.length);
    for (let k = 0; k < w.length; k++) this.h[k + 1] = (Math.imul(this.h[k], BASE) + Math.imul(w[k] + 1, 0x9e3779b1)) >>> 0;
  }
  /** Hash of the run w[from..to). */
  run(from: number, to: number): number {
    return ((this.h[to] - Math.imul(this.h[from], POW[to - from])) >>> 0) >>> 2;
  }
}

function sameRun(a: readonly number[], aFrom: number, b: readonly number[], bFrom: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[aFrom + k] !== b[bFrom + k]) return false;
  return true;
}

/** True when `inner` occurs as a contiguous run inside `outer`. */
function containsRun(outer: readonly number[], inner: readonly number[]): boolean {
  if (inner.length > outer.length) return false;
  outer: for (let s = 0; s + inner.length <= outer.length; s++) {
    for (let k = 0; k < inner.length; k++) if (outer[s + k] !== inner[k]) continue outer;
    return true;
  }
  return false;
}

/**
 * Stitches the windows (item id arrays) into contigs. The output order is deterministic: contigs
 * in order of their first window's first appearance in the input.
 */
export function stitchWindows(windows: readonly (readonly number[])[], minOverlap: number): StitchResult {
  if (!(minOverlap >= 1)) throw new ContractError(`stitchWindows: minOverlap must be >= 1, got ${minOverlap}`);
  // 1. Identical windows count once.
  const seen = new Map<string, number>();
  const unique: (readonly number[])[] = [];
  const inputsOf: number[][] = [];
  windows.forEach((w, input) => {
    const k = w.join(',');
    const u = seen.get(k);
    if (u !== undefined) {
      inputsOf[u].push(input);
      return;
    }
    seen.set(k, unique.length);
    unique.push(w);
    inputsOf.push([input]);
  });
  const duplicates = windows.length - unique.length;

  // 2. Absorb windows contained in a longer one. Candidates are found through the window's first
  //    `probe` items (every container must hold that run), so this stays near-linear.
  const probe = Math.max(
    1,
    unique.reduce((m, w) => Math.min(m, w.length), minOverlap),
  );
  const hashers = unique.map((w) => new RunHasher(w));
  const runIndex = new Map<number, number[]>();
  unique.forEach((w, i) => {
    for (let s = 0; s + probe <= w.length; s++) {
      const k = hashers[i].run(s, s + probe);
      let list = runIndex.get(k);
      if (!list) runIndex.set(k, (list = []));
      if (list[list.length - 1] !== i) list.push(i);
    }
  });
  const alive = unique.map(() => true);
  const absorbedInto = new Map<number, number>();
  let absorbed = 0;
  unique.forEach((w, i) => {
    for (const j of runIndex.get(hashers[i].run(0, probe)) ?? []) {
      if (j === i || !alive[j]) continue;
      const other = unique[j];
      if (other.length > w.length && containsRun(other, w)) {
        alive[i] = false;
        absorbedInto.set(i, j);
        absorbed++;
        return;
      }
    }
  });
  const live = unique.map((_, i) => i).filter((i) => alive[i]);

  // 3. Overlap candidates: for each window, each suffix length o >= minOverlap (shorter than both
  //    windows) looked up among the prefixes of the others. Keep the longest overlap per pair.
  const prefixIndex = new Map<number, number[]>();
  for (const i of live) {
    const w = unique[i];
    for (let o = minOverlap; o < w.length; o++) {
      const k = hashers[i].run(0, o);
      let list = prefixIndex.get(k);
      if (!list) prefixIndex.set(k, (list = []));
      list.push(i);
    }
  }
  const successors = new Map<number, Map<number, number>>();
  const predecessors = new Map<number, Map<number, number>>();
  const note = (m: Map<number, Map<number, number>>, a: number, b: number, o: number) => {
    let inner = m.get(a);
    if (!inner) m.set(a, (inner = new Map()));
    if ((inner.get(b) ?? 0) < o) inner.set(b, o);
  };
  for (const i of live) {
    const w = unique[i];
    for (let o = minOverlap; o < w.length; o++) {
      for (const j of prefixIndex.get(hashers[i].run(w.length - o, w.length)) ?? []) {
        if (j === i || o >= unique[j].length || !sameRun(w, w.length - o, unique[j], 0, o)) continue;
        note(successors, i, j, o);
        note(predecessors, j, i, o);
      }
    }
  }

  // 4. Use the unambiguous edges; refuse the rest. Each window's best successor is the one with the
  //    longest overlap (for sliding windows of one sequence: the next window); it must be unique,
  //    and the window must in turn be that successor's unique best predecessor.
  const best = (m: Map<number, number> | undefined): number | null => {
    if (!m || m.size === 0) return null;
    let top = -1;
    let arg = -1;
    let tie = false;
    for (const [j, o] of m) {
      if (o > top) {
        top = o;
        arg = j;
        tie = false;
      } else if (o === top) tie = true;
    }
    return tie ? -1 : arg;
  };
  const next = new Map<number, { to: number; overlap: number }>();
  const hasPrev = new Set<number>();
  let ambiguous = 0;
  for (const i of live) {
    const succ = successors.get(i);
    const j = best(succ);
    if (j === null) continue;
    if (j < 0 || best(predecessors.get(j)) !== i) {
      ambiguous++;
      continue;
    }
    next.set(i, { to: j, overlap: succ!.get(j)! });
    hasPrev.add(j);
  }

  // 5. Walk the chains from their heads. Windows on a cycle (only possible with repeats) have no
  //    head; break each cycle at its first window in input order.
  const used = new Set<number>();
  const contigOf = new Map<number, number>();
  let joins = 0;
  const walk = (start: number, contig: number) => {
    const seq = [...unique[start]];
    used.add(start);
    contigOf.set(start, contig);
    let cur = start;
    for (;;) {
      const e = next.get(cur);
      if (!e || used.has(e.to)) break;
      seq.push(...unique[e.to].slice(e.overlap));
      used.add(e.to);
      contigOf.set(e.to, contig);
      joins++;
      cur = e.to;
    }
    return seq;
  };
  const built: number[][] = [];
  for (const i of live) if (!hasPrev.has(i)) built.push(walk(i, built.length));
  for (const i of live) if (!used.has(i)) built.push(walk(i, built.length));
  // Members: every input window, through duplicates and (possibly chained) absorption.
  const memberLists: number[][] = built.map(() => []);
  unique.forEach((_, u) => {
    let host = u;
    while (absorbedInto.has(host)) host = absorbedInto.get(host)!;
    memberLists[contigOf.get(host)!].push(...inputsOf[u]);
  });
  // Order by the smallest input index each contig holds, so callers see a stable order.
  const firstMember = memberLists.map((m) => m.reduce((a, b) => Math.min(a, b), Infinity));
  const order = built.map((_, c) => c).sort((a, b) => firstMember[a] - firstMember[b]);
  return {
    contigs: order.map((c) => built[c]),
    members: order.map((c) => memberLists[c].sort((a, b) => a - b)),
    absorbed,
    duplicates,
    joins,
    ambiguous,
  };
}

/**
 * How many of the `probes` sequences share a run of `len` consecutive items with any of the
 * `reference` sequences (e.g. test sequences overlapping train ones: a leak check).
 */
export function countSharingRun(reference: readonly (readonly number[])[], probes: readonly (readonly number[])[], len: number): number {
  const index = new Map<number, [number, number][]>();
  reference.forEach((s, si) => {
    const h = new RunHasher(s);
    for (let p = 0; p + len <= s.length; p++) {
      const k = h.run(p, p + len);
      let list = index.get(k);
      if (!list) index.set(k, (list = []));
      list.push([si, p]);
    }
  });
  let sharing = 0;
  for (const s of probes) {
    const h = new RunHasher(s);
    let found = false;
    for (let p = 0; !found && p + len <= s.length; p++)
      for (const [si, q] of index.get(h.run(p, p + len)) ?? [])
        if (sameRun(s, p, reference[si], q, len)) {
          found = true;
          break;
        }
    if (found) sharing++;
  }
  return sharing;
}
