/**
 * Initial weights drawn in JS from an `Rng` (so a seed fixes every weight without relying on the
 * backend's own random state), and the Glorot scale shared with the backend-drawn initialisation.
 */
import type { Rng } from '../../core/rng.ts';

/** Normal(0, std) values drawn from `rng` (JS side, so the backend never draws). */
export function normalArray(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * rng.normal();
  return a;
}

/** The standard deviation of Glorot (Xavier) normal initialisation: sqrt(2 / (fanIn + fanOut)). */
export function glorotStd(fanIn: number, fanOut: number): number {
  return Math.sqrt(2 / (fanIn + fanOut));
}

/** A [fanIn × fanOut] matrix of Glorot normal values drawn from `rng`. */
export function glorotArray(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  return normalArray(rng, fanIn * fanOut, glorotStd(fanIn, fanOut));
}
