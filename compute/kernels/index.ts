/**
 * JS fallback kernels for the wasm backend, registered by `initBackend` when it chooses wasm.
 *
 * Found with the probe in test/support/kernel-probe.ts (every op that training uses, forward and backward, on wasm
 * against cpu):
 * - `UnsortedSegmentSum` is not registered for wasm; it is the gradient of `gather`, so without it
 *   no embedding can be trained.
 * - `Cast` to bool is wrong on wasm (it copies values instead of testing `x != 0`).
 * - `GatherV2` with batchDims > 0 returns wrong rows on wasm when slices have several elements;
 *   and every gather (each embedding lookup) is slow there: the JS kernel copies whole slices.
 * - `Sum` of an empty tensor returns uninitialised memory on wasm instead of zeros.
 * Not a gap in correctness but in speed, found by the perf script: `BatchMatMul` and `_FusedMatMul`
 * on wasm are fast only for plain 2-D products; transpose flags (every matMul gradient) and a
 * batched `a` against a 2-D `b` take a naive loop, several times slower. The wrapper rewrites them.
 * Kernels missing on wasm that training here does not use (FFT/complex, Einsum, the convolution
 * filter gradients, ragged and string ops) are not provided.
 */
import * as tf from '@tensorflow/tfjs';
import { castConfigWrapping } from './cast.ts';
import { matMulConfigWrapping } from './matMul.ts';
import { gatherV2ConfigWrapping } from './gatherV2.ts';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum.ts';
import { exactBatchMatMulConfig, nativeBatchMatMulConfig, type NativeBlas } from './native-matmul.ts';
import { nativeSumConfigWrapping, sumConfigWrapping } from './sum.ts';

/** The kernels this module adds to or replaces on the wasm backend. */
export const WASM_FALLBACK_KERNELS = ['UnsortedSegmentSum', 'Cast', 'GatherV2', 'BatchMatMul', '_FusedMatMul', 'Sum'] as const;

const ours = new WeakSet<tf.KernelFunc>();

function register(config: tf.KernelConfig): void {
  ours.add(config.kernelFunc);
  tf.registerKernel(config);
}

/**
 * Registers the fallbacks for 'wasm' (before or after the backend is initialised). Idempotent; a
 * kernel that a future tfjs-backend-wasm provides itself is left alone. Cast, GatherV2,
 * BatchMatMul, _FusedMatMul and Sum are wrapped: the wrong (or slow) cases are handled here, every other call goes to the
 * original wasm kernel.
 * Returns the names of the kernels that are ours after the call.
 */
export function registerWasmFallbackKernels(): string[] {
  const active: string[] = [];

  const segSum = tf.getKernel('UnsortedSegmentSum', 'wasm');
  if (segSum === undefined) register(unsortedSegmentSumConfig);
  if (segSum === undefined || ours.has(segSum.kernelFunc)) active.push('UnsortedSegmentSum');

  for (const [name, wrap] of [
    ['Cast', castConfigWrapping],
    ['GatherV2', gatherV2ConfigWrapping],
    ['BatchMatMul', (k: tf.KernelFunc) => matMulConfigWrapping('BatchMatMul', k)],
    ['_FusedMatMul', (k: tf.KernelFunc) => matMulConfigWrapping('_FusedMatMul', k)],
    ['Sum', sumConfigWrapping],
  ] as const) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing === undefined) continue; // the wasm package is not loaded: nothing to wrap
    if (!ours.has(existing.kernelFunc)) {
      tf.unregisterKernel(name, 'wasm');
      register({ ...wrap(existing.kernelFunc), setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc });
    }
    active.push(name);
  }
  return active;
}

/** The wasm kernels that registerNativeBlasKernels replaced, to put back. */
const replaced = new Map<string, tf.KernelConfig>();
let activeNative: NativeBlas | null = null;
let activeProducts: 'exact' | 'native' | null = null;

/**
 * The native addon whose kernels are registered (registerNativeBlasKernels), or null. Its kernels
 * other than the products give the wasm kernels' or the JS's bits, whichever products run.
 */
export function activeNativeBlas(): NativeBlas | null {
  return activeNative;
}

/** Which products the registered addon runs: 'exact' (the wasm kernels' bits), 'native' (OpenBLAS), or null. */
export function activeNativeProducts(): 'exact' | 'native' | null {
  return activeProducts;
}

/**
 * Replaces the wasm backend's BatchMatMul with the addon's (compute/kernels/native-matmul.ts):
 * `products` 'exact' (the wasm kernels' bits) or 'native' (OpenBLAS), and routes its float32 sums
 * over leading axes (bias gradients) to the addon (compute/kernels/sum.ts, the same bits), after
 * registerWasmFallbackKernels; a later registerWasmFallbackKernels leaves them in place.
 * unregisterNativeBlasKernels puts the replaced kernels back (for benchmarks that compare them in
 * one process).
 */
export function registerNativeBlasKernels(blas: NativeBlas, products: 'exact' | 'native' = 'native'): void {
  for (const name of ['BatchMatMul', 'Sum']) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing === undefined) continue;
    if (!replaced.has(name)) replaced.set(name, existing);
    tf.unregisterKernel(name, 'wasm');
  }
  register(products === 'exact' ? exactBatchMatMulConfig(blas) : nativeBatchMatMulConfig(blas));
  const sum = replaced.get('Sum');
  if (sum) register({ ...nativeSumConfigWrapping(sum.kernelFunc, blas), setupFunc: sum.setupFunc, disposeFunc: sum.disposeFunc });
  activeNative = blas;
  activeProducts = products;
}

/** Undoes registerNativeBlasKernels (no-op when it did not run). */
export function unregisterNativeBlasKernels(): void {
  activeNative = null;
  activeProducts = null;
  for (const [name, config] of replaced) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  replaced.clear();
}
