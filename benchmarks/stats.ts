/** Aggregation across seeds: mean and a 95% confidence interval (Student t). */

// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

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
