/**
 * The native kernels addon (compute/native/blas.c): the choice (PRORL_BLAS), loading the addon (its
 * functions, the source it was built from, its exp), and BatchMatMul for the wasm backend on it.
 * Its other kernels are used by compute/kernels/sum.ts, agents/pg-loss.ts and
 * simulators/synthetic-exact.ts.
 *
 * The wasm backend's products run XNNPACK's 128-bit SIMD kernels (2-D products) or a naive loop
 * (batched ones, e.g. attention). The addon runs them natively, reading and writing the wasm heap
 * in place, in one of two ways:
 *
 * - `exact` (the default when the addon is built: PRORL_BLAS=auto): the same arithmetic as the wasm
 *   kernels, in the same order (each output summed over k in index order, a product then a sum;
 *   in blocks of 48 k's where the wasm kernel takes its batched loop), vectorised across outputs
 *   for the CPU it was built on: **the same bits** as the wasm kernels, several times faster
 *   (test/native-blas.test.ts compares every kind of product bit for bit). A run's results do not
 *   depend on whether the addon is built; its speed does.
 * - `native` (PRORL_BLAS=native, when built with OpenBLAS): OpenBLAS's sgemm, faster still, but its
 *   summation order differs: results equal the wasm kernel's up to float32 round-off, and a run
 *   with it is not bit-identical to one without (numericsId keys caches on it).
 *
 * Every BatchMatMul goes to the addon (all shapes, transpose flags and batches, `b` or `a`
 * broadcast over the batch). _FusedMatMul (dense layers with a bias) stays on XNNPACK. Both are
 * deterministic: the same product gives the same bits wherever its operands lie on the heap.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../../core/errors.ts';
import { batchMatMulDims, wasmBackend, type BatchMatMulDims, type TensorInfo } from './wasm.ts';

/** The environment variable that selects where the wasm backend's matrix products run. */
export const BLAS_ENV_VAR = 'PRORL_BLAS';

/**
 * Accepted values of PRORL_BLAS: 'auto' (the default: the addon's exact kernels when it is built
 * and loads, else the wasm kernels; the same bits either way), 'wasm' (never the addon), 'exact'
 * (the addon's exact kernels, an error when it is not built) or 'native' (OpenBLAS's products).
 */
export const BLAS_CHOICES = ['auto', 'wasm', 'exact', 'native'] as const;
export type BlasChoice = (typeof BLAS_CHOICES)[number];

/** Where `npm run build:native` writes the addon. */
export const NATIVE_BLAS_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native', 'build', 'prorec-blas.node');

/** The addon's C source (shipped with the package). */
export const NATIVE_BLAS_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native', 'blas.c');

/** SHA-256 (hex) of the addon's C source: compiled into the addon, compared when it loads. */
export function nativeSourceHash(file: string = NATIVE_BLAS_SOURCE): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The addon's functions (compute/native/blas.c). */
export interface NativeBlas {
  /**
   * C_i = op(A_i)·op(B_i) for i < batch, row-major; strides in elements (0 broadcasts), with the
   * wasm kernels' arithmetic: each output summed in float32 over k in index order (blocked = 0,
   * XNNPACK's 2-D products), or in blocks of 48 k's added to the output so far (blocked = 1,
   * tfjs-backend-wasm's batched loop).
   */
  gemmExact(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: 0 | 1,
    transB: 0 | 1,
    strideA: number,
    strideB: number,
    blocked: 0 | 1,
  ): void;
  /** The same product on OpenBLAS (other round-off); absent when the addon was built without OpenBLAS. */
  gemm?(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: 0 | 1,
    transB: 0 | 1,
    strideA: number,
    strideB: number,
  ): void;
  /** OpenBLAS's build description; '' when built without OpenBLAS. */
  config(): string;
  /**
   * Pass 1 of the fused policy-gradient loss (agents/pg-loss.ts) over rows [r0, r1) of the
   * [rows × A] arrays: out[6(i − r0) + 0..5] = the first argmax j of p_i (in the row), p_ij, the
   * first argmax of pr_i, its value, Σ_{p≠0} p (u − ur), Σ_{p≠0} p u (float64, in index order).
   */
  pgRowSums(u: Float32Array, p: Float32Array, ur: Float32Array, pr: Float32Array, A: number, r0: number, r1: number, out: Float64Array): void;
  /** Pass 2: grad_ib = p_ib ≠ 0 ? p_ib (κ (u_ib − ur_ib) + α[i − r0]) : 0 for rows [r0, r1). */
  pgRowGrad(
    u: Float32Array,
    p: Float32Array,
    ur: Float32Array,
    A: number,
    r0: number,
    r1: number,
    kappa: number,
    alpha: Float64Array,
    grad: Float32Array,
  ): void;
  /** out_c = Σ_r x_rc for a row-major [R × C] x, in row order in float32 (the wasm Sum kernel's bits). */
  colSums(x: Float32Array, R: number, C: number, out: Float32Array): void;
  /**
   * One row of the synthetic world's exact simulator (simulators/synthetic-exact.ts): with `gram`
   * non-empty, P[o + i] ← keep·P[o + i] + gram[i] first; then, with v_i = P[o + i] + bias[i],
   * out = [max v, Σ_i exp(v_i − max) in index order, #{v_i > v_target}, #{v_i = v_target} − 1],
   * exp as V8's Math.exp (the same bits as the JS).
   */
  synthRowStats(P: Float64Array, o: number, n: number, gram: Float64Array, keep: number, bias: Float32Array, target: number, out: Float64Array): void;
  /** out_i = exp(x_i) as V8's Math.exp computes it (checked when the addon loads: expMatchesV8). */
  expArray(x: Float64Array, out: Float64Array): void;
  /** The SHA-256 of the C source it was built from. */
  source(): string;
  /**
   * Whether the addon's exp gave Math.exp's bits on a spread of arguments when it loaded (the
   * synthetic simulator's native row step is used only then: otherwise it would change results).
   */
  readonly expMatchesV8: boolean;
}

