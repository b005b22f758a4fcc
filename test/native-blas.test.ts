/**
 * The native kernels addon (compute/kernels/native-matmul.ts): the choice's parsing and errors
 * always; with the addon built (at install time, or `npm run build:native`), its exact products
 * against the wasm kernels bit for bit (every kind of product, values and gradients), its other
 * passes against the JS or wasm bits, and the addon's own argument checks; with OpenBLAS in it
 * too, every BatchMatMul shape training uses against the wasm kernel (forward and gradient, float32
 * round-off), bit-identical repeats wherever the operands lie on the heap, and no leaks. Skips
 * with a message where the addon (or its OpenBLAS part) is not built.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../agents/nn.ts';
import { initBackend, resetBackendForTesting } from '../compute/backend.ts';
import { UsageError } from '../core/errors.ts';
import { activeNativeBlas, registerNativeBlasKernels, unregisterNativeBlasKernels } from '../compute/kernels/index.ts';
import { policyGradientLoss, type PgLossLog } from '../agents/pg-loss.ts';
import { Rng } from '../core/rng.ts';
import { generateSyntheticWorld } from '../data/synthetic.ts';
import { SyntheticExactSimulator } from '../simulators/synthetic-exact.ts';
import {
  blasChoice,
  expMatchesV8,
  loadNativeBlas,
  loadNativeBlasIfBuilt,
  NATIVE_BLAS_PATH,
  nativeSourceHash,
  type NativeBlas,
} from '../compute/kernels/native-matmul.ts';
import { leadingAxes } from '../compute/kernels/sum.ts';
import { rlTestFolder, trainProrl } from './support/rl-fixture.ts';

const built = existsSync(NATIVE_BLAS_PATH);
/** The tests of the exact kernels and the passes: the addon built. */
const skipExact = built ? false : `the native kernels addon is not built (${NATIVE_BLAS_PATH}): run \`npm run build:native\` (needs a C compiler)`;
const withOpenBlas = built && typeof (loadNativeBlasIfBuilt().blas as Partial<NativeBlas> | null)?.gemm === 'function';
/** The tests of OpenBLAS's products (PRORL_BLAS=native): the addon built with OpenBLAS. */
const skip = withOpenBlas
  ? false
  : built
    ? 'the native kernels addon was built without OpenBLAS: install libopenblas-dev and run `npm run build:native`'
    : skipExact;

/** Puts back the kernels this process chose (PRORL_BLAS) after a test swapped them. */
function restoreChosenKernels(): void {
  unregisterNativeBlasKernels();
  const choice = blasChoice();
  if (choice === 'native') registerNativeBlasKernels(loadNativeBlas('native'), 'native');
  else if (choice === 'exact' || (choice === 'auto' && built)) registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
}

before(async () => {
  await ensureBackend();
});

const folder = rlTestFolder('native-blas');

test('PRORL_BLAS: unset is auto; wasm, exact and native as named; anything else an error; a missing addon', () => {
  assert.equal(blasChoice({}), 'auto');
  assert.equal(blasChoice({ PRORL_BLAS: ' ' }), 'auto');
  assert.equal(blasChoice({ PRORL_BLAS: 'wasm' }), 'wasm');
  assert.equal(blasChoice({ PRORL_BLAS: 'EXACT' }), 'exact');
  assert.equal(blasChoice({ PRORL_BLAS: ' Native ' }), 'native');
  assert.throws(() => blasChoice({ PRORL_BLAS: 'mkl' }), /PRORL_BLAS=mkl is not one of auto, wasm, exact, native/);
  assert.throws(() => loadNativeBlas('native', '/nonexistent/prorec-blas.node'), /PRORL_BLAS=native: .*not built .*npm run build:native.*OpenBLAS/);
  assert.throws(() => loadNativeBlas('exact', '/nonexistent/prorec-blas.node'), /PRORL_BLAS=exact: .*not built .*npm run build:native/);
  // The default falls back to the wasm kernels, with the reason for the backend line.
  const r = loadNativeBlasIfBuilt('/nonexistent/prorec-blas.node');
  assert.equal(r.blas, null);
  assert.match((r as { why: string }).why, /not built/);
});

