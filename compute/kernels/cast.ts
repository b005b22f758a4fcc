/**
 * Cast for the wasm backend, fixing casts to bool. The wasm kernel copies values element by element
 * into the output's typed array, so int32 2 cast to bool stays 2, -1 becomes 255 and float 0.5
 * becomes 0; the cpu backend (and TensorFlow) give `x != 0`. This kernel computes casts to bool
 * itself and hands every other cast to the original wasm kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, wasmBackend, type TensorInfo } from './wasm.ts';

type Args = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown };

/** A Cast config for wasm that handles `dtype: 'bool'` and delegates the rest to `original`. */
export function castConfigWrapping(original: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc = (args: Args): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs;
    const dtype = args.attrs?.dtype;
    if (dtype !== 'bool' || x.dtype === 'bool' || x.dtype === 'string' || x.dtype === 'complex64') {
      return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const backend = wasmBackend(args.backend);
    const out = backend.makeOutput(x.shape, 'bool');
    const o = heapView(backend, out);
    const xs = heapView(backend, x);
    for (let i = 0; i < o.length; i++) o[i] = xs[i] !== 0 ? 1 : 0;
    return out;
  };
  return { kernelName: 'Cast', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
