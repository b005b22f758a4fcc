/**
 * The compute backend: initBackend's choice rules, and the wasm fallback kernels checked against
 * the cpu backend (forward and gradient), for leaks, and by the full training-op probe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ENV_VAR, activateBackend, backendInfo, initBackend, parseBackendName, resetBackendForTesting, type BackendInfo } from '../compute/backend.ts';
import { registerWasmFallbackKernels } from '../compute/kernels/index.ts';
import { probeKernels } from './support/kernel-probe.ts';
import { passOverTensorData } from '../compute/tensor-data.ts';
import { Rng } from '../core/rng.ts';

// ------------------------------------------------------------------------------------------------
// Helpers

/** Is tfjs-node installed and loadable here? (It is absent where libtensorflow cannot be downloaded.) */
async function tfjsNodeLoads(): Promise<boolean> {
  const spec = '@tensorflow/tfjs-node';
  try {
    await import(spec);
    return true;
  } catch {
    return false;
  }
}

/** Runs `f` with the environment variable set (or deleted when `value` is undefined), then restores it. */
async function withEnv<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
  const saved = process.env[BACKEND_ENV_VAR];
  if (value === undefined) delete process.env[BACKEND_ENV_VAR];
  else process.env[BACKEND_ENV_VAR] = value;
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env[BACKEND_ENV_VAR];
    else process.env[BACKEND_ENV_VAR] = saved;
  }
}

/** A fresh choice with PRORL_BACKEND unset and the log captured. */
async function freshInit(opts: { backend?: string; quiet?: boolean } = {}): Promise<{ info: BackendInfo; lines: string[] }> {
  resetBackendForTesting();
  const lines: string[] = [];
  const info = await withEnv(undefined, () => initBackend({ ...opts, log: (l) => lines.push(l) }));
  return { info, lines };
}

interface Snapshot {
  shape: number[];
  dtype: string;
  values: number[];
}

/** Runs `f` on `backend` inside tidy and reads its outputs (outside tidy), disposing them. */
async function runOn(backend: string, f: () => Record<string, tf.Tensor>): Promise<Record<string, Snapshot>> {
  assert.ok(await tf.setBackend(backend), `backend ${backend}`);
  const outs = tf.tidy(f);
  const snap: Record<string, Snapshot> = {};
  for (const [k, t] of Object.entries(outs)) {
    snap[k] = { shape: t.shape.slice(), dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) };
  }
  tf.dispose(Object.values(outs));
  return snap;
}

/** `f` gives the same outputs (shape, dtype, values within tol) on wasm as on cpu. */
async function sameOnWasmAsCpu(f: () => Record<string, tf.Tensor>, tol = 1e-5): Promise<void> {
  const ref = await runOn('cpu', f);
  const got = await runOn('wasm', f);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(ref).sort());
  for (const k of Object.keys(ref)) {
    assert.deepEqual(got[k].shape, ref[k].shape, `${k}: shape`);
    assert.equal(got[k].dtype, ref[k].dtype, `${k}: dtype`);
    ref[k].values.forEach((r, i) => {
      const g = got[k].values[i];
      assert.ok(Math.abs(g - r) <= tol * (1 + Math.abs(r)), `${k}[${i}]: wasm ${g} vs cpu ${r}`);
    });
  }
}

/** Runs `f` on wasm and checks that it leaves neither tensors nor wasm heap buffers behind. */
async function noLeakOnWasm(f: () => Record<string, tf.Tensor>): Promise<void> {
  assert.ok(await tf.setBackend('wasm'));
  const tensors = tf.memory().numTensors;
  const dataIds = tf.engine().backend.numDataIds();
  for (let i = 0; i < 3; i++) {
    const outs = tf.tidy(f);
    for (const t of Object.values(outs)) t.dataSync();
    tf.dispose(Object.values(outs));
  }
  assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
  assert.equal(tf.engine().backend.numDataIds(), dataIds, 'wasm buffers leaked');
}

