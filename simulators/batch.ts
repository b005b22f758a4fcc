/**
 * A tfjs sequence model behind the `UserSimulator` contract. u(s) carries the item bias as an extra
 * dimension (u' = [u, 1], e'_i = [e_i, b_i]), so scores_i = u'·e'_i and CTR_a = sigmoid(u'·e'_a)
 * hold exactly. log p(T|s) and rank(T|s) are computed in tensors for the whole batch (no per-item
 * JS loops), and everything a step reads back comes in one `dataSync` of a [3, B] tensor.
 */
import { ContractError, ProrecError } from '../core/errors.ts';
import { tf } from './runtime.ts';
import type { AdvanceResult, SimulatorBatch, TargetStats, UserSimulator } from './simulator.ts';
import type { SequenceModel, StateTensors } from './model.ts';

/** Raised when a simulator produces NaN or infinite scores (a diverged or corrupted model). */
export class NonFiniteScoresError extends ProrecError {
  readonly kind = 'failure';
  constructor(where: string) {
    super(`simulator produced non-finite scores (NaN or Inf) in ${where}: the model's weights are diverged or corrupt`);
  }
}

/**
 * Per-row log p(T|s) and rank(T|s) as a [2, B] tensor. The rank is the mid-rank of
 * simulators/simulator.ts, 1 + #above + ½·#tied, computed in one pass as 1 + (N − 1 + Σ_i sign(s_i − s_T)) / 2
 * (T's own term is 0; every other item adds +1 above, −1 below, 0 tied).
 */
export function targetStatsTensor(user: tf.Tensor2D, tableT: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch] = user.shape;
    const n = tableT.shape[1];
    const logits = tf.matMul(user, tableT);
    const flat = tf.range(0, batch * n, n, 'int32').add(targets);
    const target = tf.gather(logits.reshape([-1]), flat);
    // log-sum-exp through wasm's vectorised softmax (far faster than its scalar exp):
    // lse = max - log(max softmax), exact because softmax's largest entry is exp(max - lse) ≥ 1/N.
    const max = tf.max(logits, 1);
    const top = tf.max(tf.softmax(logits), 1);
    const logProb = target.sub(max).add(tf.log(top));
    // A broadcast subtract + sign is much faster on wasm than broadcast comparisons.
    const signSum = tf.sign(logits.sub(target.reshape([batch, 1]))).sum(1);
    const rank = signSum
      .add(n - 1)
      .mul(0.5)
      .add(1);
    return tf.stack([logProb, rank]) as tf.Tensor2D;
  });
}

export function validateItems(items: ArrayLike<number>, numItems: number, what: string): void {
  for (let r = 0; r < items.length; r++) {
    const i = items[r];
    if (!Number.isInteger(i) || i < 0 || i >= numItems) throw new ContractError(`${what}[${r}] = ${i} is not an item id in [0, ${numItems})`);
  }
}

function checkFinite(values: ArrayLike<number>, where: string): void {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new NonFiniteScoresError(where);
}

export class TfSimulator implements UserSimulator {
  readonly numItems: number;
  readonly stateDim: number;
  /** e'_i = [e_i, b_i], [N, stateDim], and its transpose for scoring. */
  private table!: tf.Tensor2D;
  private tableT!: tf.Tensor2D;

  constructor(
    readonly model: SequenceModel,
    readonly id: string,
  ) {
    this.numItems = model.numItems;
    this.stateDim = model.outDim + 1;
    this.refresh();
  }

  /** Rebuilds the scoring table from the model's current weights (after a training step). */
  refresh(): void {
    this.table?.dispose();
    this.tableT?.dispose();
    [this.table, this.tableT] = tf.tidy(() => {
      const table = tf.concat([this.model.itemEmbedding(), this.model.itemBias().reshape([-1, 1])], 1) as tf.Tensor2D;
      return [table, table.transpose() as tf.Tensor2D];
    });
  }

  /** Item vectors e'_i row-major [numItems × stateDim] (bias as the last entry), for agents that need them. */
  itemVectors(): Float32Array {
    return this.table.dataSync().slice() as Float32Array;
  }

