/**
 * GatherV2 for the wasm backend, fixing `batchDims > 0` and the speed of every gather. The wasm
 * kernel returns wrong rows when batchDims > 0 and each gathered slice has more than one element,
 * e.g. x [2,3,2], indices [2,3], axis 1, batchDims 1 (per-row lookups in a [batch, length, dim]
 * tensor): the second batch reads other positions than it was given. And it copies element by
 * element with stride arithmetic: gathering 256 rows of 1,280 floats took 25-31 ms, 2,560
 * embedding rows of 64 floats 15 ms (every embedding lookup of a training step pays this). This
 * kernel computes every numeric gather in JS on the heap, one block copy (`TypedArray.set`) per
 * slice: 3 ms and 1.9 ms on those shapes (same run, read-back included, 2 loaded cores). Strings
 * and complex values go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, wasmBackend, type TensorInfo } from './wasm.ts';

type Args = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown };

export function gatherV2ConfigWrapping(original: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc = (args: Args): TensorInfo | TensorInfo[] => {
    const batchDims = Number(args.attrs?.batchDims ?? 0);
    const { x, indices } = args.inputs;
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const backend = wasmBackend(args.backend);
    const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.TensorInfo as tf.Tensor, indices as tf.TensorInfo as tf.Tensor, axis, batchDims);
    const { batchSize, outerSize, dimSize, sliceSize } = info;
    const numIndices = indices.shape.reduce((a, b) => a * b, 1);
    const perBatch = batchSize > 0 ? numIndices / batchSize : 0;
    {
      const idx = heapView(backend, indices);
      for (let i = 0; i < numIndices; i++) {
        if (!(idx[i] >= 0 && idx[i] <= dimSize - 1)) {
          throw new Error(`GatherV2: the index value ${idx[i]} is not in [0, ${dimSize - 1}]`);
        }
      }
    }
    const out = backend.makeOutput(info.outputShape, x.dtype);
    const o = heapView(backend, out);
    const xs = heapView(backend, x);
    const idx = heapView(backend, indices);
    for (let b = 0; b < batchSize; b++) {
      for (let u = 0; u < outerSize; u++) {
        const srcBase = (b * outerSize + u) * dimSize;
        const dstBase = (b * outerSize + u) * perBatch;
        if (sliceSize === 1) {
          for (let i = 0; i < perBatch; i++) o[dstBase + i] = xs[srcBase + idx[b * perBatch + i]];
          continue;
        }
        for (let i = 0; i < perBatch; i++) {
          const src = (srcBase + idx[b * perBatch + i]) * sliceSize;
          o.set(xs.subarray(src, src + sliceSize), (dstBase + i) * sliceSize);
        }
      }
    }
    return out;
  };
  return { kernelName: 'GatherV2', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