/**
 * Whether `expArray` gives Math.exp's bits on 4,096 arguments spread over exp's whole range and
 * its edge cases (V8's Math.exp is fdlibm's algorithm; a V8 that changed it would make the native
 * synthetic simulator step differ from the JS one).
 */
export function expMatchesV8(expArray: NativeBlas['expArray']): boolean {
  const x = Float64Array.from({ length: 4096 }, (_, i) => -746 + (i * 1457.123456789) / 4095);
  x.set([0, -0, 1, -1, 0.5, 2 ** -28, -(2 ** -29), 1e-300, 0.34657359027997264, 1.0397207708399179, 709.78, -745.1, Infinity, -Infinity, NaN]);
  const y = new Float64Array(x.length);
  expArray(x, y);
  return x.every((v, i) => Object.is(y[i], Math.exp(v)));
}

/** PRORL_BLAS as given (trimmed, lower case), 'auto' when unset; a UsageError on another value. */
export function blasChoice(env: NodeJS.ProcessEnv = process.env): BlasChoice {
  const raw = (env[BLAS_ENV_VAR] ?? '').trim().toLowerCase();
  if (raw === '') return 'auto';
  if ((BLAS_CHOICES as readonly string[]).includes(raw)) return raw as BlasChoice;
  throw new UsageError(`${BLAS_ENV_VAR}=${env[BLAS_ENV_VAR]} is not one of ${BLAS_CHOICES.join(', ')}`);
}

/**
 * Loads the addon for `use` ('exact' kernels, or 'native': OpenBLAS's products as well); a
 * UsageError saying what to do when it is not built, does not load, comes from another version of
 * blas.c, or (for 'native') was built without OpenBLAS.
 */
export function loadNativeBlas(use: 'exact' | 'native' = 'native', file: string = NATIVE_BLAS_PATH, source: string = NATIVE_BLAS_SOURCE): NativeBlas {
  const who = `${BLAS_ENV_VAR}=${use}`;
  const rebuild = '`npx prorec-gym build-native` (`npm run build:native` in a checkout)';
  if (!existsSync(file)) {
    throw new UsageError(
      `${who}: the native kernels addon is not built (${file} is missing); run ${rebuild} ` +
        `(needs a C compiler${use === 'native' ? ' and OpenBLAS: apt-get install build-essential libopenblas-dev' : ': apt-get install build-essential'}), or unset ${BLAS_ENV_VAR}`,
    );
  }
  let addon: Partial<NativeBlas>;
  try {
    addon = createRequire(import.meta.url)(file) as Partial<NativeBlas>;
  } catch (err) {
    throw new UsageError(`${who}: ${file} did not load (${(err as Error).message.split('\n')[0]}); rebuild it with ${rebuild}`, { cause: err });
  }
  const missing = (['gemmExact', 'config', 'pgRowSums', 'pgRowGrad', 'colSums', 'synthRowStats', 'expArray', 'source'] as const).filter(
    (f) => typeof addon[f] !== 'function',
  );
  if (missing.length > 0) throw new UsageError(`${who}: ${file} lacks ${missing.join(', ')} (built by an older version); rebuild it with ${rebuild}`);
  const built = addon.source!();
  if (built !== nativeSourceHash(source)) {
    throw new UsageError(`${who}: ${file} was built from another version of ${source} (source ${built.slice(0, 12)}…); rebuild it with ${rebuild}`);
  }
  if (use === 'native' && typeof addon.gemm !== 'function') {
    throw new UsageError(
      `${who}: ${file} was built without OpenBLAS (its headers were not found); apt-get install libopenblas-dev, then rebuild it with ${rebuild}`,
    );
  }
  const blas = addon as Omit<NativeBlas, 'expMatchesV8'>;
  return { ...blas, expMatchesV8: expMatchesV8(blas.expArray) };
}