test('the install script never fails the install: without a C compiler, or told to skip, it says so in one line and leaves the addon alone', () => {
  const script = fileURLToPath(new URL('../scripts/install-native.mjs', import.meta.url));
  const before = built ? statSync(NATIVE_BLAS_PATH).mtimeMs : null;
  for (const [env, why] of [
    [{ CC: '/nonexistent/cc' }, /no C compiler: CC=\/nonexistent\/cc was not found/],
    [{ PRORL_SKIP_NATIVE_BUILD: '1' }, /PRORL_SKIP_NATIVE_BUILD=1/],
  ] as const) {
    const r = spawnSync(process.execPath, [script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^prorec-gym: native kernels not built \(/);
    assert.match(r.stdout, why);
    assert.match(r.stdout, /the wasm kernels give the same results, more slowly; build them later with `npx prorec-gym build-native`\n$/);
    assert.equal(r.stdout.trim().split('\n').length, 1);
  }
  assert.equal(built ? statSync(NATIVE_BLAS_PATH).mtimeMs : null, before, 'a failed build leaves the addon as it was');
});

/** [name, a shape, b shape, transposeA, transposeB] */
const CASES: [string, number[], number[], boolean, boolean][] = [
  ['2-D', [7, 5], [5, 9], false, false],
  ['2-D, transposeB (logits against an item table)', [640, 64], [1001, 64], false, true],
  ['2-D, transposeA (a weight gradient)', [631, 1001], [631, 64], true, false],
  ['2-D, both transposed', [5, 7], [9, 5], true, true],
  ['batched a, 2-D b (folded)', [4, 11, 64], [64, 32], false, false],
  ['batched a, 2-D b, transposeB', [4, 11, 64], [32, 64], false, true],
  ['batched a, 2-D b, transposeA', [4, 64, 11], [64, 32], true, false],
  ['2-D a, batched b (broadcast a)', [11, 64], [4, 64, 21], false, false],
  ['batched both (attention scores)', [64, 11, 64], [64, 21, 64], false, true],
  ['batched both (attention values)', [64, 11, 21], [64, 21, 64], false, false],
  ['batched both, transposeA (value gradient)', [64, 11, 21], [64, 11, 64], true, false],
  ['rank 4 (heads)', [3, 2, 5, 8], [3, 2, 8, 6], false, false],
  ['empty inner dimension', [3, 0], [0, 4], false, false],
  ['empty rows', [0, 5], [5, 4], false, false],
];

/**
 * The product and, when `grads` (tfjs differentiates batched products only between operands of
 * equal rank), the gradients of Σ dy·(a·b) with respect to a and b.
 */
function product(
  a: tf.Tensor,
  b: tf.Tensor,
  tA: boolean,
  tB: boolean,
  native: boolean,
  grads = a.rank === b.rank,
): { y: Float32Array; ga: Float32Array; gb: Float32Array; shape: number[] } {
  // Whatever the process chose (PRORL_BLAS), this product runs on the kernel asked for: OpenBLAS's, or the wasm kernel's.
  unregisterNativeBlasKernels();
  if (native) registerNativeBlasKernels(loadNativeBlas('native'), 'native');
  try {
    return tf.tidy(() => {
      const y = tf.matMul(a, b, tA, tB);
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 9);
      if (!grads) return { y: y.dataSync() as Float32Array, ga: new Float32Array(0), gb: new Float32Array(0), shape: y.shape };
      const [ga, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(dy, tf.matMul(x, w, tA, tB))))([a, b]);
      return { y: y.dataSync() as Float32Array, ga: ga.dataSync() as Float32Array, gb: gb.dataSync() as Float32Array, shape: y.shape };
    });
  } finally {
    restoreChosenKernels();
  }
}

