/*
 * Native kernels for the wasm backend, as a Node-API addon: the operands are typed-array views of
 * the wasm heap, so nothing is copied. Built when the package is installed (when a C compiler is
 * there), or by `prorec-gym build-native` / `npm run build:native` (compute/native/build.ts);
 * chosen by PRORL_BLAS (compute/kernels/native-matmul.ts). Everything runs on one thread, like the
 * rest of the backend: parallel work goes to worker threads. Compiled without contraction into
 * FMAs (-ffp-contract=off), so every float operation below is the one written.
 *
 * The matrix products with the wasm kernels' arithmetic, so the same bits (the default when built):
 *
 *   gemmExact(a, b, c, batch, m, n, k, transA, transB, strideA, strideB, blocked)
 *     for i in [0, batch): C_i = op(A_i) op(B_i), operands laid out as for gemm below. Each output
 *     is summed in float32 over k in index order from 0, product then sum (blocked = 0: XNNPACK's
 *     2-D products); or (blocked = 1: tfjs-backend-wasm's loop for batched products) over blocks
 *     of 48 k's, each block's sum in index order from 0, added to the output so far and then + 0.
 *
 * With OpenBLAS (built with -DPRORL_OPENBLAS when its headers are found; PRORL_BLAS=native), the
 * same products faster but with other round-off:
 *
 *   gemm(a, b, c, batch, m, n, k, transA, transB, strideA, strideB)
 *     for i in [0, batch): C_i = op(A_i) op(B_i), row-major, C_i [m x n] at c + i*m*n,
 *     A_i at a + i*strideA ([m x k], or [k x m] with transA), B_i at b + i*strideB ([k x n], or
 *     [n x k] with transB); a stride of 0 broadcasts one matrix over the batch.
 *   config() -> OpenBLAS's build description (core, threads); "" without OpenBLAS.
 *   source() -> the SHA-256 of this file it was built from (compared when the addon loads).
 *
 * and the two row passes of the fused policy-gradient loss (agents/pg-loss.ts), the same arithmetic
 * in the same order as its JS pass (doubles, no contraction into FMAs), so the same bits:
 *
 *   pgRowSums(u, p, ur, pr, A, r0, r1, out)
 *     for rows i in [r0, r1) of the [rows x A] arrays, out[6 (i - r0) + 0..5] =
 *     j (the first argmax of p_i, in the row), p_ij, jr (the first argmax of pr_i), pr_ijr,
 *     sum over p_ib != 0 of p_ib (u_ib - ur_ib), and of p_ib u_ib (in index order).
 *   pgRowGrad(u, p, ur, A, r0, r1, kappa, alpha, grad)
 *     grad_ib = p_ib != 0 ? (float)(p_ib (kappa (u_ib - ur_ib) + alpha[i - r0])) : 0.
 *
 * and the column sums of a row-major [R x C] float32 matrix, out_c = x_0c + x_1c + ... in row
 * order in float32, the wasm Sum kernel's order, so its bits (compute/kernels/sum.ts):
 *
 *   colSums(x, R, C, out)
 *
 * and one row's step of the synthetic world's exact simulator (simulators/synthetic-exact.ts,
 * incremental mode), with exp computed as V8's Math.exp computes it (fdlibm's algorithm, as in
 * V8's ieee754::exp, checked against Math.exp bit for bit), so the same bits as the JS:
 *
 *   synthRowStats(P, o, n, gram, keep, bias, target, out)
 *     if gram is not empty: P[o + i] = keep * P[o + i] + gram[i]; then with v_i = P[o + i] + bias[i]:
 *     out = [max v, sum of exp(v_i - max) in index order, #{v_i > v_target}, #{v_i == v_target} - 1].
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef PRORL_OPENBLAS
#include <cblas.h>
extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_config(void);
#endif

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* The data and length of a typed array of type `want`; 0 when v is not one. */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &type, len, data, &buffer, &offset) == napi_ok && type == want;
}

