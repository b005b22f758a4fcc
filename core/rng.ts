/**
 * Seeded randomness. Every random draw in prorec-gym comes from an `Rng` passed in explicitly;
 * there is no global generator. One integer seed yields independent named streams
 * (`world`, `dynamics`, `agent`, `sampling`, ...), so that adding draws to one stream (say a new
 * agent that samples more) never shifts the draws of another (the world or the user dynamics).
 *
 * The bit generator is pure-rand's xoroshiro128+ (a well-tested, well-kept implementation); this
 * module only adds stream derivation and the distributions the project needs.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** The named streams every experiment derives from its seed. */
export type StreamName = 'world' | 'dynamics' | 'agent' | 'sampling' | (string & {});

/**
 * A 32-bit hash of a seed and a name (FNV-1a over the name, mixed with the seed through the
 * murmur3 finaliser): distinct names give unrelated 32-bit seeds.
 */
export function deriveSeed(seed: number, name: string): number {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  let h = 0x811c9dc5 ^ (seed | 0) ^ Math.floor(seed / 0x100000000);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export class Rng {
  private readonly gen: RandomGenerator;
  private spareNormal: number | null = null;

  /** Prefer `Rng.stream(seed, name)`; the constructor takes an already-derived 32-bit seed. */
  constructor(
    seed32: number,
    private readonly label = 'rng',
  ) {
    this.gen = xoroshiro128plus(seed32 | 0);
  }

  /** An independent stream for `name`, derived from `seed`. */
  static stream(seed: number, name: StreamName): Rng {
    return new Rng(deriveSeed(seed, name), name);
  }

  /** A child stream: independent of this one and of its other children. Does not advance this one. */
  child(name: string): Rng {
    const state = this.gen.getState();
    let s = deriveSeed(
      state.reduce((a, b) => (Math.imul(a, 31) + b) | 0, 17),
      name,
    );
    s = deriveSeed(s, this.label);
    return new Rng(s, `${this.label}/${name}`);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new Error(`Rng.int needs a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.float() - 1;
      const v = 2 * this.float() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * m;
        return u * m;
      }
    }
  }

  /** An index drawn with probability proportional to `weights[i]` (non-negative, not all zero). */
  categorical(weights: ArrayLike<number>, total?: number): number {
    let sum = total ?? 0;
    if (total === undefined) for (let i = 0; i < weights.length; i++) sum += weights[i];
    if (!(sum > 0)) throw new Error('Rng.categorical: weights sum to zero');
    let x = this.float() * sum;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) return i;
    }
    // Rounding left x at ~0: return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }

  /** A fresh 32-bit integer, e.g. to seed a tfjs initialiser. */
  seed32(): number {
    return this.gen.next();
  }
}

/** The standard streams of one experiment seed. */
export function streams(seed: number): Record<'world' | 'dynamics' | 'agent' | 'sampling', Rng> {
  return {
    world: Rng.stream(seed, 'world'),
    dynamics: Rng.stream(seed, 'dynamics'),
    agent: Rng.stream(seed, 'agent'),
    sampling: Rng.stream(seed, 'sampling'),
  };
}

/**
 * The identity of one episode: its case (split and index) and its replica, the k-th copy of that
 * case in one batch (e.g. one of a group of G rollouts of a prompt). Every draw that belongs to an
 * episode (the user's acceptances, an agent's sampling, a drawn target) comes from a stream keyed
 * by this and the step, never by the episode's row in a batch, so a case's outcome is the same
 * alone, in a batch of 1,024 or in any shard.
 */
export interface EpisodeKey {
  readonly split: string;
  readonly caseIndex: number;
  readonly replica: number;
}

/** The seed of one episode's draws under a run-level `seed` (and a purpose, e.g. 'accept' or 'agent'). */
export function episodeSeed(seed: number, key: EpisodeKey, purpose: string): number {
  return deriveSeed(deriveSeed(seed, `${purpose}/${key.split}/${key.caseIndex}`), `replica-${key.replica}`);
}

/** The stream of one episode at step t (t = actions taken before this decision). */
export function stepStream(episode: number, step: number): Rng {
  return new Rng(deriveSeed(episode, `step-${step}`), `step-${step}`);
}

/** Replica numbers of a batch's case indices: the k-th occurrence of a case in the list gets k. */
export function replicasOf(caseIndices: readonly number[]): number[] {
  const seen = new Map<number, number>();
  return caseIndices.map((c) => {
    const k = seen.get(c) ?? 0;
    seen.set(c, k + 1);
    return k;
  });
}
