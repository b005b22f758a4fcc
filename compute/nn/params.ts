/**
 * Named trainable parameters, shared by the simulators (SASRec, GRU4Rec) and the policy.
 *
 * `Params` is a plain map from a parameter's key to its tfjs variable (insertion order is the
 * canonical order). `ParamSet` builds one from JS-side values (drawn from an `Rng`, compute/nn/init.ts)
 * and adds the set of keys that receive weight decay; `createParams` builds one from specs
 * initialised by the backend's seeded normal draws (the simulators', whose shipped weights depend on
 * those draws). tfjs registers variables globally by name, so every set gets its own prefix.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../core/rng.ts';
import { ConfigError, invariant } from '../../core/errors.ts';

/** Parameters by key, in their canonical order. */
export type Params = Map<string, tf.Variable>;

let uid = 0;
/** tfjs registers variables globally by name: every parameter set gets its own prefix. */
export function uniquePrefix(label: string): string {
  uid += 1;
  return `${label}_${uid}`;
}

/**
 * An ordered set of named trainable tensors. The order of `keys` is the canonical order for
 * checkpoints and optimiser state; tfjs variable names are private (they carry a unique prefix).
 */
export class ParamSet {
  readonly vars: Params = new Map();
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
    return Object.fromEntries(paramValues(this.vars));
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

/** A parameter initialised on the backend: seeded normal draws, zeros or ones. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'zeros' | 'ones';
  std?: number;
}

/**
 * Parameters from specs, each drawn by the backend from a seed of `rng` (or taken from `values`,
 * e.g. a checkpoint's: every seed is drawn even then, so a model's init does not depend on which
 * parameters exist).
 * @throws ConfigError when `values` lacks a parameter or has the wrong number of values for one.
 */
export function createParams(label: string, specs: readonly ParamSpec[], rng: Rng, values?: ReadonlyMap<string, Float32Array>): Params {
  const params: Params = new Map();
  const prefix = `${label}/`;
  for (const spec of specs) {
    const seed = rng.seed32();
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let init: tf.Tensor;
    const given = values?.get(spec.name);
    if (values) {
      if (!given) throw new ConfigError(`checkpoint lacks parameter '${spec.name}'`);
      if (given.length !== size)
        throw new ConfigError(`checkpoint parameter '${spec.name}' has ${given.length} values, expected ${size} (shape ${spec.shape.join('x')})`);
      init = tf.tensor(given, spec.shape, 'float32');
    } else if (spec.init === 'normal') init = tf.randomNormal(spec.shape, 0, spec.std ?? 0.02, 'float32', seed);
    else if (spec.init === 'ones') init = tf.ones(spec.shape);
    else init = tf.zeros(spec.shape);
    params.set(spec.name, tf.variable(init, true, prefix + spec.name));
    init.dispose();
  }
  return params;
}

/** Copies of every parameter's values, by key (for checkpoints, workers and best-epoch snapshots). */
export function paramValues(params: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  // dataSync may return the backend's own buffer on some backends: copy.
  for (const [name, v] of params) out.set(name, v.dataSync().slice() as Float32Array);
  return out;
}

/**
 * Assigns values by key to every parameter.
 * @throws ConfigError when a parameter has no value.
 */
export function assignParams(params: ReadonlyMap<string, tf.Variable>, values: ReadonlyMap<string, Float32Array>): void {
  for (const [name, v] of params) {
    const given = values.get(name);
    if (!given) throw new ConfigError(`missing parameter '${name}'`);
    const t = tf.tensor(given, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}
