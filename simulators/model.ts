/**
 * SASRec and GRU4Rec written with tfjs low-level ops, so that the same weights serve three paths:
 * training (whole right-padded windows, with dropout), full recomputation (`open`), and
 * incremental stepping (`step`: one new item per row, reusing the GRU state or SASRec's cached keys
 * and values of the earlier positions).
 *
 * Both models score item i as u(s)·e_i + b_i with the item embedding table tied between input and
 * output (GRU4Rec projects its 128-wide state to the 64-wide embedding space for that), so a state
 * and an item are vectors in one space. Positions are counted from the oldest item of the window
 * (not from the newest), so appending an item never changes the encoding of the earlier ones: that
 * is what makes SASRec's key/value cache valid. Sequences are right-padded and attention is causal,
 * so padding can never reach a real position.
 */
import { FORBIDDEN } from '../compute/masks.ts';
import {
  attention,
  attentionWeights,
  createParams,
  dropout,
  glorotStd,
  gruCell,
  layerNorm as layerNormWith,
  mm,
  queryKeyDots,
  type DropoutSeeds,
  type Params,
  type ParamSpec,
} from '../compute/nn/index.ts';
import { tf } from './runtime.ts';
import { Rng } from '../core/rng.ts';
import type { Gru4recConfig, ModelConfig, SasrecConfig } from './config.ts';
import { outputDim } from './config.ts';
import { ConfigError, ContractError, invariant } from '../core/errors.ts';

export { assignParams, mm, paramValues, type DropoutSeeds, type Params } from '../compute/nn/index.ts';

/** Additive attention bias for a masked slot (compute/masks.ts). */
export const MASKED = FORBIDDEN;

/** Tensors that make up the inference state of a batch; `user` ([B, outDim]) is always present. */
export type StateTensors = { user: tf.Tensor2D } & Record<string, tf.Tensor>;

export interface SequenceModel {
  readonly config: ModelConfig;
  readonly numItems: number;
  readonly outDim: number;
  readonly params: Params;
  /** Item table [N, outDim] and bias [N] (views of the variables; do not dispose). */
  itemEmbedding(): tf.Tensor2D;
  itemBias(): tf.Tensor1D;
  /** u at every position of right-padded windows [B, L] (int32) → [B, L, outDim]. */
  forward(tokens: tf.Tensor2D, dropout: DropoutSeeds): tf.Tensor3D;
  /** Full recomputation: the state after each row's window (tokens right-padded, lengths ≥ 1). */
  open(tokens: tf.Tensor2D, lengths: Int32Array): StateTensors;
  /**
   * Appends items[r] (at window position positions[r]) to each row with active[r] = 1. Rows with
   * active[r] = 0 keep their state; `active` null means every row appends (the common case, which
   * skips the masking). Returns new tensors; the caller disposes the old ones.
   */
  step(state: StateTensors, items: tf.Tensor1D, active: tf.Tensor1D | null, positions: Int32Array): StateTensors;
  dispose(): void;
}

/** tfjs variable names are global per engine; a per-model prefix lets several models coexist. */
let modelCounter = 0;

/** The simulators' layer norm: ε = 1e-6, scaled by rsqrt (compute/nn/layers.ts). */
function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return layerNormWith(x, gain, bias, { epsilon: 1e-6, scale: 'rsqrt' });
}

export function createModel(config: ModelConfig, numItems: number, seed: number, values?: ReadonlyMap<string, Float32Array>): SequenceModel {
  const rng = Rng.stream(seed, `simulator-init/${config.model}`);
  return config.model === 'sasrec' ? new Sasrec(config, numItems, rng, values) : new Gru4rec(config, numItems, rng, values);
}

abstract class BaseModel {
  readonly params: Params;
  readonly outDim: number;
  constructor(
    readonly config: ModelConfig,
    readonly numItems: number,
    specs: ParamSpec[],
    rng: Rng,
    values?: ReadonlyMap<string, Float32Array>,
  ) {
    this.outDim = outputDim(config);
    this.params = createParams(`sim${modelCounter++}`, specs, rng, values);
  }
  protected p(name: string): tf.Variable {
    const v = this.params.get(name);
    invariant(v, () => `no parameter ${name}`);
    return v;
  }
  itemEmbedding(): tf.Tensor2D {
    return this.p('item.embedding') as tf.Tensor2D;
  }
  itemBias(): tf.Tensor1D {
    return this.p('item.bias') as tf.Tensor1D;
  }
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// SASRec (pre-layer-norm transformer blocks, learned positions, causal self-attention)

class Sasrec extends BaseModel {
  private readonly cfg: SasrecConfig;
  private readonly headDim: number;
  private causalMasks = new Map<number, tf.Tensor2D>();