  open(sequences: readonly (readonly number[])[]): SimulatorBatch {
    return TfBatch.open(this, sequences);
  }

  /** @internal */ tables(): { table: tf.Tensor2D; tableT: tf.Tensor2D } {
    return { table: this.table, tableT: this.tableT };
  }

  dispose(): void {
    this.table.dispose();
    this.tableT.dispose();
    this.model.dispose();
  }
}

export class TfBatch implements SimulatorBatch {
  private disposed = false;

  private constructor(
    private readonly sim: TfSimulator,
    /** The most recent ≤ maxLen items of each row: the state is a function of these alone. */
    private windows: number[][],
    private state: StateTensors,
    private user: tf.Tensor2D,
  ) {}

  get size(): number {
    return this.windows.length;
  }

  static open(sim: TfSimulator, sequences: readonly (readonly number[])[]): TfBatch {
    const maxLen = sim.model.config.maxLen;
    const windows = sequences.map((s, r) => {
      if (s.length === 0) throw new ContractError(`sequence ${r} is empty`);
      validateItems(s, sim.numItems, `sequences[${r}]`);
      return s.slice(-maxLen);
    });
    const { state, user } = TfBatch.compute(sim, windows);
    return new TfBatch(sim, windows, state, user);
  }

  /** Full recomputation of the state from the windows. */
  private static compute(sim: TfSimulator, windows: number[][]): { state: StateTensors; user: tf.Tensor2D } {
    const batch = windows.length;
    const length = windows.reduce((m, w) => Math.max(m, w.length), 1);
    const tokens = new Int32Array(batch * length);
    const lengths = new Int32Array(batch);
    windows.forEach((w, r) => {
      lengths[r] = w.length;
      tokens.set(w, r * length);
    });
    const tokensT = tf.tensor2d(tokens, [batch, length], 'int32');
    const state = sim.model.open(tokensT, lengths);
    tokensT.dispose();
    return { state, user: augment(state.user) };
  }

  private check(): void {
    if (this.disposed) throw new ContractError('SimulatorBatch used after dispose()');
  }

  states(): Float32Array {
    this.check();
    const values = this.user.dataSync().slice() as Float32Array;
    checkFinite(values, 'states()');
    return values;
  }

  scores(): Float32Array {
    this.check();
    const logits = tf.matMul(this.user, this.sim.tables().tableT);
    const values = logits.dataSync().slice() as Float32Array;
    logits.dispose();
    checkFinite(values, 'scores()');
    return values;
  }

  targetStats(targets: Int32Array): TargetStats {
    this.check();
    this.checkLength(targets, 'targets');
    validateItems(targets, this.sim.numItems, 'targets');
    const packed = tf.tidy(() => targetStatsTensor(this.user, this.sim.tables().tableT, tf.tensor1d(targets, 'int32')));
    const values = packed.dataSync();
    packed.dispose();
    return this.unpackStats(values, 0);
  }

  ctr(items: Int32Array): Float64Array {
    this.check();
    this.checkLength(items, 'items');
    validateItems(items, this.sim.numItems, 'items');
    const t = tf.tidy(() => tf.sigmoid(tf.sum(this.user.mul(tf.gather(this.sim.tables().table, tf.tensor1d(items, 'int32'))), 1)));
    const values = Float64Array.from(t.dataSync());
    t.dispose();
    checkFinite(values, 'ctr()');
    return values;
  }

