/**
 * Adam (Kingma & Ba, 2015) over a model's named parameters, with its whole state readable and
 * restorable, so that a resumed simulator training continues bit for bit where it stopped:
 *
 *   t ← t + 1
 *   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *   θ ← θ − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)
 *
 * The update is the one tfjs's `tf.train.adam` applies. That optimizer is not used because its
 * state cannot be restored exactly: `setWeights` recomputes the running products β^t with `pow`,
 * which differs in the last float32 bits from the product it accumulated step by step, so a
 * resumed run drifted from an uninterrupted one. Here β^t is a function of t alone.
 */
import { tf } from './runtime.ts';
import type { Params } from './model.ts';
import { ConfigError } from '../core/errors.ts';

export interface AdamState {
  /** Updates applied so far. */
  step: number;
  /** First and second moments by parameter name. */
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class Adam {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Params,
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    /** tfjs's float32 epsilon, as tf.train.adam uses by default. */
    readonly epsilon = 1e-7,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  get step(): number {
    return this.t;
  }

  /** One update from gradients keyed by the tfjs variable name (as `tf.variableGrads` returns them). */
  apply(grads: tf.NamedTensorMap): void {
    this.t += 1;
    const { beta1, beta2, epsilon, learningRate } = this;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = 1 - Math.pow(beta2, this.t);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[p.name];
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = m.mul(beta1).add(g.mul(1 - beta1));
        const v1 = v.mul(beta2).add(g.square().mul(1 - beta2));
        m.assign(m1);
        v.assign(v1);
        p.assign(p.add(m1.div(c1).div(v1.div(c2).sqrt().add(epsilon)).mul(-learningRate)));
      }
    });
  }

  state(): AdamState {
    const read = (vars: Map<string, tf.Variable>) => new Map([...vars].map(([k, x]) => [k, x.dataSync().slice() as Float32Array]));
    return { step: this.t, m: read(this.m), v: read(this.v) };
  }

  load(state: AdamState): void {
    for (const [moments, values] of [
      [this.m, state.m],
      [this.v, state.v],
    ] as const) {
      for (const [name, x] of moments) {
        const given = values.get(name);
        if (!given || given.length !== x.size) throw new ConfigError(`Adam state lacks moments for '${name}' (or has the wrong size)`);
        const t = tf.tensor(given, x.shape, 'float32');
        x.assign(t);
        t.dispose();
      }
    }
    this.t = state.step;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
