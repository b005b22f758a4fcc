/** Aggregation across seeds: mean, 95% t-interval, seeded percentile-bootstrap interval, IQM. */
import type { Rng } from '../core/rng.ts';

// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile95(df: number): number {
  if (df < 1) return NaN;
  return df <= 30 ? T95[df - 1] : 1.96 + 2.5 / df; // close to the exact value beyond 30
}

export interface Summary {
  mean: number;
  /** Half-width of the 95% t-interval; null with fewer than two values. */
  ci95: number | null;
  n: number;
  std: number | null;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: NaN, ci95: null, n: 0, std: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, ci95: null, n, std: null };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const std = Math.sqrt(variance);
  return { mean, ci95: (tQuantile95(n - 1) * std) / Math.sqrt(n), n, std };
}

/** Mean of the defined values (null where none are). */
export function meanDefined(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/**
 * Interquartile mean: the mean of the middle 50% of the values, as rliable computes it
 * (scipy's trim_mean(values, 0.25): floor(n/4) values cut from each end). With fewer than four
 * values nothing is cut and the IQM is the mean.
 */
export function iqm(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return NaN;
  const xs = [...values].sort((a, b) => a - b);
  const cut = Math.floor(n / 4);
  const mid = xs.slice(cut, n - cut);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/**
 * Percentile bootstrap confidence interval of the mean: `resamples` resamples of the values with
 * replacement, each drawn from `rng` (pass a seeded stream: the interval is then reproducible).
 * Returns [lo, hi]; with one value both ends are that value (no spread to resample).
 */
export function bootstrapCI(values: readonly number[], rng: Rng, opts: BootstrapOptions = {}): [number, number] {
  const n = values.length;
  if (n === 0) return [NaN, NaN];
  const B = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const means = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.int(n)];
    means[b] = sum / n;
  }
  means.sort();
  return [quantile(means, (1 - level) / 2), quantile(means, 1 - (1 - level) / 2)];
}

/** Linear-interpolation quantile (numpy's default) of sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
