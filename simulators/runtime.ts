/**
 * The tfjs runtime the simulators run on: the project's backend helper chooses tfjs-node / wasm /
 * cpu and registers the kernels wasm lacks (UnsortedSegmentSum, the gradient of every embedding
 * lookup). Simulator code imports `tf` from here so that every path goes through that choice.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendInfo } from '../compute/backend.ts';

export { tf };

/** Initialises the backend once per thread (each worker thread has its own tfjs engine). */
export function ensureBackend(opts: { backend?: string; quiet?: boolean; log?: (line: string) => void } = {}): Promise<BackendInfo> {
  return initBackend(opts);
}