const rng = Rng.stream(20260601, 'backend-test');
const normals = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
const ints = (n: number, hi: number): Int32Array => Int32Array.from({ length: n }, () => rng.int(hi));

async function ensureWasm(): Promise<void> {
  const a = await activateBackend('wasm');
  assert.ok(a.ok, 'the wasm backend initialises');
}

// ------------------------------------------------------------------------------------------------
// initBackend: choice rules

test('parseBackendName: names, the node alias, case; unknown names list the accepted ones', () => {
  assert.equal(parseBackendName('wasm'), 'wasm');
  assert.equal(parseBackendName(' CPU '), 'cpu');
  assert.equal(parseBackendName('node'), 'tensorflow');
  assert.equal(parseBackendName('tensorflow'), 'tensorflow');
  assert.throws(
    () => parseBackendName('webgl'),
    (e: Error) => {
      assert.match(e.message, /unknown backend 'webgl'/);
      for (const n of ['tensorflow', 'wasm', 'cpu', 'node']) assert.ok(e.message.includes(`'${n}'`), n);
      return true;
    },
  );
});

test('initBackend: explicit cpu works, logs one line, is idempotent, refuses a later different choice', async () => {
  const { info, lines } = await freshInit({ backend: 'cpu' });
  assert.equal(info.name, 'cpu');
  assert.equal(info.requested, 'cpu');
  assert.equal(info.tfjsVersion, tf.version.tfjs);
  assert.equal(tf.getBackend(), 'cpu');
  assert.deepEqual(lines.length, 1);
  assert.match(lines[0], /^backend: cpu \(.+\)$/);
  assert.equal(backendInfo(), info);

  const again: string[] = [];
  assert.equal(await initBackend({ log: (l) => again.push(l) }), info, 'same info, no new choice');
  assert.equal(await initBackend({ backend: 'CPU', log: (l) => again.push(l) }), info);
  assert.deepEqual(again, [], 'no second line');
  await assert.rejects(initBackend({ backend: 'wasm' }), /backend 'wasm' requested by .*already initialised as 'cpu'/);
  assert.equal(backendInfo(), info);
});

test('initBackend: unknown names are errors listing the accepted names, from the option or the environment', async () => {
  resetBackendForTesting();
  await assert.rejects(
    withEnv(undefined, () => initBackend({ backend: 'gpu', quiet: true })),
    /unknown backend 'gpu'.*'tensorflow', 'wasm', 'cpu'.*'node'/,
  );
  await assert.rejects(
    withEnv('bogus', () => initBackend({ quiet: true })),
    /unknown backend 'bogus' from PRORL_BACKEND=bogus; accepted names/,
  );
  assert.throws(() => backendInfo(), /not initialised/);
});

test('initBackend: explicit tensorflow (or node) is honoured or is an error that names it and why', async () => {
  const available = await tfjsNodeLoads();
  for (const requested of ['tensorflow', 'node']) {
    resetBackendForTesting();
    const run = withEnv(undefined, () => initBackend({ backend: requested, quiet: true }));
    if (available) {
      const info = await run;
      assert.equal(info.name, 'tensorflow');
      assert.equal(info.requested, requested);
    } else {
      await assert.rejects(run, (e: Error) => {
        assert.match(e.message, /backend 'tensorflow' requested by option backend='(tensorflow|node)' is not available/);
        assert.match(e.message, /@tensorflow\/tfjs-node/);
        return true;
      });
      assert.throws(() => backendInfo(), /not initialised/, 'a failed choice leaves nothing chosen');
    }
  }
  resetBackendForTesting();
  if (!available) {
    await assert.rejects(
      withEnv('node', () => initBackend({ quiet: true })),
      /requested by PRORL_BACKEND=node/,
    );
  }
});

