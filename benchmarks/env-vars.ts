/**
 * The environment variables a benchmark run reads, checked together before the run writes anything
 * (no manifest, no result file): a bad value is a UsageError naming the variable (exit 2), not a
 * failure of every run (exit 1) or a stack trace. Each layer owns the parser of its variables; this
 * only gathers them.
 *
 *   PRORL_BACKEND       compute backend: tensorflow (node), wasm, cpu          compute/backend.ts
 *   PRORL_BLAS          auto, wasm, exact or native                              compute/kernels/native-matmul.ts
 *   PRORL_SIM_WORKERS   simulator shard workers, a non-negative integer          simulators/index.ts
 *   PRORL_RL_WORKERS    RL update workers, 0 or 1                                agents/pg-worker.ts
 *   PRORL_TRAIN_WORKERS RL training workers, a positive integer                  agents/pg-worker.ts
 *   PRORL_CACHE_DIR     the cache folder (not a file, not empty)                 core/cache-dir.ts
 *
 * PRORL_DATA_DIR and PRORL_SNAPSHOT_DIR are places searched for datasets: a missing one is reported
 * by the dataset search that reads it, with every place it looked.
 */
import { checkComputeEnv } from '../compute/backend.ts';
import { checkCacheDirEnv } from '../core/cache-dir.ts';
import { trainWorkers } from '../agents/pg-worker.ts';
import { defaultWorkers } from '../simulators/index.ts';

/** Throws a UsageError naming the first environment variable with a value that is not accepted. */
export function checkBenchEnv(env: NodeJS.ProcessEnv = process.env): void {
  checkComputeEnv(env);
  defaultWorkers(env);
  trainWorkers(env);
  checkCacheDirEnv(env);
}
