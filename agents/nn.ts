/**
 * Small neural-network plumbing shared by the learned agents: named parameters initialised from an
 * `Rng` (so a seed fixes every weight without relying on tfjs's own random state), AdamW with
 * decoupled weight decay (written out so that its state is ours to save and restore exactly), and
 * (de)serialisation of float32 arrays for checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../compute/backend.ts';
import type { Rng } from '../core/rng.ts';
import { ConfigError, invariant } from '../core/errors.ts';

/** Initialises the compute backend once (wasm when available); quiet so agents do not print. */
export async function ensureBackend(): Promise<string> {
  const info = await initBackend({ quiet: true });
  return info.name;
}

let uid = 0;
/** tfjs registers variables globally by name: every parameter set gets its own prefix. */
export function uniquePrefix(label: string): string {
  uid += 1;
  return `${label}_${uid}`;
}

/** Normal(0, std) values drawn from `rng` (JS side, so the backend never draws). */
export function normalArray(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * rng.normal();
  return a;
}

/**
 * An ordered set of named trainable tensors. The order of `keys` is the canonical order for
 * checkpoints and optimiser state; tfjs variable names are private (they carry a unique prefix).
 */
export class ParamSet {
  readonly vars = new Map<string, tf.Variable>();
  readonly keys: string[] = [];
  /** Parameters that receive weight decay (matrices; not biases or the STOP logit offset). */
  readonly decay = new Set<string>();
  private readonly prefix: string;

  constructor(
    label: string,
    readonly trainable = true,
  ) {
    this.prefix = uniquePrefix(label);
  }

  add(key: string, shape: number[], values: Float32Array, opts: { decay?: boolean } = {}): tf.Variable {
    invariant(!this.vars.has(key), () => `parameter '${key}' defined twice`);
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), this.trainable, `${this.prefix}/${key}`));
    this.vars.set(key, v);
    this.keys.push(key);
    if (opts.decay) this.decay.add(key);
    return v;
  }

  get(key: string): tf.Variable {
    const v = this.vars.get(key);
    invariant(v, () => `no parameter '${key}'`);
    return v;
  }

  list(): tf.Variable[] {
    return this.keys.map((k) => this.get(k));
  }

  count(): number {
    return this.list().reduce((n, v) => n + v.size, 0);
  }

  /** A copy of every value (read outside any tidy). */
  snapshot(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const k of this.keys) out[k] = this.get(k).dataSync() as Float32Array;
    // dataSync may return the backend's own buffer on some backends: copy to be safe.
    for (const k of this.keys) out[k] = out[k].slice();
    return out;
  }

  /** Assigns values saved by `snapshot` (shapes must match). */
  restore(values: Record<string, Float32Array>): void {
    for (const k of this.keys) {
      const v = this.get(k);
      const a = values[k];
      if (!a) throw new ConfigError(`checkpoint lacks parameter '${k}'`);
      if (a.length !== v.size) throw new ConfigError(`parameter '${k}': checkpoint has ${a.length} values, the model ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(a, v.shape, 'float32')));
    }
  }

  /** Copies the values of another set with the same keys and shapes. */
  copyFrom(other: ParamSet): void {
    for (const k of this.keys) tf.tidy(() => this.get(k).assign(other.get(k)));
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW): w ← w − lr·λ·w, applied to the set's `decay` parameters only. */
  weightDecay: number;
  /** Clip the global gradient norm to this value (0: no clipping). */
  clipNorm: number;
}

/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t);  v̂ = v/(1−β2^t)
 *   w ← w − lr·λ·w − lr·m̂/(√v̂ + ε)
 * Its state (m, v, t) is plain tensors keyed like the parameters, so checkpoints restore it exactly.
 */
export class AdamW {
  private m = new Map<string, tf.Tensor>();
  private v = new Map<string, tf.Tensor>();
  step = 0;

  constructor(
    readonly params: ParamSet,
    public config: AdamWConfig,
  ) {}

  /**
   * Applies one update from gradients keyed by parameter key (missing keys: no gradient).
   * Returns the global gradient norm before clipping. Does not dispose `grads`. `lrScale` (a
   * schedule's factor, e.g. a warm-up's) multiplies the learning rate of this update only, in the
   * Adam step and the weight decay alike (as torch's schedulers do).
   */
  apply(grads: Record<string, tf.Tensor>, lrScale = 1): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.config;
    const lr = this.config.lr * lrScale;
    const keys = this.params.keys.filter((k) => grads[k]);
    const normT = tf.tidy(() => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grads[k]))))));
    const norm = normT.dataSync()[0];
    normT.dispose();
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const k of keys) {
      const w = this.params.get(k);
      const g0 = grads[k];
      const mOld = this.m.get(k);
      const vOld = this.v.get(k);
      const [mNew, vNew] = tf.tidy(() => {
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        const m = mOld ? tf.add(tf.mul(mOld, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
        const v = vOld ? tf.add(tf.mul(vOld, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        let next = tf.sub(w, tf.mul(update, lr));
        if (weightDecay > 0 && this.params.decay.has(k)) next = tf.sub(next, tf.mul(w, lr * weightDecay));
        w.assign(next);
        return [m, v];
      });
      mOld?.dispose();
      vOld?.dispose();
      this.m.set(k, mNew);
      this.v.set(k, vNew);
    }
    return norm;
  }

  state(): { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> } {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const [k, t] of this.m) m[k] = (t.dataSync() as Float32Array).slice();
    for (const [k, t] of this.v) v[k] = (t.dataSync() as Float32Array).slice();
    return { step: this.step, m, v };
  }

  setState(s: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> }): void {
    this.reset();
    this.step = s.step;
    for (const k of Object.keys(s.m)) this.m.set(k, tf.tensor(s.m[k], this.params.get(k).shape, 'float32'));
    for (const k of Object.keys(s.v)) this.v.set(k, tf.tensor(s.v[k], this.params.get(k).shape, 'float32'));
  }

  reset(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
    this.step = 0;
  }

  dispose(): void {
    this.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint encoding: float32 arrays as base64 inside JSON (exact round trip).
// ---------------------------------------------------------------------------------------------

export function encodeF32(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function decodeF32(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function encodeMap(m: Record<string, Float32Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, encodeF32(v)]));
}

export function decodeMap(m: Record<string, string>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, decodeF32(v)]));
}