function close(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1e-6;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 2e-5 * scale, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

/** OpenBLAS's products against the wasm kernel's round-off: under PRORL_BLAS=native (`npm run test:native`, which CI runs). */
const skipUnlessNative =
  skip || (blasChoice() === 'native' ? false : "OpenBLAS's products are compared under PRORL_BLAS=native: `npm run test:native` (CI runs it)");

test(
  'native BatchMatMul equals the wasm kernel for every shape, transpose and batch layout, values and (equal ranks) gradients',
  { skip: skipUnlessNative },
  () => {
    for (const [name, sa, sb, tA, tB] of CASES) {
      const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
      const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
      const got = product(a, b, tA, tB, true);
      if (a.size === 0 || b.size === 0) {
        // Sums over nothing are 0 (the wasm kernel returns uninitialised memory for an empty inner
        // dimension, so it is no reference here).
        assert.ok(got.y.every((v) => v === 0) && got.ga.every((v) => v === 0) && got.gb.every((v) => v === 0), `${name}: zeros`);
        assert.deepEqual([got.ga.length, got.gb.length], [a.size, b.size], `${name}: gradient sizes`);
        tf.dispose([a, b]);
        continue;
      }
      const want = product(a, b, tA, tB, false);
      assert.deepEqual(got.shape, want.shape, name);
      close(got.y, want.y, `${name}: product`);
      close(got.ga, want.ga, `${name}: gradient of a`);
      close(got.gb, want.gb, `${name}: gradient of b`);
      tf.dispose([a, b]);
    }
  },
);

test('native BatchMatMul is deterministic: the same product gives the same bits wherever its operands lie on the heap', { skip }, () => {
  const a = tf.randomNormal([64, 11, 64], 0, 1, 'float32', 3);
  const b = tf.randomNormal([64, 21, 64], 0, 1, 'float32', 4);
  const first = product(a, b, false, true, true).y;
  const filler = tf.zeros([12345]); // moves later allocations
  const a2 = tf.clone(a);
  const b2 = tf.clone(b);
  const second = product(a2, b2, false, true, true).y;
  assert.deepEqual(second, first);
  tf.dispose([a, b, a2, b2, filler]);
});

test('the addon checks its arguments: types, counts and bounds', { skip }, () => {
  const blas = loadNativeBlas('native');
  const a = new Float32Array(6);
  const c = new Float32Array(4);
  const gemm = blas.gemm!.bind(blas);
  assert.throws(() => (gemm as unknown as (...x: unknown[]) => void)(a, a, c, 1, 2, 2), /expected 11 arguments/);
  assert.throws(() => gemm(a, new Int32Array(6) as unknown as Float32Array, c, 1, 2, 2, 3, 0, 0, 0, 0), /Float32Arrays/);
  assert.throws(() => gemm(a, a, c, 2, 2, 2, 3, 0, 0, 6, 6), /past the end/);
  assert.throws(() => gemm(a, a, c, 1, -2, 2, 3, 0, 0, 0, 0), /integers >= 0/);
  assert.throws(() => gemm(a, a, c, 1, 2.5, 2, 3, 0, 0, 0, 0), /integers >= 0/);
  // Products that would wrap around 2^64 are caught, not wrapped into a small bound.
  assert.throws(() => gemm(a, a, c, 2 ** 52, 1, 1, 1, 0, 0, 2 ** 13, 0), /past the end/);
  gemm(Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 0, 1, 1, 1), c, 1, 2, 2, 3, 0, 0, 0, 0);
  assert.deepEqual([...c], [1 + 3, 2 + 3, 4 + 6, 5 + 6]);
  assert.match(blas.config(), /OpenBLAS/);
});

test('native BatchMatMul leaks neither tensors nor wasm memory', { skip }, () => {
  const a = tf.randomNormal([64, 11, 64], 0, 1, 'float32', 5);
  const b = tf.randomNormal([64, 21, 64], 0, 1, 'float32', 6);
  product(a, b, false, true, true); // warm-up
  const before = tf.memory();
  for (let i = 0; i < 5; i++) product(a, b, false, true, true);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  tf.dispose([a, b]);
});

/**
 * Products on the kernels asked for ('exact': the addon's exact kernels; 'wasm': the wasm
 * kernels), and with `grads` the gradients of Σ dy·(a·b). Values as arrays, so that deepEqual
 * compares bits (NaN with NaN, −0 with −0 apart from +0).
 */
function exactOrWasm(a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean, use: 'exact' | 'wasm', grads: boolean): { shape: number[]; bits: number[][] } {
  unregisterNativeBlasKernels();
  if (use === 'exact') registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
  try {
    return tf.tidy(() => {
      const y = tf.matMul(a, b, tA, tB);
      const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
      if (!grads) return { shape: y.shape, bits: [bits(y)] };
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 9);
      const [ga, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(dy, tf.matMul(x, w, tA, tB))))([a, b]);
      return { shape: y.shape, bits: [bits(y), bits(ga), bits(gb)] };
    });
  } finally {
    restoreChosenKernels();
  }
}