static int f32(napi_env env, napi_value v, float **data, size_t *len) { return typed(env, v, napi_float32_array, (void **)data, len); }
static int f64(napi_env env, napi_value v, double **data, size_t *len) { return typed(env, v, napi_float64_array, (void **)data, len); }

/* A whole number in [0, 2^53] (what a JS number holds exactly); 0 when v is anything else. */
static int i64(napi_env env, napi_value v, int64_t *x) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) return 0;
  *x = (int64_t)d;
  return 1;
}

/* a * b + c * d <= len, computed without overflow (operands up to 2^53). */
static int within(uint64_t len, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t ab, cd, sum;
  return !__builtin_mul_overflow(a, b, &ab) && !__builtin_mul_overflow(c, d, &cd) && !__builtin_add_overflow(ab, cd, &sum) && sum <= len;
}

/* The 11 leading arguments of gemm and gemmExact, checked: the arrays, the sizes, and that every
 * matrix read or written lies inside its array. 0 after throwing. */
typedef struct {
  float *a, *b, *c;
  int64_t batch, m, n, k, ta, tb, sa, sb;
} GemmArgs;

static int gemm_args(napi_env env, napi_value *argv, const char *name, GemmArgs *g) {
  char msg[160];
  size_t la, lb, lc;
  if (!f32(env, argv[0], &g->a, &la) || !f32(env, argv[1], &g->b, &lb) || !f32(env, argv[2], &g->c, &lc)) {
    snprintf(msg, sizeof msg, "%s: a, b and c must be Float32Arrays", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  int64_t v[8];
  for (int i = 0; i < 8; i++)
    if (!i64(env, argv[3 + i], &v[i]) || v[i] < 0) {
      snprintf(msg, sizeof msg, "%s: batch, m, n, k, transA, transB, strideA, strideB must be integers >= 0 (up to 2^53)", name);
      napi_throw_error(env, NULL, msg);
      return 0;
    }
  g->batch = v[0], g->m = v[1], g->n = v[2], g->k = v[3], g->ta = v[4], g->tb = v[5], g->sa = v[6], g->sb = v[7];
  if (g->m > INT32_MAX || g->n > INT32_MAX || g->k > INT32_MAX) {
    snprintf(msg, sizeof msg, "%s: a dimension exceeds 2^31 - 1", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  if (g->batch > 0 && (!within(la, g->batch - 1, g->sa, g->m, g->k) || !within(lb, g->batch - 1, g->sb, g->k, g->n) ||
                       !within(lc, g->batch, (uint64_t)g->m * g->n, 0, 0))) {
    snprintf(msg, sizeof msg, "%s: the shapes and strides reach past the end of an array", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

#ifdef PRORL_OPENBLAS
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 11) return fail(env, "gemm: expected 11 arguments");
  GemmArgs g;
  if (!gemm_args(env, argv, "gemm", &g)) return NULL;
  for (int64_t i = 0; i < g.batch; i++) {
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, (int)g.m, (int)g.n, (int)g.k, 1.0f, g.a + i * g.sa,
                g.ta ? (int)g.m : (int)g.k, g.b + i * g.sb, g.tb ? (int)g.k : (int)g.n, 0.0f, g.c + i * g.m * g.n, (int)g.n);
  }
  return NULL;
}
#endif

/* Vectors of 16 floats (GCC/Clang vector extensions; the compiler splits them to the CPU's width):
 * element-wise IEEE products and sums, so the bits do not depend on the width. With GCC on x86-64
 * Linux the products are compiled for AVX-512, AVX2 and the baseline, and the CPU picks one when
 * the addon loads (target_clones): an addon built on one machine runs on another x86-64. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PER_CPU __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PER_CPU
#endif
typedef float v16 __attribute__((vector_size(64), aligned(4)));
/* Unaligned loads and stores (macros: vectors passed to functions would depend on the target's ABI). */
#define LOAD16(v, p) memcpy(&(v), (p), sizeof(v16))
#define STORE16(p, v) memcpy((p), &(v), sizeof(v16))

/* Rows [i0, i0 + R) (R <= 4) and columns [j0, j0 + 64) of C = A·B with B row-major [k x n]:
 * each output summed over k in order from 0. A's element (i, p) is at A[i * sai + p * sak]. */
static inline __attribute__((always_inline)) void seq_tile(int R, size_t k, const float *A, size_t sai, size_t sak, const float *B, size_t n, float *C, size_t i0, size_t j0) {
  v16 acc[4][4];
  memset(acc, 0, sizeof acc);
  const float *a[4];
  for (int r = 0; r < 4; r++) a[r] = A + (i0 + (r < R ? r : 0)) * sai;
  for (size_t p = 0; p < k; p++) {
    const float *b = B + p * n + j0;
    v16 b0, b1, b2, b3;
    LOAD16(b0, b);
    LOAD16(b1, b + 16);
    LOAD16(b2, b + 32);
    LOAD16(b3, b + 48);
    for (int r = 0; r < 4; r++) {
      if (r >= R) break;
      float x = a[r][p * sak];
      acc[r][0] = acc[r][0] + x * b0;
      acc[r][1] = acc[r][1] + x * b1;
      acc[r][2] = acc[r][2] + x * b2;
      acc[r][3] = acc[r][3] + x * b3;
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < 4; q++) STORE16(C + (i0 + r) * n + j0 + 16 * q, acc[r][q]);
}

/* C [m x n] = A·B, each output summed in float32 over k in index order from 0 (XNNPACK's 2-D
 * products: a product, then a sum, per k). B row-major [k x n]. */
PER_CPU static void gemm_sequential(size_t m, size_t n, size_t k, const float *A, size_t sai, size_t sak, const float *B, float *C) {
  size_t j0 = 0;
  for (; j0 + 64 <= n; j0 += 64) {
    size_t i = 0;
    for (; i + 4 <= m; i += 4) seq_tile(4, k, A, sai, sak, B, n, C, i, j0);
    if (i < m) seq_tile((int)(m - i), k, A, sai, sak, B, n, C, i, j0);
  }
  if (j0 < n) {
    size_t w = n - j0;
    float acc[64];
    for (size_t i = 0; i < m; i++) {
      for (size_t j = 0; j < w; j++) acc[j] = 0.0f;
      for (size_t p = 0; p < k; p++) {
        float x = A[i * sai + p * sak];
        const float *b = B + p * n + j0;
        for (size_t j = 0; j < w; j++) acc[j] = acc[j] + x * b[j];
      }
      memcpy(C + i * n + j0, acc, w * sizeof(float));
    }
  }
}

/* tfjs-backend-wasm's loop for batched products (block 48): C starts at 0; for each block of k's,
 * the block's sum s (in index order from 0) is added, C = (C + s) + 0. B row-major [k x n]. */
#define WASM_BLOCK 48
PER_CPU static void gemm_blocked(size_t m, size_t n, size_t k, const float *A, size_t sai, size_t sak, const float *B, float *C, float *s) {
  for (size_t i = 0; i < m * n; i++) C[i] = 0.0f;
  for (size_t i = 0; i < m; i++) {
    float *c = C + i * n;
    for (size_t k0 = 0; k0 < k; k0 += WASM_BLOCK) {
      size_t k1 = k0 + WASM_BLOCK < k ? k0 + WASM_BLOCK : k;
      for (size_t j = 0; j < n; j++) s[j] = 0.0f;
      for (size_t p = k0; p < k1; p++) {
        float x = A[i * sai + p * sak];
        const float *b = B + p * n;
        for (size_t j = 0; j < n; j++) s[j] = s[j] + x * b[j];
      }
      for (size_t j = 0; j < n; j++) c[j] = (c[j] + s[j]) + 0.0f;
    }
  }
}

static napi_value GemmExact(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 12) return fail(env, "gemmExact: expected 12 arguments");
  GemmArgs g;
  if (!gemm_args(env, argv, "gemmExact", &g)) return NULL;
  int64_t blocked;
  if (!i64(env, argv[11], &blocked) || (blocked != 0 && blocked != 1)) return fail(env, "gemmExact: blocked must be 0 or 1");
  size_t m = (size_t)g.m, n = (size_t)g.n, k = (size_t)g.k;
  /* B transposed to row-major [k x n] when it is [n x k]; the row sums of the blocked loop. */
  float *bt = g.tb ? malloc(k * n * sizeof(float) + 1) : NULL;
  float *s = blocked ? malloc(n * sizeof(float) + 1) : NULL;
  if ((g.tb && !bt) || (blocked && !s)) {
    free(bt);
    free(s);
    return fail(env, "gemmExact: out of memory");
  }
  size_t sai = g.ta ? 1 : k, sak = g.ta ? m : 1;
  for (int64_t i = 0; i < g.batch; i++) {
    const float *A = g.a + i * g.sa, *B = g.b + i * g.sb;
    float *C = g.c + i * g.m * g.n;
    if (g.tb) {
      if (i == 0 || g.sb != 0)
        for (size_t p = 0; p < k; p++)
          for (size_t j = 0; j < n; j++) bt[p * n + j] = B[j * k + p];
      B = bt;
    }
    if (blocked) gemm_blocked(m, n, k, A, sai, sak, B, C, s);
    else gemm_sequential(m, n, k, A, sai, sak, B, C);
  }
  free(bt);
  free(s);
  return NULL;
}

/* The shortest of four array lengths: the rows of [rows x A] arrays read together must fit all. */
static size_t min4(size_t a, size_t b, size_t c, size_t d) {
  size_t m = a < b ? a : b;
  m = m < c ? m : c;
  return m < d ? m : d;
}

/* Reads A, r0, r1 from argv[k..k+2]: 0 <= r0 <= r1, every row [r0, r1) of A values inside `len`. */
static int rows(napi_env env, napi_value *argv, size_t len, int64_t *A, int64_t *r0, int64_t *r1) {
  if (!i64(env, argv[0], A) || !i64(env, argv[1], r0) || !i64(env, argv[2], r1)) return 0;
  return *A > 0 && *r1 >= *r0 && within(len, *r1, *A, 0, 0);
}

static napi_value PgRowSums(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8) return fail(env, "pgRowSums: expected 8 arguments");
  float *u, *p, *ur, *pr;
  size_t lu, lp, lur, lpr, lout;
  double *out;
  if (!f32(env, argv[0], &u, &lu) || !f32(env, argv[1], &p, &lp) || !f32(env, argv[2], &ur, &lur) || !f32(env, argv[3], &pr, &lpr) ||
      !f64(env, argv[7], &out, &lout))
    return fail(env, "pgRowSums: u, p, ur, pr must be Float32Arrays and out a Float64Array");
  const size_t len = min4(lu, lp, lur, lpr);
  int64_t A, r0, r1;
  if (!rows(env, argv + 4, len, &A, &r0, &r1) || !within(lout, r1 - r0, 6, 0, 0))
    return fail(env, "pgRowSums: A > 0 and 0 <= r0 <= r1 must be integers with rows [r0, r1) inside the arrays and 6 values per row in out");
  for (int64_t i = r0; i < r1; i++) {
    const int64_t o = i * A;
    int64_t j = o, jr = o;
    float pMax = p[o], prMax = pr[o];
    double pd = 0, pu = 0;
    for (int64_t b = o; b < o + A; b++) {
      const float pb = p[b];
      if (pb > pMax) {
        pMax = pb;
        j = b;
      }
      if (pb == 0) continue;
      pd += (double)pb * ((double)u[b] - (double)ur[b]);
      pu += (double)pb * (double)u[b];
    }
    for (int64_t b = o + 1; b < o + A; b++) {
      if (pr[b] > prMax) {
        prMax = pr[b];
        jr = b;
      }
    }
    double *s = out + 6 * (i - r0);
    s[0] = (double)(j - o);
    s[1] = pMax;
    s[2] = (double)(jr - o);
    s[3] = prMax;
    s[4] = pd;
    s[5] = pu;
  }
  return NULL;
}

static napi_value PgRowGrad(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 9) return fail(env, "pgRowGrad: expected 9 arguments");
  float *u, *p, *ur, *grad;
  size_t lu, lp, lur, lg, la;
  double *alpha, kappa;
  if (!f32(env, argv[0], &u, &lu) || !f32(env, argv[1], &p, &lp) || !f32(env, argv[2], &ur, &lur) || !f64(env, argv[7], &alpha, &la) ||
      !f32(env, argv[8], &grad, &lg))
    return fail(env, "pgRowGrad: u, p, ur, grad must be Float32Arrays and alpha a Float64Array");
  if (napi_get_value_double(env, argv[6], &kappa) != napi_ok) return fail(env, "pgRowGrad: kappa must be a number");
  const size_t len = min4(lu, lp, lur, lg);
  int64_t A, r0, r1;
  if (!rows(env, argv + 3, len, &A, &r0, &r1) || (uint64_t)(r1 - r0) > la)
    return fail(env, "pgRowGrad: A > 0 and 0 <= r0 <= r1 must be integers with rows [r0, r1) inside the arrays and one alpha per row");
  for (int64_t i = r0; i < r1; i++) {
    const double a = alpha[i - r0];
    const int64_t o = i * A;
    for (int64_t b = o; b < o + A; b++) {
      const float pb = p[b];
      grad[b] = pb != 0 ? (float)((double)pb * (kappa * ((double)u[b] - (double)ur[b]) + a)) : 0.0f;
    }
  }
  return NULL;
}

static napi_value ColSums(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return fail(env, "colSums: expected 4 arguments");
  float *x, *out;
  size_t lx, lo;
  if (!f32(env, argv[0], &x, &lx) || !f32(env, argv[3], &out, &lo)) return fail(env, "colSums: x and out must be Float32Arrays");
  int64_t R, C;
  if (!i64(env, argv[1], &R) || !i64(env, argv[2], &C) || !within(lx, R, C, 0, 0) || (uint64_t)C > lo)
    return fail(env, "colSums: R, C must be integers >= 0 with R * C values in x and C in out");
  for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
  /* Row by row: each column's sum runs in row order (vectorised across columns only). */
  for (int64_t r = 0; r < R; r++) {
    const float *row = x + r * C;
    for (int64_t c = 0; c < C; c++) out[c] += row[c];
  }
  return NULL;
}

/* exp as V8's Math.exp: fdlibm's e_exp.c algorithm (Sun Microsystems, 1993, freely redistributable)
 * with V8's one change (exp(1) is E). */
static uint32_t hi_word(double x) { uint64_t u; memcpy(&u, &x, 8); return (uint32_t)(u >> 32); }
static uint32_t lo_word(double x) { uint64_t u; memcpy(&u, &x, 8); return (uint32_t)u; }
static double from_words(uint32_t hi, uint32_t lo) { uint64_t u = ((uint64_t)hi << 32) | lo; double d; memcpy(&d, &u, 8); return d; }
static double v8_exp(double x) {
  static const double one = 1.0, halF[2] = {0.5, -0.5}, o_threshold = 7.09782712893383973096e+02,
                      u_threshold = -7.45133219101941108420e+02, ln2HI[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01},
                      ln2LO[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10}, invln2 = 1.44269504088896338700e+00,
                      P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                      P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08, E = 2.718281828459045,
                      huge = 1.0e+300, twom1000 = 9.33263618503218878990e-302, two1023 = 8.988465674311579539e307;
  double y, hi = 0.0, lo = 0.0, c, t, twopk;
  int32_t k = 0;
  uint32_t hx = hi_word(x);
  int32_t xsb = (hx >> 31) & 1;
  hx &= 0x7fffffff;
  if (hx >= 0x40862E42) {
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | lo_word(x)) != 0) return x + x;
      return (xsb == 0) ? x : 0.0;
    }
    if (x > o_threshold) return huge * huge;
    if (x < u_threshold) return twom1000 * twom1000;
  }
  if (hx > 0x3fd62e42) {
    if (hx < 0x3FF0A2B2) {
      if (x == 1.0) return E;
      hi = x - ln2HI[xsb];
      lo = ln2LO[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = (int32_t)(invln2 * x + halF[xsb]);
      t = k;
      hi = x - t * ln2HI[0];
      lo = t * ln2LO[0];
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    if (huge + x > one) return one + x;
  } else {
    k = 0;
  }
  t = x * x;
  if (k >= -1021) twopk = from_words(0x3ff00000 + ((uint32_t)k << 20), 0);
  else twopk = from_words(0x3ff00000 + ((uint32_t)(k + 1000) << 20), 0);
  c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return one - ((x * c) / (c - 2.0) - x);
  y = one - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}
static napi_value SynthRowStats(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8) return fail(env, "synthRowStats: expected 8 arguments");
  double *P, *gram, *out, keep;
  float *bias;
  size_t lP, lg, lb, lo;
  int64_t o, n, target;
  if (!f64(env, argv[0], &P, &lP) || !f64(env, argv[3], &gram, &lg) || !f32(env, argv[5], &bias, &lb) || !f64(env, argv[7], &out, &lo))
    return fail(env, "synthRowStats: P, gram and out must be Float64Arrays and bias a Float32Array");
  if (!i64(env, argv[1], &o) || !i64(env, argv[2], &n) || !i64(env, argv[6], &target) || napi_get_value_double(env, argv[4], &keep) != napi_ok)
    return fail(env, "synthRowStats: o, n, target must be integers and keep a number");
  if (n <= 0 || target >= n || !within(lP, o, 1, n, 1) || (uint64_t)n > lb || (lg != 0 && (uint64_t)n > lg) || lo < 4)
    return fail(env, "synthRowStats: 0 <= target < n with n scores from o in P, n biases, n gram values (or none) and 4 outputs");
  double *row = P + o;
  double max = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double p = row[i];
    if (lg != 0) row[i] = p = keep * p + gram[i];
    const double v = p + (double)bias[i];
    if (v > max) max = v;
  }
  const double t = row[target] + (double)bias[target];
  double sum = 0;
  int64_t above = 0, tied = -1; /* the target ties with itself */
  for (int64_t i = 0; i < n; i++) {
    const double v = row[i] + (double)bias[i];
    sum += v8_exp(v - max);
    if (v > t) above++;
    else if (v == t) tied++;
  }
  out[0] = max;
  out[1] = sum;
  out[2] = (double)above;
  out[3] = (double)tied;
  return NULL;
}

