/**
 * UnsortedSegmentSum for the wasm backend, which lacks it. It is the gradient of `gather`, so it
 * runs for every embedding lookup in every training step: out[s, ...] = sum of x[n, ...] over the
 * n with segmentIds[n] = s. One pass over x, accumulating rows straight into the output on the
 * wasm heap (no intermediate tensors).
 *
 * Semantics follow the cpu backend, so that the same code gives the same tensors on cpu and wasm:
 * output shape [numSegments, ...x.shape[segmentIds.rank:]], dtype float32 whatever x's dtype (as
 * on cpu; TensorFlow and webgl keep int32), segments without ids are zero, and ids outside
 * [0, numSegments) are ignored. Unlike the cpu kernel, segmentIds of rank > 1 work (as in
 * TensorFlow: their shape must be a prefix of x's shape).
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, wasmBackend, type TensorInfo } from './wasm.ts';

export function unsortedSegmentSum(args: { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown }): TensorInfo {
  const backend = wasmBackend(args.backend);
  const { x, segmentIds } = args.inputs;
  const numSegments = Number(args.attrs?.numSegments);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`unsortedSegmentSum: numSegments must be a non-negative integer, got ${args.attrs?.numSegments}`);
  }
  const idsRank = segmentIds.shape.length;
  if (idsRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`unsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  const innerShape = x.shape.slice(idsRank);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const numIds = segmentIds.shape.reduce((a, b) => a * b, 1);

  const out = backend.makeOutput([numSegments, ...innerShape], 'float32');
  // Views only after the allocation above (it may grow the heap and detach older views).
  const o = heapView(backend, out);
  const xs = heapView(backend, x);
  const ids = heapView(backend, segmentIds);
  o.fill(0);
  if (inner === 1) {
    for (let n = 0; n < numIds; n++) {
      const s = ids[n];
      if (s >= 0 && s < numSegments) o[s] += xs[n];
    }
  } else {
    for (let n = 0; n < numIds; n++) {
      const s = ids[n];
      if (!(s >= 0 && s < numSegments)) continue;
      const src = n * inner;
      const dst = s * inner;
      for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
    }
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
