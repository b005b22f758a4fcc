/**
 * Paths as the policy reads them: a batch of paths packed into arrays (`Trajectories`), and the
 * decisions (terms) to score in it, every decision of every path (training) or the next one (acting).
 */
import { HISTORY_LENGTH } from '../../data/dataset.ts';
import { ContractError } from '../../core/errors.ts';

/**
 * A batch of B paths. Columns 0..P-1 of `items` hold each row's L ≤ P recommended items (padding
 * after L is ignored). `accepted[b·P + t]` = 1 when the user accepted item t (it joined the
 * sequence); in the paper's setting every item is accepted.
 */
export interface Trajectories {
  readonly size: number;
  /** B × HISTORY_LENGTH, oldest first. */
  readonly history: Int32Array;
  readonly target: Int32Array;
  /** Columns of `items` (≥ every row's L). */
  readonly width: number;
  readonly items: Int32Array;
  readonly accepted: Uint8Array;
  /** L per row. */
  readonly lengths: Int32Array;
  /** 1 when the row's path ended with STOP (there is a STOP term at t = L). */
  readonly stopped: Uint8Array;
}

/** One path in progress or finished, as agents and trainers hold it. */
export interface PathRecord {
  readonly history: ArrayLike<number>;
  readonly target: number;
  readonly items: ArrayLike<number>;
  /** Per item: accepted by the user (default: all accepted). */
  readonly accepted?: ArrayLike<number | boolean> | null;
  readonly stopped?: boolean;
}

/** Packs paths into a Trajectories batch (width = longest path, at least `minWidth`). */
export function packPaths(paths: readonly PathRecord[], minWidth = 0): Trajectories {
  const B = paths.length;
  let width = minWidth;
  for (const p of paths) width = Math.max(width, p.items.length);
  const history = new Int32Array(B * HISTORY_LENGTH);
  const target = new Int32Array(B);
  const items = new Int32Array(B * width);
  const accepted = new Uint8Array(B * width);
  const lengths = new Int32Array(B);
  const stopped = new Uint8Array(B);
  paths.forEach((p, b) => {
    if (p.history.length !== HISTORY_LENGTH) throw new ContractError(`path ${b}: history has ${p.history.length} items, the policy reads ${HISTORY_LENGTH}`);
    for (let j = 0; j < HISTORY_LENGTH; j++) history[b * HISTORY_LENGTH + j] = p.history[j];
    target[b] = p.target;
    lengths[b] = p.items.length;
    stopped[b] = p.stopped ? 1 : 0;
    for (let t = 0; t < p.items.length; t++) {
      items[b * width + t] = p.items[t];
      accepted[b * width + t] = p.accepted ? (p.accepted[t] ? 1 : 0) : 1;
    }
  });
  return { size: B, history, target, width, items, accepted, lengths, stopped };
}

/** Mask variations (defaults: the policy's maskHistory, target forbidden, STOP allowed). */
export interface MaskOptions {
  readonly maskHistory?: boolean;
  /** The target is an allowed output (IRN ends a path by predicting it). */
  readonly allowTarget?: boolean;
  readonly forbidStop?: boolean;
}

/** The decisions to score: term (row, t) with its action (an item, or STOP = N). */
export interface Terms {
  readonly count: number;
  readonly row: Int32Array;
  readonly t: Int32Array;
  /** The action taken at the term (for training); -1 when unknown (acting). */
  readonly action: Int32Array;
}

/** Every term of every row: t = 0..L-1 (items) and t = L when the row stopped. */
export function trainingTerms(traj: Trajectories, stop: number): Terms {
  const rows: number[] = [];
  const ts: number[] = [];
  const actions: number[] = [];
  for (let b = 0; b < traj.size; b++) {
    const L = traj.lengths[b];
    for (let t = 0; t < L; t++) {
      rows.push(b);
      ts.push(t);
      actions.push(traj.items[b * traj.width + t]);
    }
    if (traj.stopped[b]) {
      rows.push(b);
      ts.push(L);
      actions.push(stop);
    }
  }
  return { count: rows.length, row: Int32Array.from(rows), t: Int32Array.from(ts), action: Int32Array.from(actions) };
}

/** The next decision of every row: t = L. */
export function nextTerms(traj: Trajectories): Terms {
  const B = traj.size;
  return { count: B, row: Int32Array.from({ length: B }, (_, b) => b), t: Int32Array.from(traj.lengths), action: new Int32Array(B).fill(-1) };
}