/**
 * PRORL_BLAS=auto: the addon for its exact kernels when it is built and loads, else null with the
 * reason (the wasm kernels then run: the same bits, more slowly; the backend line says which).
 */
export function loadNativeBlasIfBuilt(
  file: string = NATIVE_BLAS_PATH,
  source: string = NATIVE_BLAS_SOURCE,
): { blas: NativeBlas } | { blas: null; why: string } {
  if (!existsSync(file)) return { blas: null, why: 'the native kernels addon is not built (no C compiler when the package was installed?)' };
  try {
    return { blas: loadNativeBlas('exact', file, source) };
  } catch (err) {
    return { blas: null, why: (err as Error).message.replace(`${BLAS_ENV_VAR}=exact: `, '') };
  }
}

/** A BatchMatMul's operands as views of the wasm heap, its dimensions and transpose flags. */
interface HeapProduct extends BatchMatMulDims {
  av: Float32Array;
  bv: Float32Array;
  cv: Float32Array;
  tA: 0 | 1;
  tB: 0 | 1;
}

/**
 * A BatchMatMul kernel config for the wasm backend that computes on the heap in place: float32
 * operands checked, the output allocated, empty products and sums over nothing handled here;
 * `compute` fills `cv` for a product with m, n, k > 0.
 */
function heapBatchMatMulConfig(label: string, compute: (p: HeapProduct) => void): tf.KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; attrs?: Record<string, unknown>; backend: unknown }): TensorInfo => {
    const backend = wasmBackend(args.backend);
    const { a, b } = args.inputs;
    const tA = args.attrs?.transposeA ? 1 : 0;
    const tB = args.attrs?.transposeB ? 1 : 0;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`BatchMatMul (${label}): float32 operands only, got ${a.dtype} and ${b.dtype}`);
    const dims = batchMatMulDims(a, b, tA === 1, tB === 1);
    const out = backend.makeOutput(dims.outShape, 'float32');
    if (dims.m * dims.n === 0) return out;
    // Views after the allocation (it may grow the heap and detach older views).
    const cv = backend.typedArrayFromHeap(out) as Float32Array;
    if (dims.k === 0) cv.fill(0);
    else compute({ ...dims, av: backend.typedArrayFromHeap(a) as Float32Array, bv: backend.typedArrayFromHeap(b) as Float32Array, cv, tA, tB });
    return out;
  };
  return { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/**
 * The BatchMatMul kernel config with the wasm kernels' bits on `blas` (gemmExact). The wasm
 * backend (with the wrapper of compute/kernels/matMul.ts) runs XNNPACK's 2-D product when `b` has
 * no batch (a's batch folded into its rows, transposes materialised first) and its batched loop
 * otherwise; this kernel takes the same path for the same operands.
 */
export function exactBatchMatMulConfig(blas: NativeBlas): tf.KernelConfig {
  return heapBatchMatMulConfig('native exact', ({ av, bv, cv, m, n, k, batchA, batchB, tA, tB }) => {
    if (batchB === 1 && !tA)
      blas.gemmExact(av, bv, cv, 1, batchA * m, n, k, 0, tB, 0, 0, 0); // XNNPACK, a's batch as rows
    else if (batchB === 1)
      blas.gemmExact(av, bv, cv, batchA, m, n, k, 1, tB, m * k, 0, 0); // XNNPACK per batch (aᵀ materialised)
    else blas.gemmExact(av, bv, cv, Math.max(batchA, batchB), m, n, k, tA, tB, batchA > 1 ? m * k : 0, k * n, 1); // the batched loop
  });
}

/**
 * The BatchMatMul kernel config on `blas`: a [...batchA, m, k] (or [..., k, m] with transposeA)
 * times b [...batchB, k, n] (or [..., n, k] with transposeB), batchA = batchB or one of them 1.
 */
export function nativeBatchMatMulConfig(blas: NativeBlas): tf.KernelConfig {
  return heapBatchMatMulConfig('native BLAS', ({ av, bv, cv, m, n, k, batchA, batchB, tA, tB }) => {
    if (typeof blas.gemm !== 'function') throw new UsageError(`${BLAS_ENV_VAR}=native: the addon was built without OpenBLAS`);
    if (batchB === 1 && batchA > 1 && !tA)
      blas.gemm(av, bv, cv, 1, batchA * m, n, k, 0, tB, 0, 0); // one tall product
    else blas.gemm(av, bv, cv, Math.max(batchA, batchB), m, n, k, tA, tB, batchA > 1 ? m * k : 0, batchB > 1 ? k * n : 0);
  });
}
