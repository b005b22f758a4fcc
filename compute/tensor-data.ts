/**
 * JS passes over tensors' data without copying it, for the few computations that are one pass in JS
 * but dozens of kernel calls on the backend (the fused policy-gradient loss, agents/pg-loss.ts).
 *
 * On the wasm backend the pass reads its inputs and writes its outputs in place on the wasm heap:
 * no read-back copy of the inputs, no upload of the outputs, and no large typed arrays for the
 * garbage collector. On any other backend it reads copies (`dataSync`) and uploads its outputs,
 * with the same values (the pass is the same code on the same numbers).
 */
import * as tf from '@tensorflow/tfjs';
import { heapView, wasmBackend } from './kernels/wasm.ts';

/**
 * Runs `pass` over the float32 data of `inputs` and of new float32 tensors of `outputShapes`, and
 * returns those tensors (owned by the caller). `pass` must write every element of every output
 * (their memory starts uninitialised on wasm) and must not call tfjs: the wasm heap views it gets
 * are invalidated by any allocation on the heap. Inputs are read-only for it.
 *
 * Throws when an input is not float32 (or, on wasm, not on the wasm backend), and on wasm when the
 * pass grew the heap (its views were detached); what `pass` throws propagates, its outputs freed.
 */
export function passOverTensorData(
  inputs: readonly tf.Tensor[],
  outputShapes: readonly (readonly number[])[],
  pass: (inputs: Float32Array[], outputs: Float32Array[]) => void,
): tf.Tensor[] {
  for (const [k, t] of inputs.entries()) {
    if (t.dtype !== 'float32') throw new Error(`passOverTensorData: input ${k} is ${t.dtype}, not float32`);
  }
  if (tf.getBackend() === 'wasm') {
    const backend = wasmBackend(tf.backend());
    for (const [k, t] of inputs.entries()) {
      if (!backend.dataIdMap.has(t.dataId)) throw new Error(`passOverTensorData: input ${k} is not on the wasm backend`);
    }
    const outs = outputShapes.map((s) => backend.makeOutput([...s], 'float32'));
    // Views only after the allocations above (they may grow the heap and detach older views).
    const views = [...inputs.map((t) => heapView(backend, t) as Float32Array), ...outs.map((o) => heapView(backend, o) as Float32Array)];
    try {
      pass(views.slice(0, inputs.length), views.slice(inputs.length));
      // A pass that allocated on the heap (a tfjs call) may have grown it, which detaches every
      // view: its reads and writes after that were lost. Never silently.
      if (views.some((v) => v.buffer.byteLength === 0)) {
        throw new Error('passOverTensorData: the pass allocated on the wasm heap (called tfjs?), which moved the heap under its views; its results are lost');
      }
    } catch (e) {
      for (const o of outs) backend.disposeData(o.dataId, true);
      throw e;
    }
    return outs.map((o) => tf.engine().makeTensorFromTensorInfo(o));
  }
  const outs = outputShapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  pass(
    inputs.map((t) => t.dataSync() as Float32Array),
    outs,
  );
  return outs.map((o, k) => tf.tensor(o, [...outputShapes[k]], 'float32'));
}