test(
  "exact BatchMatMul gives the wasm kernels' bits: every shape, transpose and batch layout, broadcasts, tails, values and gradients",
  { skip: skipExact },
  () => {
    const rng = Rng.stream(21, 'exact-products');
    const cases: [number[], number[], boolean, boolean][] = [];
    // Sizes across the kernel's tiles (4 rows × 64 columns) and the wasm loop's blocks of 48 k's.
    for (const [m, k, n] of [
      [1, 1, 1],
      [5, 3, 7],
      [9, 50, 131],
      [33, 97, 65],
      [4, 48, 64],
    ]) {
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const a = tA ? [k, m] : [m, k];
          const b = tB ? [n, k] : [k, n];
          cases.push([a, b, tA, tB], [[3, ...a], b, tA, tB], [[3, ...a], [3, ...b], tA, tB], [[2, 2, ...a], [2, 2, ...b], tA, tB]);
          cases.push([a, [3, ...b], tA, tB], [[1, ...a], [3, ...b], tA, tB], [[3, ...a], [1, ...b], tA, tB]);
        }
    }
    let compared = 0;
    for (const [sa, sb, tA, tB] of cases) {
      // Values of mixed magnitude (round-off differs with the order of the sums), and a few exact zeros.
      const values = (shape: number[]) =>
        tf.tensor(
          Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => (i % 11 === 0 ? 0 : (rng.float() * 2 - 1) * (i % 7 === 0 ? 1e3 : 1))),
          shape,
        );
      const a = values(sa);
      const b = values(sb);
      // Gradients are products with transposes, which the grid has; they are checked as such on
      // the 2-D layouts here (tfjs differentiates batched products only between operands of the
      // same batch shape) and on the training shapes below.
      const grads = sa.length === 2 && sb.length === 2;
      const want = exactOrWasm(a, b, tA, tB, 'wasm', grads);
      const got = exactOrWasm(a, b, tA, tB, 'exact', grads);
      assert.deepEqual(got.shape, want.shape);
      got.bits.forEach((g, q) => {
        const bad = g.findIndex((x, i) => x !== want.bits[q][i]);
        assert.ok(
          bad < 0 && g.length === want.bits[q].length,
          `${JSON.stringify(sa)} × ${JSON.stringify(sb)} tA=${tA} tB=${tB}, ${['product', 'gradient of a', 'gradient of b'][q]}: element ${bad} differs`,
        );
      });
      compared += got.bits.length;
      tf.dispose([a, b]);
    }
    assert.ok(compared > cases.length);
    // The training shapes of the policy's logits and their gradients (CASES above), infinities and NaN.
    for (const [name, sa, sb, tA, tB] of CASES) {
      if (sa.includes(0) || sb.includes(0)) continue;
      const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
      const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
      const grads = a.rank === b.rank;
      assert.deepEqual(exactOrWasm(a, b, tA, tB, 'exact', grads), exactOrWasm(a, b, tA, tB, 'wasm', grads), name);
      tf.dispose([a, b]);
    }
    const special = tf.tensor2d([1, Infinity, 0, -2, NaN, 3, -Infinity, 1e38, 1e38], [3, 3]);
    const other = tf.tensor2d([1, 2, 3, 0, 1, 0, 1e38, -1, 2], [3, 3]);
    assert.deepEqual(
      exactOrWasm(special, other, false, false, 'exact', false),
      exactOrWasm(special, other, false, false, 'wasm', false),
      'infinities, NaN, overflow',
    );
    tf.dispose([special, other]);
  },
);

test('an RL run gives bit-identical weights and logs with the exact kernels and with the wasm kernels', { skip: skipExact }, async () => {
  const saved = process.env.PRORL_TRAIN_WORKERS;
  process.env.PRORL_TRAIN_WORKERS = '1'; // the main thread only: its kernels are the ones swapped here
  const run = async (use: 'exact' | 'wasm') => {
    unregisterNativeBlasKernels();
    if (use === 'exact') registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
    try {
      return await trainProrl(folder.initFile, { groupSize: 8, casesPerBatch: 8, casesPerEpoch: 16, epochs: 2, lr: 3e-3, validCases: 8, gradChunks: 2 });
    } finally {
      restoreChosenKernels();
    }
  };
  try {
    const wasm = await run('wasm');
    const exact = await run('exact');
    assert.equal(wasm.logs.filter((l) => 'return' in l).length, 4, 'two epochs of two updates');
    assert.deepEqual(exact.logs, wasm.logs);
    assert.deepEqual(exact.weights, wasm.weights);
  } finally {
    if (saved === undefined) delete process.env.PRORL_TRAIN_WORKERS;
    else process.env.PRORL_TRAIN_WORKERS = saved;
  }
});