static napi_value ExpArray(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double *x, *y;
  size_t lx, ly;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !f64(env, argv[0], &x, &lx) || !f64(env, argv[1], &y, &ly) || ly < lx)
    return fail(env, "expArray: expected x and out, Float64Arrays, out at least as long");
  for (size_t i = 0; i < lx; i++) y[i] = v8_exp(x[i]);
  return NULL;
}

#ifndef PRORL_SOURCE_SHA256
#error "build with -DPRORL_SOURCE_SHA256=<hex> (compute/native/build.ts does)"
#endif

static napi_value Source(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, PRORL_SOURCE_SHA256, NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
#ifdef PRORL_OPENBLAS
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
#else
  napi_create_string_utf8(env, "", NAPI_AUTO_LENGTH, &s);
#endif
  return s;
}

/* The exported functions, by name. */
static const struct {
  const char *name;
  napi_callback fn;
} FUNCTIONS[] = {
#ifdef PRORL_OPENBLAS
    {"gemm", Gemm},
#endif
    {"gemmExact", GemmExact},
    {"config", Config},
    {"source", Source},
    {"pgRowSums", PgRowSums},
    {"pgRowGrad", PgRowGrad},
    {"colSums", ColSums},
    {"synthRowStats", SynthRowStats},
    {"expArray", ExpArray},
};

NAPI_MODULE_INIT() {
#ifdef PRORL_OPENBLAS
  openblas_set_num_threads(1);
#endif
  for (size_t i = 0; i < sizeof FUNCTIONS / sizeof FUNCTIONS[0]; i++) {
    napi_value fn;
    napi_create_function(env, FUNCTIONS[i].name, NAPI_AUTO_LENGTH, FUNCTIONS[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, FUNCTIONS[i].name, fn);
  }
  return exports;
}