  advance(items: Int32Array, targets: Int32Array, rows?: Uint8Array): AdvanceResult {
    this.check();
    const batch = this.size;
    this.checkLength(items, 'items');
    this.checkLength(targets, 'targets');
    if (rows) this.checkLength(rows, 'rows');
    validateItems(targets, this.sim.numItems, 'targets');
    const maxLen = this.sim.model.config.maxLen;
    const active = new Float32Array(batch);
    const positions = new Int32Array(batch);
    // Rows left out may carry any value (say -1); they are fed item 0, whose result is discarded.
    const fed = new Int32Array(batch);
    let overflow = false;
    for (let r = 0; r < batch; r++) {
      if (rows && !rows[r]) continue;
      const i = items[r];
      fed[r] = i;
      if (!Number.isInteger(i) || i < 0 || i >= this.sim.numItems) throw new ContractError(`items[${r}] = ${i} is not an item id in [0, ${this.sim.numItems})`);
      active[r] = 1;
      positions[r] = Math.min(this.windows[r].length, maxLen - 1);
      if (this.windows[r].length >= maxLen) overflow = true;
    }
    // SASRec's cache grows one slot per call (masked for rows that did not advance); past maxLen
    // slots a recomputation is cheaper than carrying them.
    const slots = this.state.slotMask ? (this.state.slotMask.shape[3] as number) : 0;
    const recompute = overflow || slots + 1 > maxLen;
    const allActive = active.every((a) => a === 1);
    const { table, tableT } = this.sim.tables();

    const out = tf.tidy(() => {
      const itemsT = tf.tensor1d(fed, 'int32');
      const activeT = tf.tensor1d(active);
      const ctr = tf.sigmoid(tf.sum(this.user.mul(tf.gather(table, itemsT)), 1)).mul(activeT);
      if (recompute) return { ctr };
      const state = this.sim.model.step(this.state, itemsT, allActive ? null : activeT, positions);
      const user = augment(state.user);
      const stats = targetStatsTensor(user, tableT, tf.tensor1d(targets, 'int32'));
      return { state, user, packed: tf.concat([ctr.reshape([1, batch]), stats]) };
    });

    for (let r = 0; r < batch; r++) {
      if (!active[r]) continue;
      const w = this.windows[r];
      w.push(items[r]);
      if (w.length > maxLen) w.shift();
    }

    let packed: tf.Tensor;
    if (out.state && out.user && out.packed) {
      this.replaceState(out.state, out.user);
      packed = out.packed;
    } else {
      const { state, user } = TfBatch.compute(this.sim, this.windows);
      this.replaceState(state, user);
      packed = tf.tidy(() => tf.concat([out.ctr.reshape([1, batch]), targetStatsTensor(user, tableT, tf.tensor1d(targets, 'int32'))]));
      out.ctr.dispose();
    }
    const values = packed.dataSync();
    packed.dispose();
    const ctr = Float64Array.from(values.subarray(0, batch));
    checkFinite(ctr, 'advance()');
    return { ctr, ...this.unpackStats(values, batch) };
  }

  clone(): SimulatorBatch {
    this.check();
    const state = {} as StateTensors;
    for (const [k, t] of Object.entries(this.state)) (state as Record<string, tf.Tensor>)[k] = tf.clone(t);
    return new TfBatch(
      this.sim,
      this.windows.map((w) => w.slice()),
      state,
      tf.clone(this.user),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeState(this.state);
    this.user.dispose();
  }

  /** The current window of each row (for tests and recomputation checks). */
  currentWindows(): number[][] {
    return this.windows.map((w) => w.slice());
  }

  private replaceState(state: StateTensors, user: tf.Tensor2D): void {
    const keep = new Set(Object.values(state).map((t) => t.id));
    for (const t of Object.values(this.state)) if (!keep.has(t.id)) t.dispose();
    this.user.dispose();
    this.state = state;
    this.user = user;
  }

  private unpackStats(values: ArrayLike<number>, offset: number): TargetStats {
    const batch = this.size;
    const logProb = new Float64Array(batch);
    const rank = new Float64Array(batch);
    for (let r = 0; r < batch; r++) {
      logProb[r] = values[offset + r];
      rank[r] = values[offset + batch + r];
    }
    checkFinite(logProb, 'targetStats');
    return { logProb, rank };
  }

  private checkLength(a: ArrayLike<number>, what: string): void {
    if (a.length !== this.size) throw new ContractError(`${what} has ${a.length} entries, the batch has ${this.size} rows`);
  }
}

function augment(user: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.concat([user, tf.ones([user.shape[0], 1])], 1) as tf.Tensor2D);
}

function disposeState(state: StateTensors): void {
  for (const t of Object.values(state)) t.dispose();
}
