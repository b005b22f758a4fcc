/**
 * Claim (2) measured exactly: on a small MDP with noisy step rewards, every group of paths
 * enumerated, position-specific advantages have the same expected gradient as REINFORCE with less
 * variance (with and without a leave-one-out baseline); SRC changes the expected gradient's
 * direction (it follows E[R] − μ·E[L]).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exactVariance } from '../benchmarks/estimator-variance.ts';

test('exact gradient variance (groups of 2): reward-to-go and PSAE keep the mean and cut the variance; SRC moves the mean', () => {
  const { rows } = exactVariance(2);
  const row = (l: string) => rows.find((r) => r.label === l)!;
  const r = row('reinforce');
  for (const l of ['reward-to-go', 'psae-only', 'reinforce-baseline']) {
    assert.ok(Math.abs(row(l).meanNorm - r.meanNorm) < 1e-9 && row(l).cosineToReinforce > 1 - 1e-9, `${l}: unbiased for ∇E[R]`);
  }
  assert.ok(row('reward-to-go').traceCov < r.traceCov, 'reward-to-go: less variance than the whole return');
  assert.ok(row('psae-only').traceCov < row('reinforce-baseline').traceCov, 'PSAE: less variance than a path-level baseline');
  assert.ok(row('src-only').cosineToReinforce < 0.99, 'SRC follows another objective');
  assert.ok(rows.every((x) => Number.isFinite(x.traceCov) && x.traceCov >= 0));
});