test('initBackend: the environment variable chooses, the option overrides it, quiet prints nothing', async () => {
  resetBackendForTesting();
  const lines: string[] = [];
  const handlers = () => process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length;
  const handlersBefore = handlers();
  const info = await withEnv('WASM', () => initBackend({ log: (l) => lines.push(l) }));
  assert.ok(handlers() <= handlersBefore, 'the wasm glue leaves no process-wide error handlers behind');
  assert.equal(info.name, 'wasm');
  assert.equal(info.requested, 'WASM');
  assert.match(info.reason, /PRORL_BACKEND=WASM/);
  assert.match(info.reason, /UnsortedSegmentSum/, 'the reason lists the fallback kernels');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(lines, [`backend: wasm (${info.reason})`]);

  resetBackendForTesting();
  const quietLines: string[] = [];
  const cpu = await withEnv('bogus', () => initBackend({ backend: 'cpu', quiet: true, log: (l) => quietLines.push(l) }));
  assert.equal(cpu.name, 'cpu');
  assert.deepEqual(quietLines, []);
});

test('initBackend: the automatic choice is tfjs-node when it loads, else wasm, and says why', async () => {
  const { info } = await freshInit({ quiet: true });
  assert.equal(info.requested, null);
  if (await tfjsNodeLoads()) {
    assert.equal(info.name, 'tensorflow');
  } else {
    assert.equal(info.name, 'wasm');
    assert.match(info.reason, /^automatic: tensorflow unavailable \(.*tfjs-node.*\)/);
  }
});

test('initBackend: concurrent calls share one choice', async () => {
  resetBackendForTesting();
  const [a, b] = await withEnv(undefined, () => Promise.all([initBackend({ backend: 'wasm', quiet: true }), initBackend({ quiet: true })]));
  assert.equal(a, b);
  assert.equal(a.name, 'wasm');
});

// ------------------------------------------------------------------------------------------------
// Fallback kernels against cpu

test('UnsortedSegmentSum on wasm: forward and the gather gradient match cpu', async () => {
  await ensureWasm();
  const x = normals(10 * 3);
  const ids = Int32Array.from([0, 4, 4, 1, 0, 4, 1, 0, 3, 1]); // segment 2 empty
  const w = normals(5 * 3);
  const emb = normals(6 * 3);
  const lookups = ints(12, 6);
  const wl = normals(12 * 3);
  await sameOnWasmAsCpu(() => {
    const xt = tf.tensor2d(x, [10, 3]);
    const idt = tf.tensor1d(ids, 'int32');
    const seg = (v: tf.Tensor) => tf.unsortedSegmentSum(v, idt, 5);
    const dSeg = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(seg(v), tf.tensor2d(w, [5, 3]))))(xt);
    const gather = (e: tf.Tensor) => tf.gather(e, tf.tensor2d(lookups, [4, 3], 'int32'));
    const dGather = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(gather(e), tf.tensor3d(wl, [4, 3, 3]))))(tf.tensor2d(emb, [6, 3]));
    return {
      seg: seg(xt),
      dSeg,
      dGather,
      oneD: tf.unsortedSegmentSum(tf.tensor1d(x.subarray(0, 10)), idt, 7),
      int: tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0, 2], 'int32'), 3),
      bool: tf.unsortedSegmentSum(tf.tensor1d([1, 0, 1, 1], 'bool'), tf.tensor1d([0, 1, 0, 0], 'int32'), 2),
      none: tf.unsortedSegmentSum(tf.zeros([0, 3]), tf.zeros([0], 'int32'), 4),
      outOfRange: tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([-1, 1, 2, 1], 'int32'), 2),
    };
  });
});

test('UnsortedSegmentSum on wasm: rank-2 segment ids equal the flattened ids', async () => {
  await ensureWasm();
  const x = normals(2 * 3 * 4);
  const ids = Int32Array.from([0, 2, 2, 1, 0, 0]);
  // The op's type says 1-D ids; TensorFlow (and this kernel) accept any prefix of x's shape.
  const got = await runOn('wasm', () => ({
    a: tf.unsortedSegmentSum(tf.tensor3d(x, [2, 3, 4]), tf.tensor2d(ids, [2, 3], 'int32') as unknown as tf.Tensor1D, 3),
    b: tf.unsortedSegmentSum(tf.tensor2d(x, [6, 4]), tf.tensor1d(ids, 'int32'), 3),
  }));
  assert.deepEqual(got.a, got.b);
  await assert.rejects(
    runOn('wasm', () => ({ bad: tf.unsortedSegmentSum(tf.zeros([3, 2]), tf.zeros([2], 'int32'), 2) })),
    /must be a prefix/,
  );
});

