/*
 * Matrix products for the wasm backend on a native BLAS (OpenBLAS), as a Node-API addon: the
 * operands are Float32Array views of the wasm heap, so nothing is copied. Built on demand by
 * `prorec-gym build-native` / `npm run build:native` (compute/native/build.ts) and used only with PRORL_BLAS=native
 * (compute/kernels/native-matmul.ts). OpenBLAS runs on one thread, like the rest of the backend:
 * parallel work goes to worker threads.
 *
 *   gemm(a, b, c, batch, m, n, k, transA, transB, strideA, strideB)
 *     for i in [0, batch): C_i = op(A_i) op(B_i), row-major, C_i [m x n] at c + i*m*n,
 *     A_i at a + i*strideA ([m x k], or [k x m] with transA), B_i at b + i*strideB ([k x n], or
 *     [n x k] with transB); a stride of 0 broadcasts one matrix over the batch.
 *   config() -> OpenBLAS's build description (core, threads).
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>

extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_config(void);

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &buffer, &offset) != napi_ok || type != napi_float32_array) return 0;
  *data = (float *)p;
  return 1;
}

static int i64(napi_env env, napi_value v, int64_t *x) { return napi_get_value_int64(env, v, x) == napi_ok; }

static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 11) return fail(env, "gemm: expected 11 arguments");
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!f32(env, argv[0], &a, &la) || !f32(env, argv[1], &b, &lb) || !f32(env, argv[2], &c, &lc)) return fail(env, "gemm: a, b and c must be Float32Arrays");
  int64_t v[8];
  for (int i = 0; i < 8; i++)
    if (!i64(env, argv[3 + i], &v[i]) || v[i] < 0) return fail(env, "gemm: batch, m, n, k, transA, transB, strideA, strideB must be integers >= 0");
  int64_t batch = v[0], m = v[1], n = v[2], k = v[3], ta = v[4], tb = v[5], sa = v[6], sb = v[7];
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return fail(env, "gemm: a dimension exceeds 2^31 - 1");
  /* Bounds: every matrix read or written lies inside its array. */
  if (batch > 0 && ((uint64_t)(batch - 1) * sa + m * k > la || (uint64_t)(batch - 1) * sb + k * n > lb || (uint64_t)batch * m * n > lc))
    return fail(env, "gemm: the shapes and strides reach past the end of an array");
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a + i * sa,
                ta ? (int)m : (int)k, b + i * sb, tb ? (int)k : (int)n, 0.0f, c + i * m * n, (int)n);
  }
  return NULL;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
  return s;
}

NAPI_MODULE_INIT() {
  openblas_set_num_threads(1);
  napi_value fn;
  napi_create_function(env, "gemm", NAPI_AUTO_LENGTH, Gemm, NULL, &fn);
  napi_set_named_property(env, exports, "gemm", fn);
  napi_create_function(env, "config", NAPI_AUTO_LENGTH, Config, NULL, &fn);
  napi_set_named_property(env, exports, "config", fn);
  return exports;
}