test('exact BatchMatMul: empty products are zeros; no leaks; gemmExact checks its arguments', { skip: skipExact }, () => {
  const z = exactOrWasm(tf.zeros([3, 0]), tf.zeros([0, 4]), false, false, 'exact', false);
  assert.deepEqual(z.shape, [3, 4]);
  assert.ok(z.bits[0].every((x) => x === 0));
  const a = tf.randomNormal([64, 11, 64], 0, 1, 'float32', 5);
  const b = tf.randomNormal([64, 21, 64], 0, 1, 'float32', 6);
  exactOrWasm(a, b, false, true, 'exact', true); // warm-up
  const before = tf.memory();
  for (let i = 0; i < 3; i++) exactOrWasm(a, b, false, true, 'exact', true);
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  tf.dispose([a, b]);
  const blas = loadNativeBlas('exact');
  const x = new Float32Array(6);
  const c = new Float32Array(4);
  assert.throws(() => (blas.gemmExact as unknown as (...v: unknown[]) => void)(x, x, c, 1, 2, 2, 3, 0, 0, 0, 0), /expected 12 arguments/);
  assert.throws(() => blas.gemmExact(x, x, c, 2, 2, 2, 3, 0, 0, 6, 6, 0), /past the end/);
  assert.throws(() => blas.gemmExact(x, x, c, 1, 2, 2, 3, 0, 0, 0, 0, 2 as 0), /blocked must be 0 or 1/);
  assert.throws(() => blas.gemmExact(x, new Float64Array(6) as unknown as Float32Array, c, 1, 2, 2, 3, 0, 0, 0, 0, 0), /Float32Arrays/);
  blas.gemmExact(Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 0, 1, 1, 1), c, 1, 2, 2, 3, 0, 0, 0, 0, 0);
  assert.deepEqual([...c], [1 + 3, 2 + 3, 4 + 6, 5 + 6]);
  blas.gemmExact(Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 1, 0, 1, 1), c, 1, 2, 2, 3, 0, 1, 0, 0, 1);
  assert.deepEqual([...c], [1 + 3, 2 + 3, 4 + 6, 5 + 6]);
});

test('the fused loss gives the same bits with its passes in the addon as in JS: value, gradient, logged KL, entropy, ℓ', { skip: skipExact }, () => {
  const M = 37; // more than two blocks of rows
  const A = 301;
  const rng = Rng.stream(15, 'native-loss');
  const u = Float32Array.from({ length: M * A }, () => 4 * rng.normal());
  // Ties for the first-argmax rule: a few rows with repeated maxima, in u and in u_ref.
  const ur = Float32Array.from({ length: M * A }, () => 4 * rng.normal());
  for (let i = 0; i < M; i += 5) for (const b of [3, 7, 100]) [u[i * A + b], ur[i * A + b]] = [20, 20];
  const mask = new Float32Array(M * A);
  const actions = new Int32Array(M);
  for (let i = 0; i < M; i++) {
    for (let a = 0; a < A; a++) if (rng.float() < 0.2) mask[i * A + a] = -1e9;
    do actions[i] = rng.int(A);
    while (mask[i * A + actions[i]] !== 0);
  }
  const coef = Float32Array.from({ length: M }, () => rng.normal());
  const run = () =>
    tf.tidy(() => {
      const refLogits = tf.tensor2d(ur, [M, A]);
      let logged: PgLossLog | null = null;
      const g = tf.grad((x: tf.Tensor) =>
        policyGradientLoss(x as tf.Tensor2D, { mask: tf.tensor2d(mask, [M, A]), actions, coef, klCoef: 0.37, refLogits }, (l) => (logged = l)),
      )(tf.tensor2d(u, [M, A]));
      const l = logged as unknown as PgLossLog;
      return { grad: Array.from(g.dataSync()), loss: l.loss, kl: l.kl, entropy: l.entropy, chosen: Array.from(l.chosen) };
    });
  unregisterNativeBlasKernels();
  const js = run();
  registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
  try {
    assert.equal(activeNativeBlas() !== null, true);
    const native = run();
    assert.deepEqual(native, js);
  } finally {
    restoreChosenKernels();
  }
  assert.ok(js.grad.some((x) => x !== 0) && js.kl > 0);
});

test('leadingAxes: the leading axes a Sum names, in any order and with negative indices; 0 for anything else', () => {
  assert.equal(leadingAxes(0, 2), 1);
  assert.equal(leadingAxes([0], 2), 1);
  assert.equal(leadingAxes(-2, 2), 1);
  assert.equal(leadingAxes([0, 1], 3), 2);
  assert.equal(leadingAxes([-3, 1], 3), 2);
  assert.equal(leadingAxes([1, 0], 3), 0, 'the wasm kernel sums in the order of the axes given');
  assert.equal(leadingAxes(1, 2), 0);
  assert.equal(leadingAxes([0, 2], 3), 0);
  assert.equal(leadingAxes([0, 1], 2), 0, 'every axis: the original kernel');
  assert.equal(leadingAxes([0, 0], 3), 0);
  assert.equal(leadingAxes([], 2), 0);
  assert.equal(leadingAxes(undefined, 2), 0);
});