test('Cast to bool on wasm is x != 0 (as on cpu), other casts unchanged, and masks train', async () => {
  await ensureWasm();
  const x = normals(12);
  const w = normals(12);
  const mask = Int32Array.from({ length: 12 }, (_, i) => [0, 2, -1, 256][i % 4]);
  await sameOnWasmAsCpu(() => {
    const m = tf.cast(tf.cast(tf.tensor1d(mask, 'int32'), 'bool'), 'float32');
    const loss = (v: tf.Tensor) => tf.sum(tf.mul(tf.mul(v, m), tf.tensor1d(w)));
    return {
      i2b: tf.cast(tf.tensor1d([2, 0, -1, 256, 1], 'int32'), 'bool'),
      f2b: tf.cast(tf.tensor1d([0.5, 0, -0, -2, 256, NaN, 1e-30]), 'bool'),
      b2b: tf.cast(tf.tensor1d([true, false], 'bool'), 'bool'),
      f2i: tf.cast(tf.tensor1d([-1.7, 2.5, 0.2, 3e9]), 'int32'),
      i2f: tf.cast(tf.tensor1d([7, -3], 'int32'), 'float32'),
      b2f: tf.cast(tf.tensor1d([true, false], 'bool'), 'float32'),
      loss: loss(tf.tensor1d(x)),
      grad: tf.grad(loss)(tf.tensor1d(x)),
    };
  });
});

test('GatherV2 without batchDims (embedding rows, cached keys, scalars, int32, bool) on wasm matches cpu, forward and gradient', async () => {
  await ensureWasm();
  const table = normals(7 * 5);
  const x3 = normals(4 * 3 * 6);
  const w = normals(9 * 5);
  const rows = [6, 0, 3, 3, 1, 6, 2, 5, 0];
  await sameOnWasmAsCpu(() => {
    const g = (v: tf.Tensor) => tf.gather(v, tf.tensor1d(rows, 'int32'));
    return {
      rows: g(tf.tensor2d(table, [7, 5])),
      grad: tf.grad((v: tf.Tensor) => tf.sum(tf.mul(g(v), tf.tensor2d(w, [9, 5]))))(tf.tensor2d(table, [7, 5])),
      rows3: tf.gather(tf.tensor3d(x3, [4, 3, 6]), tf.tensor1d([3, 1, 1], 'int32')),
      axis2: tf.gather(tf.tensor3d(x3, [4, 3, 6]), tf.tensor2d([5, 0, 2, 2], [2, 2], 'int32'), 2),
      scalars: tf.gather(tf.tensor1d(table), tf.tensor1d([34, 0, 17, 17], 'int32')),
      int: tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 0], 'int32')),
      bool: tf.cast(tf.gather(tf.tensor1d([true, false, true], 'bool'), tf.tensor1d([1, 2, 1], 'int32')), 'int32'),
      empty: tf.gather(tf.tensor2d(table, [7, 5]), tf.tensor1d([], 'int32')),
    };
  });
  await assert.rejects(
    runOn('wasm', () => ({ y: tf.gather(tf.zeros([3, 2]), tf.tensor1d([0, 3], 'int32')) })),
    /index value 3 is not in \[0, 2\]/,
  );
});

