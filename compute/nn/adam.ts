/**
 * Adam (Kingma & Ba, 2015) with decoupled weight decay (AdamW, Loshchilov & Hutter, as
 * torch.optim.AdamW) and optional clipping of the global gradient norm, over named parameters;
 * the one optimiser of the simulators and the policy:
 *
 *   t ← t + 1
 *   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *   θ ← θ − lr·λ·θ − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)   (λ on the `decay` keys only)
 *
 * With λ = 0 the update is the one tfjs's `tf.train.adam` applies. That optimiser is not used
 * because its state cannot be restored exactly: `setWeights` recomputes the running products β^t
 * with `pow`, which differs in the last float32 bits from the product it accumulated step by step,
 * so a resumed run drifted from an uninterrupted one. Here β^t is a function of t alone, and the
 * state (t, m, v) is plain tensors keyed like the parameters, so checkpoints restore it exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../core/errors.ts';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW): w ← w − lr·λ·w, applied to the `decay` parameters only. */
  weightDecay: number;
  /** Clip the global gradient norm to this value (0: no clipping). */
  clipNorm: number;
}

/** What the optimiser updates: parameters by key (in their canonical order) and the keys that decay. */
export interface Trainable {
  readonly vars: ReadonlyMap<string, tf.Variable>;
  readonly decay?: ReadonlySet<string>;
}

export interface AdamOptions {
  /**
   * Moments start as zeros for every parameter (the simulators': the first update is then
   * 0·β1 + (1 − β1)·g, and the state always holds every parameter) instead of being created by
   * a parameter's first update as (1 − β1)·g (the policy's). The two differ only in the sign of
   * zero moments.
   */
  zeroMoments?: boolean;
  /** Compute the global gradient norm (returned by `apply`) even without clipping (default true). */
  measureNorm?: boolean;
}

/** The optimiser's whole state: updates applied so far and the moments by parameter key. */
export interface AdamState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export class Adam {
  private m = new Map<string, tf.Tensor>();
  private v = new Map<string, tf.Tensor>();
  /** Updates applied so far. */
  step = 0;
  private readonly zeroMoments: boolean;
  private readonly measureNorm: boolean;

  constructor(
    readonly params: Trainable,
    public config: AdamConfig,
    opts: AdamOptions = {},
  ) {
    this.zeroMoments = opts.zeroMoments ?? false;
    this.measureNorm = opts.measureNorm ?? true;
    this.reset();
  }

  /**
   * Applies one update from gradients keyed by parameter key (missing keys: no gradient).
   * Returns the global gradient norm before clipping (NaN when neither measured nor clipped).
   * Does not dispose `grads`. `lrScale` (a schedule's factor, e.g. a warm-up's) multiplies the
   * learning rate of this update only, in the Adam step and the weight decay alike (as torch's
   * schedulers do).
   */
  apply(grads: Readonly<Record<string, tf.Tensor>>, lrScale = 1): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.config;
    const lr = this.config.lr * lrScale;
    const keys = [...this.params.vars.keys()].filter((k) => grads[k]);
    let norm = NaN;
    if (this.measureNorm || clipNorm > 0) {
      const normT = tf.tidy(() => tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grads[k]))))));
      norm = normT.dataSync()[0];
      normT.dispose();
    }
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const k of keys) {
      const w = this.params.vars.get(k)!;
      const g0 = grads[k];
      const mOld = this.m.get(k);
      const vOld = this.v.get(k);
      const [mNew, vNew] = tf.tidy(() => {
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        const m = mOld ? tf.add(tf.mul(mOld, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
        const v = vOld ? tf.add(tf.mul(vOld, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        let next = tf.sub(w, tf.mul(update, lr));
        if (weightDecay > 0 && this.params.decay?.has(k)) next = tf.sub(next, tf.mul(w, lr * weightDecay));
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

  /** Copies of the step count and the moments. */
  state(): AdamState {
    const read = (moments: Map<string, tf.Tensor>) => Object.fromEntries([...moments].map(([k, t]) => [k, (t.dataSync() as Float32Array).slice()]));
    return { step: this.step, m: read(this.m), v: read(this.v) };
  }

  /**
   * Restores a state from `state()`.
   * @throws ConfigError when a moment has the wrong size, or (zeroMoments) a parameter has none.
   */
  setState(s: AdamState): void {
    for (const [label, moments] of [
      ['m', s.m],
      ['v', s.v],
    ] as const) {
      for (const [k, p] of this.params.vars) {
        const given = moments[k] as Float32Array | undefined;
        if (given ? given.length !== p.size : this.zeroMoments)
          throw new ConfigError(`Adam state lacks the ${label} moments of '${k}' (or has the wrong number of values)`);
      }
    }
    this.clear();
    this.step = s.step;
    for (const k of Object.keys(s.m)) this.m.set(k, tf.tensor(s.m[k], this.shapeOf(k), 'float32'));
    for (const k of Object.keys(s.v)) this.v.set(k, tf.tensor(s.v[k], this.shapeOf(k), 'float32'));
  }

  /** Back to no update applied (zero moments, or none). */
  reset(): void {
    this.clear();
    if (this.zeroMoments)
      for (const [k, p] of this.params.vars) {
        this.m.set(k, tf.zerosLike(p));
        this.v.set(k, tf.zerosLike(p));
      }
  }

  dispose(): void {
    this.clear();
  }

  private shapeOf(k: string): number[] {
    const p = this.params.vars.get(k);
    if (!p) throw new ConfigError(`Adam state has moments for '${k}', which is not a parameter`);
    return p.shape;
  }

  private clear(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
    this.step = 0;
  }
}
