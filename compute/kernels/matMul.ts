/**
 * BatchMatMul and _FusedMatMul for the wasm backend, routing around their slow path. The wasm kernel hands XNNPACK
 * only plain 2-D products (no transpose flag, batch 1); everything else runs a naive loop that is
 * several times slower. Training hits that loop constantly: every `matMul(h, E, false, true)`
 * (scores against an item table) and every matMul gradient (dA = dy·Bᵀ, dB = Aᵀ·dy) sets a
 * transpose flag, and `[batch, len, d] x [d, k]` products have batch > 1.
 *
 * This wrapper (a) materialises transposes with the wasm Transpose kernel (a copy, cheap next to
 * the product), and (b) folds the batch of `a` into its rows when `b` has no batch (a reshape, free),
 * then calls the original kernel, which now takes its fast path. True batched products (both
 * operands batched, e.g. attention) still go to the original kernel, without transpose flags.
 * (c) returns zeros for an empty inner dimension, where the wasm kernel returns uninitialised memory.
 * _FusedMatMul (tf.fused.matMul, tf.layers.dense) has the same paths; its bias broadcasts over the
 * last axis either way, and batches are not folded when it has PReLU weights (which may broadcast
 * over the batch axes).
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMulDims, wasmBackend, type TensorInfo } from './wasm.ts';

type Args = { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown };

function kernelFuncOf(name: string): tf.KernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (k === undefined) throw new Error(`wasm kernel ${name} not registered`);
  return k.kernelFunc;
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

export function matMulConfigWrapping(kernelName: 'BatchMatMul' | '_FusedMatMul', original: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc = (args: Args): TensorInfo | TensorInfo[] => {
    const backend = wasmBackend(args.backend);
    let { a, b } = args.inputs;
    const transposeA = Boolean(args.attrs?.transposeA);
    const transposeB = Boolean(args.attrs?.transposeB);
    const batchOf = (t: TensorInfo) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    if (kernelName === 'BatchMatMul' && a.shape.length >= 2 && b.shape.length >= 2) {
      // An empty inner dimension: the wasm kernel returns uninitialised heap memory; the sums over
      // nothing are 0.
      const dims = batchMatMulDims(a, b, transposeA, transposeB);
      if (dims.k === 0) {
        const out = backend.makeOutput(dims.outShape, 'float32');
        (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
        return out;
      }
    }
    const canFold = args.inputs.preluActivationWeights == null;
    const foldBatch = canFold && batchOf(a) > 1 && batchOf(b) === 1 && a.shape.length >= 3;
    if (!transposeA && !transposeB && !foldBatch) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
      return original(args as unknown as Parameters<tf.KernelFunc>[0]); // let the original report it
    }

    const temps: TensorInfo[] = [];
    const call = (name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo => {
      const out = kernelFuncOf(name)({ inputs, attrs, backend } as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
      temps.push(out);
      return out;
    };
    try {
      if (transposeA) a = call('Transpose', { x: a }, { perm: swapLastTwo(a.shape.length) });
      if (transposeB) b = call('Transpose', { x: b }, { perm: swapLastTwo(b.shape.length) });
      const m = a.shape[a.shape.length - 2];
      const n = b.shape[b.shape.length - 1];
      if (foldBatch) {
        // [..., m, k] x [k, n]: one [1, batch*m, k] x [1, k, n] product (rank 3: the wasm
        // _FusedMatMul kernel reads its operands as rank 3).
        const outShape = [...a.shape.slice(0, -2), m, n];
        const a2 = call('Reshape', { x: a }, { shape: [1, batchOf(a) * m, a.shape[a.shape.length - 1]] });
        const b2 = call('Reshape', { x: b }, { shape: [1, ...b.shape.slice(-2)] });
        const out = original({
          inputs: { ...args.inputs, a: a2, b: b2 },
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
          backend,
        } as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
        return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
      }
      return original({
        inputs: { ...args.inputs, a, b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
        backend,
      } as unknown as Parameters<tf.KernelFunc>[0]);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