test("native Sum over leading axes gives the wasm kernel's bits; other sums go to the wasm kernel", { skip: skipExact }, () => {
  const cases: [number[], number | number[], boolean][] = [
    [[640, 1001], 0, false],
    [[37, 301], [0], true],
    [[3, 4, 5], [0, 1], false],
    [[3, 4, 5], [1, 0], false], // not row order: the wasm kernel
    [[3, 4, 5], -3, true],
    [[6, 0], 0, false],
    [[0, 6], 0, false],
    [[5, 7], 1, false], // not leading: the wasm kernel
    [[5, 7], [0, 1], false],
  ];
  const sums = () =>
    cases.map(([shape, axis, keepDims], i) =>
      tf.tidy(() => {
        const x = tf.randomNormal(shape, 0, 3, 'float32', 20 + i);
        const y = tf.sum(x, axis, keepDims);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.add(v, tf.ones(shape.slice(-1))), 2)))(x);
        return { shape: y.shape, values: Array.from(y.dataSync()), grad: Array.from(g.dataSync()) };
      }),
    );
  unregisterNativeBlasKernels();
  const wasm = sums();
  registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
  try {
    assert.deepEqual(sums(), wasm);
    const before = tf.memory().numTensors;
    tf.tidy(() => tf.sum(tf.ones([4, 3]), 0)).dispose();
    assert.equal(tf.memory().numTensors, before);
  } finally {
    restoreChosenKernels();
  }
  const blas = loadNativeBlas('exact');
  assert.throws(() => blas.colSums(new Float32Array(5), 2, 3, new Float32Array(3)), /R \* C values in x/);
  assert.throws(() => blas.colSums(new Float32Array(6), 2, 3, new Float32Array(2)), /C in out/);
  assert.throws(() => blas.colSums(new Float32Array(6), 2 ** 40, 2 ** 30, new Float32Array(6)), /R \* C values in x/);
  const out = new Float32Array(3);
  blas.colSums(Float32Array.of(1, 2, 3, 10, 20, 30), 2, 3, out);
  assert.deepEqual([...out], [11, 22, 33]);
});

test("the addon's exp is V8's Math.exp bit for bit (random arguments in every range, and the edge cases)", { skip: skipExact }, () => {
  const rng = Rng.stream(16, 'exp');
  const x = new Float64Array(400_000);
  for (let i = 0; i < x.length; i++) {
    const k = i % 5;
    x[i] =
      k === 0
        ? -60 * rng.float()
        : k === 1
          ? 10 - 800 * rng.float()
          : k === 2
            ? (rng.float() - 0.5) * 1e-6
            : k === 3
              ? (rng.float() - 0.5) * 4
              : (rng.float() - 0.5) * 1500;
  }
  const edges = [
    0,
    -0,
    1,
    -1,
    0.5,
    Infinity,
    -Infinity,
    NaN,
    709.78,
    709.8,
    -745.1,
    -745.2,
    1e-300,
    2 ** -28,
    -(2 ** -29),
    0.34657359027997264,
    1.0397207708399179,
    -708.5,
    -720,
  ];
  x.set(edges);
  // Many arguments on fdlibm's general path (1.5 ln2 <= |x| < 709.78), the synthetic simulator's, with
  // the edges of that path and of its exponent range among them.
  const general = Float64Array.from({ length: 200_000 }, (_, i) => (i % 2 === 0 ? -1 : 1) * (1.0397207708399179 + 708 * rng.float()));
  general.set([1.0397207708399179, 1.03972077083992, -1.0397207708399179, 709.78, -707.7, -708.4, 708.39, 709.0, -745.1, -706.9], 1000);
  const all = Float64Array.from([...x, ...general]);
  const y = new Float64Array(all.length);
  loadNativeBlas('exact').expArray(all, y);
  let bad = 0;
  for (let i = 0; i < all.length; i++) if (!Object.is(y[i], Math.exp(all[i]))) bad++;
  assert.equal(bad, 0, `${bad} of ${all.length} differ from Math.exp`);
});