  constructor(config: SasrecConfig, numItems: number, rng: Rng, values?: ReadonlyMap<string, Float32Array>) {
    const d = config.hidden;
    if (d % config.heads !== 0) throw new ConfigError(`SASRec hidden (${d}) must be a multiple of heads (${config.heads})`);
    const specs: ParamSpec[] = [
      // Tokens are scaled by sqrt(d) on input, so this std gives unit-scale inputs and unit-scale logits.
      { name: 'item.embedding', shape: [numItems, d], init: 'normal', std: 1 / Math.sqrt(d) },
      { name: 'item.bias', shape: [numItems], init: 'zeros' },
      { name: 'position.embedding', shape: [config.maxLen, d], init: 'normal', std: 0.1 },
    ];
    for (let b = 0; b < config.blocks; b++) {
      specs.push({ name: `block${b}.ln1.gain`, shape: [d], init: 'ones' }, { name: `block${b}.ln1.bias`, shape: [d], init: 'zeros' });
      for (const m of ['q', 'k', 'v', 'o']) {
        specs.push({ name: `block${b}.attn.${m}.weight`, shape: [d, d], init: 'normal', std: glorotStd(d, d) });
        specs.push({ name: `block${b}.attn.${m}.bias`, shape: [d], init: 'zeros' });
      }
      specs.push({ name: `block${b}.ln2.gain`, shape: [d], init: 'ones' }, { name: `block${b}.ln2.bias`, shape: [d], init: 'zeros' });
      specs.push({ name: `block${b}.ffn.in.weight`, shape: [d, config.feedForward], init: 'normal', std: glorotStd(d, config.feedForward) });
      specs.push({ name: `block${b}.ffn.in.bias`, shape: [config.feedForward], init: 'zeros' });
      specs.push({ name: `block${b}.ffn.out.weight`, shape: [config.feedForward, d], init: 'normal', std: glorotStd(config.feedForward, d) });
      specs.push({ name: `block${b}.ffn.out.bias`, shape: [d], init: 'zeros' });
    }
    specs.push({ name: 'final.ln.gain', shape: [d], init: 'ones' }, { name: 'final.ln.bias', shape: [d], init: 'zeros' });
    super(config, numItems, specs, rng, values);
    this.cfg = config;
    this.headDim = d / config.heads;
  }

