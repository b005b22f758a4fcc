/**
 * Sum for the wasm backend: a fix for empty inputs always, and sums over leading axes on the native
 * addon with PRORL_BLAS=native.
 *
 * The wasm kernel leaves its output uninitialised when the input is empty (a sum over a zero-length
 * axis returns stale heap values, not zeros); `sumConfigWrapping` returns zeros there and hands
 * every other sum to it.
 *
 * The gradient of a bias added to every row (the policy's logits + item biases) is the column sums
 * of the [rows × items] gradient: on wasm a transpose of the whole matrix, then row sums (~4.7 ms
 * for [640 × 3,044]). Summing rows into the output in row order gives every column the same
 * sequence of float32 additions as the wasm kernel, so the same bits (test/native-blas.test.ts),
 * and the addon does it vectorised across columns (compute/native/blas.c colSums). Every other sum
 * (other axes, other dtypes) goes to the original wasm kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from './native-matmul.ts';
import { heapView, wasmBackend, type TensorInfo } from './wasm.ts';

type Args = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown };

/** A Sum config for wasm that returns zeros for empty inputs and delegates the rest to `original`. */
export function sumConfigWrapping(original: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc = (args: Args): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs;
    if (x.shape.every((d) => d > 0)) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = wasmBackend(args.backend);
    const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const out = backend.makeOutput(args.attrs?.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape, x.dtype);
    heapView(backend, out).fill(0);
    return out;
  };
  return { kernelName: 'Sum', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/**
 * k when `axis` is the leading axes [0, 1, ..., k−1] of a rank-`rank` tensor in that order (negative
 * indices allowed), k < rank; else 0. The wasm kernel sums over its axes in the order given, so
 * only this order is row order.
 */
export function leadingAxes(axis: unknown, rank: number): number {
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => (typeof a === 'number' && a < 0 ? a + rank : a));
  const k = list.length;
  if (k === 0 || k >= rank) return 0;
  return list.every((a, i) => a === i) ? k : 0;
}

/** A Sum config for wasm: float32 sums over leading axes on `blas.colSums`, the rest on `original`. */
export function nativeSumConfigWrapping(original: tf.KernelFunc, blas: NativeBlas): tf.KernelConfig {
  const kernelFunc = (args: Args): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs;
    const k = leadingAxes(args.attrs?.axis, x.shape.length);
    if (x.dtype !== 'float32' || k === 0) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = wasmBackend(args.backend);
    const R = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(k);
    const C = inner.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput(args.attrs?.keepDims ? [...new Array<number>(k).fill(1), ...inner] : inner, 'float32');
    if (C === 0) return out;
    // Views after the allocation (it may grow the heap and detach older views).
    blas.colSums(heapView(backend, x) as Float32Array, R, C, heapView(backend, out) as Float32Array);
    return out;
  };
  return { kernelName: 'Sum', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