test('GatherV2 with batchDims on wasm matches cpu, forward and gradient', async () => {
  await ensureWasm();
  const x3 = normals(2 * 3 * 2);
  const x4 = normals(2 * 3 * 4 * 2);
  const w = normals(2 * 3 * 2);
  await sameOnWasmAsCpu(() => {
    const idx = tf.tensor2d([0, 2, 2, 1, 1, 0], [2, 3], 'int32');
    const g = (v: tf.Tensor) => tf.gather(v, idx, 1, 1);
    return {
      y: g(tf.tensor3d(x3, [2, 3, 2])),
      dy: tf.grad((v: tf.Tensor) => tf.sum(tf.mul(g(v), tf.tensor3d(w, [2, 3, 2]))))(tf.tensor3d(x3, [2, 3, 2])),
      axis2: tf.gather(tf.tensor4d(x4, [2, 3, 4, 2]), tf.tensor2d([3, 0, 1, 1, 2, 2], [2, 3], 'int32'), 2, 1),
      batch2: tf.gather(tf.tensor4d(x4, [2, 3, 4, 2]), tf.tensor3d([3, 0, 1, 1, 2, 2, 0, 0, 1, 3, 3, 3], [2, 3, 2], 'int32'), 2, 2),
      int: tf.gather(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32'), tf.tensor2d([1, 1, 0, 1], [2, 2], 'int32'), 1, 1),
      plain: tf.gather(tf.tensor3d(x3, [2, 3, 2]), tf.tensor1d([2, 0], 'int32'), 1),
    };
  });
  await assert.rejects(
    runOn('wasm', () => ({ y: tf.gather(tf.zeros([2, 3, 2]), tf.tensor2d([0, 3, 0, 0], [2, 2], 'int32'), 1, 1) })),
    /index value 3 is not in \[0, 2\]/,
  );
});

test('BatchMatMul and _FusedMatMul on wasm (transposes and folded batches rewritten) match cpu, forward and gradient', async () => {
  await ensureWasm();
  const A = normals(2 * 2 * 3 * 4);
  const B = normals(2 * 4 * 5);
  const H = normals(6 * 4);
  const E = normals(9 * 4);
  const W = normals(6 * 9);
  await sameOnWasmAsCpu(() => {
    const a2 = tf.tensor2d(A.subarray(0, 12), [3, 4]);
    const b2 = tf.tensor2d(B.subarray(0, 20), [4, 5]);
    const out: Record<string, tf.Tensor> = {};
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const x = ta ? tf.transpose(a2) : a2;
      const y = tb ? tf.transpose(b2) : b2;
      out[`2d_${ta}_${tb}`] = tf.matMul(x, y, ta, tb);
      const a3 = tf.tensor3d(A.subarray(0, 24), ta ? [2, 4, 3] : [2, 3, 4]);
      const b3 = tf.tensor3d(B, tb ? [2, 5, 4] : [2, 4, 5]);
      out[`3d_${ta}_${tb}`] = tf.matMul(a3, b3, ta, tb);
      out[`3dx2d_${ta}_${tb}`] = tf.matMul(a3, y, ta, tb);
    }
    out.a4d = tf.matMul(tf.tensor4d(A, [2, 2, 3, 4]), b2);
    out.lead1 = tf.matMul(tf.tensor3d(A.subarray(0, 12), [1, 3, 4]), b2, false, false);
    out.bBatched = tf.matMul(a2, tf.tensor3d(B, [2, 4, 5]));
    out.bLead1 = tf.matMul(tf.tensor3d(A.subarray(0, 24), [2, 3, 4]), tf.tensor3d(B.subarray(0, 20), [1, 5, 4]), false, true);
    // An empty inner dimension sums nothing: zeros (the bare wasm kernel returns stale heap values).
    const stale = () => tf.dispose(tf.fill([64], 7)); // leaves 7s in freed heap memory
    stale();
    out.emptyK = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
    stale();
    out.emptyKT = tf.matMul(tf.zeros([0, 5]), tf.zeros([0, 4]), true, false);
    stale();
    out.emptyK3 = tf.matMul(tf.zeros([2, 3, 0]), tf.zeros([2, 0, 4]));
    // Item scoring h·Eᵀ and its gradients (which set transpose flags).
    const scores = (h: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(tf.matMul(h, e, false, true), tf.tensor2d(W, [6, 9])));
    const [dh, de] = tf.grads(scores)([tf.tensor2d(H, [6, 4]), tf.tensor2d(E, [9, 4])]);
    out.dh = dh;
    out.de = de;
    // _FusedMatMul: flags, folded batches, PReLU weights broadcast over the batch (not folded), gradient.
    const bias = tf.tensor1d(B.subarray(0, 5));
    out.fusedT = tf.fused.matMul({ a: a2, b: tf.transpose(b2), transposeB: true, bias, activation: 'relu' });
    out.fusedTA = tf.fused.matMul({ a: tf.transpose(a2), b: b2, transposeA: true, bias, activation: 'elu' });
    out.fused3d = tf.fused.matMul({ a: tf.tensor3d(A.subarray(0, 24), [2, 3, 4]), b: b2, bias, activation: 'relu' });
    out.fusedPrelu = tf.fused.matMul({
      a: tf.tensor3d(A.subarray(0, 24), [2, 3, 4]),
      b: b2,
      activation: 'prelu',
      preluActivationWeights: tf.tensor2d(B.subarray(10, 25), [3, 5]),
    });
    const fusedLoss = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, transposeB: true, bias, activation: 'relu' })));
    // 2-D a: tfjs's matMul gradient does not reduce broadcast batch dims (3-D a x 2-D b), on any backend.
    const [dfa, dfb] = tf.grads(fusedLoss)([tf.tensor2d(A.subarray(0, 24), [6, 4]), tf.tensor2d(B.subarray(0, 20), [5, 4])]);
    out.dfa = dfa;
    out.dfb = dfb;
    return out;
  }, 1e-5);
});