  /** Additive mask [L, L]: 0 on and below the diagonal, MASKED above (a position sees only its past). */
  private causalMask(length: number): tf.Tensor2D {
    let mask = this.causalMasks.get(length);
    if (!mask) {
      const values = new Float32Array(length * length);
      for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) values[i * length + j] = MASKED;
      mask = tf.keep(tf.tensor2d(values, [length, length]));
      this.causalMasks.set(length, mask);
    }
    return mask;
  }

  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return mm(x, this.p(`${name}.weight`) as tf.Tensor2D).add(this.p(`${name}.bias`));
  }

  private feedForward(x: tf.Tensor2D, b: number, seeds: DropoutSeeds): tf.Tensor2D {
    const f = layerNorm(x, this.p(`block${b}.ln2.gain`), this.p(`block${b}.ln2.bias`)) as tf.Tensor2D;
    const hidden = dropout(tf.relu(this.linear(f, `block${b}.ffn.in`)), this.cfg.dropout, seeds);
    return dropout(this.linear(hidden, `block${b}.ffn.out`), this.cfg.dropout, seeds);
  }

  /** Whole windows; also returns each block's keys and values [B, heads, L, headDim] for the cache. */
  private run(tokens: tf.Tensor2D, seeds: DropoutSeeds): { out: tf.Tensor3D; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
    const [batch, length] = tokens.shape;
    const d = this.cfg.hidden;
    const h = this.cfg.heads;
    const dh = this.headDim;
    if (length > this.cfg.maxLen) throw new ContractError(`SASRec window of ${length} items exceeds maxLen ${this.cfg.maxLen}`);
    const emb = tf.gather(this.itemEmbedding(), tokens.reshape([-1])).mul(Math.sqrt(d));
    const pos = this.p('position.embedding').slice([0, 0], [length, d]);
    let x = dropout(
      emb
        .reshape([batch, length, d])
        .add(pos)
        .reshape([batch * length, d]) as tf.Tensor2D,
      this.cfg.dropout,
      seeds,
    );
    const mask = this.causalMask(length);
    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    const heads = (t: tf.Tensor2D) => t.reshape([batch, length, h, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
    for (let b = 0; b < this.cfg.blocks; b++) {
      const a = layerNorm(x, this.p(`block${b}.ln1.gain`), this.p(`block${b}.ln1.bias`)) as tf.Tensor2D;
      const q = heads(this.linear(a, `block${b}.attn.q`));
      const k = heads(this.linear(a, `block${b}.attn.k`));
      const v = heads(this.linear(a, `block${b}.attn.v`));
      keys.push(k);
      values.push(v);
      const o = attention(q, k, v, mask, { scale: 'multiply', dropout: (att) => dropout(att, this.cfg.dropout, seeds) })
        .transpose([0, 2, 1, 3])
        .reshape([batch * length, d]) as tf.Tensor2D;
      x = x.add(dropout(this.linear(o, `block${b}.attn.o`), this.cfg.dropout, seeds));
      x = x.add(this.feedForward(x, b, seeds));
    }
    const out = layerNorm(x, this.p('final.ln.gain'), this.p('final.ln.bias')).reshape([batch, length, d]) as tf.Tensor3D;
    return { out, keys, values };
  }

  forward(tokens: tf.Tensor2D, seeds: DropoutSeeds): tf.Tensor3D {
    return this.run(tokens, seeds).out;
  }

  open(tokens: tf.Tensor2D, lengths: Int32Array): StateTensors {
    return tf.tidy(() => {
      const [batch, length] = tokens.shape;
      const { out, keys, values } = this.run(tokens, null);
      const last = new Int32Array(batch);
      const slotMask = new Float32Array(batch * length);
      for (let r = 0; r < batch; r++) {
        last[r] = r * length + lengths[r] - 1;
        for (let j = lengths[r]; j < length; j++) slotMask[r * length + j] = MASKED;
      }
      const user = tf.gather(out.reshape([batch * length, this.cfg.hidden]), tf.tensor1d(last, 'int32')) as tf.Tensor2D;
      const state: StateTensors = { user, slotMask: tf.tensor4d(slotMask, [batch, 1, 1, length]) };
      // Keys slot-major [S, B, heads, headDim]: appending a slot is then one contiguous copy.
      keys.forEach((k, b) => (state[`keys${b}`] = k.transpose([2, 0, 1, 3])));
      values.forEach((v, b) => (state[`values${b}`] = v));
      return state;
    });
  }

  step(state: StateTensors, items: tf.Tensor1D, active: tf.Tensor1D | null, positions: Int32Array): StateTensors {
    return tf.tidy(() => {
      const batch = items.shape[0];
      const d = this.cfg.hidden;
      const h = this.cfg.heads;
      const dh = this.headDim;
      const emb = tf.gather(this.itemEmbedding(), items).mul(Math.sqrt(d));
      let x = emb.add(tf.gather(this.p('position.embedding'), tf.tensor1d(positions, 'int32'))) as tf.Tensor2D;
      // The new slot is visible to a row only if the row appended an item this step.
      const newSlot = active ? tf.sub(1, active).mul(MASKED).reshape([batch, 1, 1, 1]) : tf.zeros([batch, 1, 1, 1]);
      const slotMask = tf.concat([state.slotMask, newSlot], 3);
      const slots = slotMask.shape[3] as number;
      const bias = slotMask.reshape([batch, 1, slots]);
      const next: StateTensors = { user: state.user, slotMask };
      const heads = (t: tf.Tensor2D) => t.reshape([batch, h, 1, dh]) as tf.Tensor4D;
      for (let b = 0; b < this.cfg.blocks; b++) {
        const a = layerNorm(x, this.p(`block${b}.ln1.gain`), this.p(`block${b}.ln1.bias`)) as tf.Tensor2D;
        const q = this.linear(a, `block${b}.attn.q`).reshape([1, batch, h, dh]);
        const k = tf.concat([state[`keys${b}`], this.linear(a, `block${b}.attn.k`).reshape([1, batch, h, dh])], 0);
        const v = tf.concat([state[`values${b}`], heads(this.linear(a, `block${b}.attn.v`))], 2);
        next[`keys${b}`] = k;
        next[`values${b}`] = v;
        // One query per row. Measured on wasm: q·K as a broadcast product over slot-major keys,
        // then att·V as a batched product, is the cheapest split of this work.
        const logits = queryKeyDots(q, k).transpose([1, 2, 0]); // [B, h, S]
        const att = attentionWeights(logits, dh, bias, { scale: 'multiply' });
        const o = tf.matMul(att.reshape([batch, h, 1, slots]), v).reshape([batch, d]) as tf.Tensor2D;
        x = x.add(this.linear(o, `block${b}.attn.o`));
        x = x.add(this.feedForward(x, b, null));
      }
      const user = layerNorm(x, this.p('final.ln.gain'), this.p('final.ln.bias')) as tf.Tensor2D;
      next.user = active ? (tf.where(active.reshape([batch, 1]).cast('bool'), user, state.user) as tf.Tensor2D) : user;
      return next;
    });
  }

  override dispose(): void {
    for (const m of this.causalMasks.values()) m.dispose();
    this.causalMasks.clear();
    super.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// GRU4Rec (one GRU layer; u(s) = W_p h + b_p, scored against the tied item embeddings)

const GATES = ['reset', 'update', 'candidate'] as const;

class Gru4rec extends BaseModel {
  private readonly cfg: Gru4recConfig;

  constructor(config: Gru4recConfig, numItems: number, rng: Rng, values?: ReadonlyMap<string, Float32Array>) {
    const e = config.embedding;
    const h = config.hidden;
    const specs: ParamSpec[] = [
      { name: 'item.embedding', shape: [numItems, e], init: 'normal', std: 1 / Math.sqrt(e) },
      { name: 'item.bias', shape: [numItems], init: 'zeros' },
    ];
    // One weight per gate (not one [e, 3h] block): slicing a block apart is slow on wasm.
    for (const gate of GATES) {
      specs.push({ name: `gru.${gate}.input.weight`, shape: [e, h], init: 'normal', std: glorotStd(e, h) });
      specs.push({ name: `gru.${gate}.input.bias`, shape: [h], init: 'zeros' });
      specs.push({ name: `gru.${gate}.state.weight`, shape: [h, h], init: 'normal', std: glorotStd(h, h) });
      specs.push({ name: `gru.${gate}.state.bias`, shape: [h], init: 'zeros' });
    }
    specs.push({ name: 'output.weight', shape: [h, e], init: 'normal', std: glorotStd(h, e) }, { name: 'output.bias', shape: [e], init: 'zeros' });
    super(config, numItems, specs, rng, values);
    this.cfg = config;
  }

  private affine(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return mm(x, this.p(`${name}.weight`) as tf.Tensor2D).add(this.p(`${name}.bias`));
  }

  /** One GRU step (gates as in cuDNN: the reset gate scales the state's candidate term). */
  private cell(x: tf.Tensor2D, state: tf.Tensor2D): tf.Tensor2D {
    const project = (input: tf.Tensor2D, from: 'input' | 'state') => ({
      reset: this.affine(input, `gru.reset.${from}`),
      update: this.affine(input, `gru.update.${from}`),
      candidate: this.affine(input, `gru.candidate.${from}`),
    });
    return gruCell(project(x, 'input'), project(state, 'state'), state);
  }

  private embed(items: tf.Tensor1D, seeds: DropoutSeeds): tf.Tensor2D {
    return dropout(tf.gather(this.itemEmbedding(), items) as tf.Tensor2D, this.cfg.dropout, seeds);
  }

  private readout(state: tf.Tensor2D, seeds: DropoutSeeds): tf.Tensor2D {
    return this.affine(dropout(state, this.cfg.dropout, seeds), 'output');
  }

  /** GRU states after each position of right-padded windows; columns are gathered per step (no slicing). */
  private states(tokens: tf.Tensor2D, seeds: DropoutSeeds): tf.Tensor2D[] {
    const [batch, length] = tokens.shape;
    const values = tokens.dataSync();
    let state = tf.zeros([batch, this.cfg.hidden]) as tf.Tensor2D;
    const all: tf.Tensor2D[] = [];
    for (let t = 0; t < length; t++) {
      const column = new Int32Array(batch);
      for (let r = 0; r < batch; r++) column[r] = values[r * length + t];
      state = this.cell(this.embed(tf.tensor1d(column, 'int32'), seeds), state);
      all.push(state);
    }
    return all;
  }

  forward(tokens: tf.Tensor2D, seeds: DropoutSeeds): tf.Tensor3D {
    const [batch, length] = tokens.shape;
    const states = tf.stack(this.states(tokens, seeds), 1).reshape([batch * length, this.cfg.hidden]) as tf.Tensor2D;
    return this.readout(states, seeds).reshape([batch, length, this.cfg.embedding]) as tf.Tensor3D;
  }

  open(tokens: tf.Tensor2D, lengths: Int32Array): StateTensors {
    return tf.tidy(() => {
      const batch = tokens.shape[0];
      const all = this.states(tokens, null);
      // Each row's state after its own last item, as a sum of 0/1-masked states (exact: x·1 + y·0 = x).
      const picked = tf.addN(
        all.map((s, t) =>
          s.mul(
            tf.tensor2d(
              Float32Array.from(lengths, (n) => (n === t + 1 ? 1 : 0)),
              [batch, 1],
            ),
          ),
        ),
      ) as tf.Tensor2D;
      return { user: this.readout(picked, null), hidden: picked };
    });
  }

  step(state: StateTensors, items: tf.Tensor1D, active: tf.Tensor1D | null, _positions: Int32Array): StateTensors {
    return tf.tidy(() => {
      const batch = items.shape[0];
      const old = state.hidden as tf.Tensor2D;
      const next = this.cell(this.embed(items, null), old);
      const hidden = active ? (tf.where(active.reshape([batch, 1]).cast('bool'), next, old) as tf.Tensor2D) : next;
      return { user: this.readout(hidden, null), hidden };
    });
  }
}
