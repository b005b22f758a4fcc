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

/** The dimensions of a BatchMatMul: op(a) [..., m, k] times op(b) [..., k, n], batches broadcast. */
export interface BatchMatMulDims {
  m: number;
  k: number;
  n: number;
  /** Matrices in each operand's leading (batch) axes. */
  batchA: number;
  batchB: number;
  /** The product's shape: the larger operand's batch axes, then [m, n]. */
  outShape: number[];
}

/**
 * The dimensions of a·b with the transpose flags (operands of rank >= 2). Throws when the inner
 * dimensions differ or the batches do not broadcast (equal, or one of them 1).
 */
export function batchMatMulDims(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): BatchMatMulDims {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul: operands of rank >= 2, got [${a.shape}] and [${b.shape}]`);
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) throw new Error(`BatchMatMul: inner dimensions ${k} and ${kb} differ ([${a.shape}], [${b.shape}])`);
  const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) throw new Error(`BatchMatMul: batches ${batchA} and ${batchB} do not broadcast`);
  const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), m, n];
  return { m, k, n, batchA, batchB, outShape };
}