test('fallback kernels leak neither tensors nor wasm buffers', async () => {
  await ensureWasm();
  const emb = normals(50 * 8);
  const ids = ints(200, 50);
  const x = normals(2 * 3 * 2);
  await noLeakOnWasm(() => {
    const e = tf.tensor2d(emb, [50, 8]);
    const idt = tf.tensor1d(ids, 'int32');
    return {
      seg: tf.unsortedSegmentSum(tf.gather(e, idt), idt, 50),
      grad: tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.gather(v, idt))))(e),
      cast: tf.cast(idt, 'bool'),
      matmulT: tf.matMul(e, e, true, false),
      matmulFold: tf.matMul(tf.reshape(e, [5, 10, 8]), tf.transpose(e), false, false),
      matmulFoldT: tf.matMul(tf.reshape(e, [5, 10, 8]), e, false, true),
      batched: tf.grad((v: tf.Tensor) => tf.sum(tf.gather(v, tf.tensor2d([0, 2, 1, 1], [2, 2], 'int32'), 1, 1)))(tf.tensor3d(x, [2, 3, 2])),
    };
  });
  // Variables and an optimizer: one Adam step on an embedding table.
  const before = tf.memory().numTensors;
  const table = tf.tidy(() => tf.variable(tf.tensor2d(emb, [50, 8])));
  const opt = tf.train.adam(0.01);
  for (let step = 0; step < 2; step++) {
    opt.minimize(() => tf.sum(tf.square(tf.gather(table, tf.tensor1d(ids, 'int32')))) as tf.Scalar);
  }
  opt.dispose();
  table.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('passOverTensorData: the pass sees the inputs and fills the outputs, in place on wasm and on copies on cpu; same results, no leaks', async () => {
  await ensureWasm();
  const a = normals(6 * 5);
  const b = normals(6 * 5);
  // out0 = a·b element-wise, out1[r] = Σ_c a[r, c] (one value per row).
  const f = () => {
    const x = tf.tensor2d(a, [6, 5]);
    const y = tf.tensor2d(b, [6, 5]);
    const [prod, rows] = passOverTensorData([x, y], [[6, 5], [6]], ([xs, ys], [o, r]) => {
      for (let i = 0; i < 30; i++) o[i] = xs[i] * ys[i];
      for (let i = 0; i < 6; i++) {
        let sum = 0;
        for (let c = 0; c < 5; c++) sum += xs[i * 5 + c];
        r[i] = sum;
      }
    });
    // The outputs are ordinary tensors: later ops and gradients use them.
    return { prod, rows, later: tf.add(prod, x), xAfter: x };
  };
  const cpu = await runOn('cpu', f);
  const wasm = await runOn('wasm', f);
  for (const k of ['prod', 'rows', 'later', 'xAfter']) assert.deepEqual(wasm[k], cpu[k], k);
  assert.deepEqual(
    wasm.prod.values,
    Array.from(a, (v, i) => Math.fround(v * b[i])),
  );
  assert.deepEqual(wasm.xAfter.values, Array.from(a), 'inputs are not modified');
  await noLeakOnWasm(f);
  await ensureWasm();
  assert.throws(() => tf.tidy(() => passOverTensorData([tf.tensor1d([1, 2], 'int32')], [[2]], () => undefined)), /input 0 is int32, not float32/);
  const ids = tf.engine().backend.numDataIds();
  assert.throws(
    () =>
      passOverTensorData([], [[1000]], () => {
        throw new Error('bad row');
      }),
    /bad row/,
  );
  assert.equal(tf.engine().backend.numDataIds(), ids, 'a failing pass frees its outputs');
  // A pass that calls tfjs and grows the heap lost its views: an error, not wrong numbers.
  const heapBytes = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  const x = tf.ones([4]);
  assert.throws(
    () =>
      passOverTensorData([x], [[4]], ([xs], [o]) => {
        tf.zeros([Math.ceil(heapBytes / 4) + 1]).dispose();
        for (let i = 0; i < 4; i++) o[i] = xs[i];
      }),
    /moved the heap under its views/,
  );
  x.dispose();
  assert.equal(tf.engine().backend.numDataIds(), ids);
});

