/**
 * JS fallback kernels for the wasm backend, registered by `initBackend` when it chooses wasm.
 *
 * Found with the probe in `probe.ts` (every op that training uses, forward and backward, on wasm
 * against cpu):
 * - `UnsortedSegmentSum` is not registered for wasm; it is the gradient of `gather`, so without it
 *   no embedding can be trained.
 * - `Cast` to bool is wrong on wasm (it copies values instead of testing `x != 0`).
 * Kernels missing on wasm that training here does not use (FFT/complex, Einsum, the convolution
 * filter gradients, ragged and string ops) are not provided.
 */
import * as tf from '@tensorflow/tfjs';
import { castConfigWrapping } from './cast.ts';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum.ts';

/** The kernels this module adds to or replaces on the wasm backend. */
export const WASM_FALLBACK_KERNELS = ['UnsortedSegmentSum', 'Cast'] as const;

const ours = new WeakSet<tf.KernelFunc>();

function register(config: tf.KernelConfig): void {
  ours.add(config.kernelFunc);
  tf.registerKernel(config);
}

/**
 * Registers the fallbacks for 'wasm' (before or after the backend is initialised). Idempotent; a
 * kernel that a future tfjs-backend-wasm provides itself is left alone (except Cast, which is
 * wrapped: casts to bool are computed here, every other cast goes to the original kernel).
 * Returns the names of the kernels that are ours after the call.
 */
export function registerWasmFallbackKernels(): string[] {
  const active: string[] = [];

  const segSum = tf.getKernel('UnsortedSegmentSum', 'wasm');
  if (segSum === undefined) register(unsortedSegmentSumConfig);
  if (segSum === undefined || ours.has(segSum.kernelFunc)) active.push('UnsortedSegmentSum');

  const cast = tf.getKernel('Cast', 'wasm');
  if (cast !== undefined && !ours.has(cast.kernelFunc)) {
    tf.unregisterKernel('Cast', 'wasm');
    register(castConfigWrapping(cast.kernelFunc));
  }
  if (cast !== undefined) active.push('Cast');
  return active;
}