test("the synthetic simulator's native row step gives the JS bits: log p(T), ranks and scores over advances and target changes", { skip: skipExact }, () => {
  const world = generateSyntheticWorld({ numItems: 300, numUsers: 120, seed: 8 });
  const run = () => {
    const sim = new SyntheticExactSimulator(world);
    assert.equal(sim.incremental, true);
    const rng = Rng.stream(3, 'native-sim');
    const seqs = Array.from({ length: 6 }, () => Array.from({ length: 10 }, () => rng.int(300)));
    const batch = sim.open(seqs);
    let targets = Int32Array.from({ length: 6 }, () => rng.int(300));
    const out: number[][] = [];
    const first = batch.targetStats(targets);
    out.push(Array.from(first.logProb), Array.from(first.rank));
    for (let t = 0; t < 10; t++) {
      const rows = Uint8Array.from({ length: 6 }, () => (rng.float() < 0.7 ? 1 : 0));
      const items = Int32Array.from({ length: 6 }, () => rng.int(300));
      if (t === 4) targets = Int32Array.from({ length: 6 }, () => rng.int(300));
      const r = batch.advance(items, targets, rows);
      out.push(Array.from(r.logProb), Array.from(r.rank), Array.from(r.ctr), Array.from(batch.scores()));
    }
    return out;
  };
  unregisterNativeBlasKernels();
  const js = run();
  registerNativeBlasKernels(loadNativeBlas('exact'), 'exact');
  try {
    assert.deepEqual(run(), js);
  } finally {
    restoreChosenKernels();
  }
  const blas = loadNativeBlas('exact');
  const P = new Float64Array(6);
  const o = new Float64Array(4);
  assert.throws(() => blas.synthRowStats(P, 3, 4, new Float64Array(0), 1, new Float32Array(4), 0, o), /inside|n scores from o/);
  assert.throws(() => blas.synthRowStats(P, 0, 4, new Float64Array(0), 1, new Float32Array(4), 4, o), /target < n/);
  assert.throws(() => blas.synthRowStats(P, 0, 4, new Float64Array(2), 1, new Float32Array(4), 0, o), /gram values/);
  assert.throws(() => blas.synthRowStats(P, 2 ** 53, 1, new Float64Array(0), 1, new Float32Array(4), 0, o), /o, n, target|n scores from o/);
  blas.synthRowStats(Float64Array.of(1, 3, 2, 3), 0, 4, new Float64Array(0), 1, new Float32Array(4), 2, o);
  assert.deepEqual([...o], [3, Math.exp(-2) + 1 + Math.exp(-1) + 1, 2, 0]);
});

test("the addon's loss passes check their arguments", { skip: skipExact }, () => {
  const blas = loadNativeBlas('exact');
  const f = new Float32Array(12);
  const out = new Float64Array(12);
  assert.throws(() => (blas.pgRowSums as unknown as (...x: unknown[]) => void)(f, f, f, f, 4, 0), /expected 8 arguments/);
  assert.throws(() => blas.pgRowSums(f, f, f, f, 4, 0, 4, out), /inside the arrays/);
  assert.throws(() => blas.pgRowSums(f, f, f, f, 4, 0, 3, new Float64Array(17)), /6 values per row/);
  assert.throws(() => blas.pgRowSums(f, f, f, f, 0, 0, 1, out), /A > 0/);
  assert.throws(() => blas.pgRowSums(f, f, f, f, 2.7, 0, 1, out), /integers/);
  assert.throws(() => blas.pgRowSums(f, f, f, f, 2 ** 52, 0, 4096, out), /inside the arrays/);
  assert.throws(() => blas.pgRowGrad(f, f, f, 2 ** 52, 0, 4096, 0.1, out, f), /inside the arrays/);
  assert.throws(() => blas.pgRowGrad(f, f, f, 4, 2, 1, 0.1, out, f), /r0 <= r1/);
  assert.throws(() => blas.pgRowGrad(f, f, f, 4, 0, 3, 0.1, new Float64Array(2), f), /one alpha per row/);
  assert.throws(() => blas.pgRowGrad(f, f, f, 4, 0, 3, 0.1, out, new Float64Array(12) as unknown as Float32Array), /Float32Arrays/);
  // One row [p = (0.5, 0.5, 0, 0)]: the first of the tied maxima, sums over p ≠ 0 only.
  const p = Float32Array.of(0.5, 0.5, 0, 0);
  const uu = Float32Array.of(1, 2, 3, 4);
  const ur1 = Float32Array.of(0, 0, 9, 1);
  const s = new Float64Array(6);
  blas.pgRowSums(uu, p, ur1, p, 4, 0, 1, s);
  assert.deepEqual([...s], [0, 0.5, 0, 0.5, 0.5 * 1 + 0.5 * 2, 0.5 * 1 + 0.5 * 2]);
  const g = new Float32Array(4).fill(7);
  blas.pgRowGrad(uu, p, ur1, 4, 0, 1, 2, Float64Array.of(1), g);
  assert.deepEqual([...g], [0.5 * (2 * 1 + 1), 0.5 * (2 * 2 + 1), 0, 0]);
});