test('Sum of an empty tensor on wasm is zeros (the wasm kernel leaves its output uninitialised)', async () => {
  await ensureWasm();
  const filler = tf.fill([64], 3.5); // stale values on the heap for an uninitialised output to show
  filler.dispose();
  for (const [shape, axis, keepDims, want] of [
    [[0, 6], 0, false, [6]],
    [[0, 6], [0], true, [1, 6]],
    [[2, 0, 3], 1, false, [2, 3]],
  ] as [number[], number | number[], boolean, number[]][]) {
    const y = tf.sum(tf.zeros(shape), axis, keepDims);
    assert.deepEqual(y.shape, want);
    assert.deepEqual(Array.from(y.dataSync()), new Array(want.reduce((a, b) => a * b, 1)).fill(0), `sum of [${shape}] over ${axis}`);
    y.dispose();
  }
});

test('registerWasmFallbackKernels is idempotent', async () => {
  await ensureWasm();
  const a = registerWasmFallbackKernels();
  const castKernel = tf.getKernel('Cast', 'wasm');
  const b = registerWasmFallbackKernels();
  assert.deepEqual(a, b);
  assert.deepEqual([...a].sort(), ['BatchMatMul', 'Cast', 'GatherV2', 'Sum', 'UnsortedSegmentSum', '_FusedMatMul']);
  assert.equal(tf.getKernel('Cast', 'wasm'), castKernel, 'not wrapped twice');
});

// ------------------------------------------------------------------------------------------------
// The systematic probe: every op training uses, forward and backward, wasm vs cpu

test('probe: with the fallbacks, every training op runs on wasm and matches cpu', async () => {
  await ensureWasm();
  const report = await probeKernels('wasm', 'cpu');
  const bad = report.outcomes.filter((o) => o.status !== 'ok' && o.status !== 'tfjs-limitation');
  assert.deepEqual(bad, [], JSON.stringify(bad, null, 1));
  assert.deepEqual(report.missingKernels, []);
  for (const k of ['GatherV2', 'UnsortedSegmentSum', 'BatchMatMul', 'Softmax', 'Cumsum', 'Cast']) {
    assert.ok(report.kernelsUsed.includes(k), `the probe exercises ${k}`);
  }
  assert.equal(tf.getBackend(), 'wasm', 'the probe restores the backend');
});
