/**
 * What the learned agents add to the neural toolkit (compute/nn/: parameters, initialisers, layers,
 * Adam/AdamW, re-exported here under the names the agents use): the backend's initialisation for
 * agents, and (de)serialisation of float32 arrays for checkpoints.
 */
import { initBackend } from '../compute/backend.ts';

/** Initialises the compute backend once (wasm when available); quiet so agents do not print. */
export async function ensureBackend(): Promise<string> {
  const info = await initBackend({ quiet: true });
  return info.name;
}

/** The policy's optimiser is the toolkit's Adam with decoupled weight decay (compute/nn/adam.ts). */
export { Adam as AdamW, type AdamConfig as AdamWConfig } from '../compute/nn/adam.ts';
export { normalArray } from '../compute/nn/init.ts';
export { ParamSet } from '../compute/nn/params.ts';

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