test('an addon built by an older version, or from another source, is a usage error that says to rebuild; the exp check', { skip: skipExact }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prorec-old-addon-'));
  try {
    // Modules with the older functions, or all of them but another source hash, stand in for
    // older builds.
    const fake = (name: string, body: string): string => {
      writeFileSync(path.join(dir, `${name}.cjs`), body);
      symlinkSync(path.join(dir, `${name}.cjs`), path.join(dir, `${name}.node`));
      return path.join(dir, `${name}.node`);
    };
    const old = fake('old', 'module.exports = { gemm() {}, config() { return "OpenBLAS" } };');
    assert.throws(
      () => loadNativeBlas('native', old),
      (e: unknown) =>
        e instanceof UsageError && /lacks gemmExact, pgRowSums, pgRowGrad, colSums, synthRowStats, expArray, source .*build-native/.test((e as Error).message),
    );
    const names = ['gemmExact', 'config', 'pgRowSums', 'pgRowGrad', 'colSums', 'synthRowStats', 'expArray'].map((f) => `${f}() {}`).join(', ');
    const other = fake('other', `module.exports = { ${names}, source() { return "0123456789abcdef" } };`);
    assert.throws(
      () => loadNativeBlas('exact', other),
      (e: unknown) => e instanceof UsageError && /built from another version of .*blas\.c .*build-native/.test((e as Error).message),
    );
    // Built without OpenBLAS: fine for the exact kernels, a usage error for PRORL_BLAS=native.
    const hash = nativeSourceHash();
    const noBlas = fake('no-openblas', `module.exports = { ${names}, source() { return "${hash}" } };`);
    assert.doesNotThrow(() => loadNativeBlas('exact', noBlas));
    assert.throws(
      () => loadNativeBlas('native', noBlas),
      (e: unknown) => e instanceof UsageError && /built without OpenBLAS .*libopenblas-dev/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const blas = loadNativeBlas('exact');
  assert.equal(blas.source(), nativeSourceHash());
  assert.equal(blas.expMatchesV8, true, "the addon's exp is V8's on this machine");
  // An exp a few ulps off somewhere is caught.
  assert.equal(
    expMatchesV8((x, y) => {
      blas.expArray(x, y);
      y[3000] *= 1 + 2 ** -50;
    }),
    false,
  );
});

/** Runs `f` with PRORL_BLAS set to `value`, then restores it and the backend (re-chosen as before). */
async function withBlas(value: string, f: () => Promise<void>): Promise<void> {
  const saved = process.env.PRORL_BLAS;
  process.env.PRORL_BLAS = value;
  try {
    resetBackendForTesting();
    await f();
  } finally {
    if (saved === undefined) delete process.env.PRORL_BLAS;
    else process.env.PRORL_BLAS = saved;
    resetBackendForTesting();
    await initBackend({ quiet: true });
    restoreChosenKernels();
  }
}

test('PRORL_BLAS is checked whatever the backend: a bad value, or native beside another backend, is a usage error', async () => {
  await withBlas('bogus', async () => {
    await assert.rejects(
      initBackend({ quiet: true }),
      (e) => e instanceof UsageError && /PRORL_BLAS=bogus is not one of auto, wasm, exact, native/.test(e.message),
    );
  });
  await withBlas('native', async () => {
    await assert.rejects(
      initBackend({ backend: 'cpu', quiet: true }),
      (e) => e instanceof UsageError && /PRORL_BLAS=native runs the wasm backend's products, but option backend='cpu' asks for 'cpu'/.test(e.message),
    );
  });
});

test('PRORL_BLAS=native alone chooses the wasm backend, and the backend line names the native products', { skip }, async () => {
  await withBlas('native', async () => {
    const info = await initBackend({ quiet: true });
    assert.equal(info.name, 'wasm');
    assert.match(info.reason, /^requested by PRORL_BLAS=native; XNNPACK/);
    assert.match(info.reason, /BatchMatMul on native BLAS \(PRORL_BLAS=native: OpenBLAS .*1 thread\)/);
    assert.doesNotMatch(info.reason, /JS fallback kernels: [^;]*BatchMatMul/, 'BatchMatMul is not listed among the JS fallbacks');
  });
});
