/**
 * The one additive bias the project uses to rule out an action or hide an attention slot, and the
 * tests that recognise its effect. exp(FORBIDDEN − max) is exactly 0 in float32, so a forbidden
 * action gets probability 0 and a hidden slot weight 0, with no NaN from −Infinity arithmetic.
 */

/** Additive logit / attention bias of a forbidden action or a hidden slot. */
export const FORBIDDEN = -1e9;

/** True for a log-probability that only a FORBIDDEN bias can produce (real ones are above −1e8 by far). */
export function isForbidden(logProb: number): boolean {
  return logProb < FORBIDDEN / 10;
}

/**
 * Floor of log π inside the entropy −Σ π log π: a forbidden action's term is then 0 · (−1e4) = 0
 * exactly, instead of 0 · (−1e9) round-off or NaN.
 */
export const LOG_PROB_FLOOR = -1e4;
