/**
 * What the fallback kernels need from the wasm backend, typed narrowly. Outputs are allocated on
 * the wasm heap with `makeOutput` and filled through a typed-array view of that heap.
 *
 * Heap views are invalidated when the heap grows, and any allocation may grow it: allocate every
 * output first, then take the views of inputs and outputs, then compute without allocating.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TensorInfo = tf.TensorInfo;

export interface WasmKernelArgs {
  inputs: Record<string, TensorInfo>;
  attrs?: Record<string, unknown>;
  backend: BackendWasm;
}

/** The backend of a kernel call, checked to be the wasm backend. */
export function wasmBackend(backend: unknown): BackendWasm {
  const b = backend as Partial<BackendWasm> | null;
  if (b == null || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') {
    throw new Error('fallback kernel called with a backend that is not the wasm backend');
  }
  return b as BackendWasm;
}

/** A view of a tensor's data on the wasm heap (no copy). Take it after allocating outputs. */
export function heapView(backend: BackendWasm, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.typedArrayFromHeap(t) as Float32Array | Int32Array | Uint8Array;
}
