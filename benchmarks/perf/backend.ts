/**
 * Backend performance: matmul throughput on every backend that loads, the wasm UnsortedSegmentSum
 * fallback (the embedding gradient) at training size, and one training step of a small recurrent
 * recommender (embedding lookup, GRU-like cell, full softmax over 3,706 items, batch 256, Adam) on
 * wasm with the fallback kernels against cpu.
 *
 *   npx tsx benchmarks/perf/backend.ts [--steps 10] [--cpu-steps 1] [--seq-len 10]
 *
 * `--cpu-steps 0` skips the cpu training step (it takes about a minute).
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { activateBackend, BACKEND_NAMES, type BackendName } from '../../compute/backend.ts';
import { Rng } from '../../core/rng.ts';
import { UsageError } from '../../core/errors.ts';

export interface BackendPerfOptions {
  /** Timed training steps on wasm (after 2 warm-up steps). */
  steps?: number;
  /** Training steps on cpu (0 skips them). */
  cpuSteps?: number;
  /** Items per input sequence (embedding lookups per row). */
  seqLen?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface BackendPerfResult {
  matmul: Record<BackendName, { gflops: number; ms: number } | { unavailable: string }>;
  /** The same product as a·bᵀ with b stored [n, k] (tensorflow and wasm only). */
  matmulTransposeB: Partial<Record<BackendName, { gflops: number; ms: number }>>;
  segmentSumMs: number | null;
  stepMs: Partial<Record<BackendName, number>>;
  /** Loss before any update, per backend (a cross-backend agreement check). */
  initialLoss: Partial<Record<BackendName, number>>;
  cpuOverWasm: number | null;
}

const ITEMS = 3706;
const DIM = 64;
const BATCH = 256;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function normals(rng: Rng, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

function ints(rng: Rng, n: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(hi);
  return a;
}

/** Milliseconds per call of `f` (which must force its result, e.g. with dataSync), median of reps. */
function timeIt(f: () => void, warmup: number, reps: number): number {
  for (let i = 0; i < warmup; i++) f();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function benchMatmul(rng: Rng, slow: boolean, transposeB = false): { gflops: number; ms: number } {
  const [m, k, n] = [1024, DIM, ITEMS];
  const a = tf.tensor2d(normals(rng, m * k, 1), [m, k]);
  const b = tf.tensor2d(normals(rng, k * n, 1), transposeB ? [n, k] : [k, n]);
  const ms = timeIt(
    () => {
      const c = tf.matMul(a, b, false, transposeB);
      c.dataSync(); // read outside tidy: never return a TypedArray from tf.tidy
      c.dispose();
    },
    slow ? 1 : 2,
    slow ? 2 : 10,
  );
  tf.dispose([a, b]);
  return { gflops: (2 * m * k * n) / (ms * 1e6), ms };
}

function benchSegmentSum(rng: Rng): number {
  const numIds = 10_240;
  const x = tf.tensor2d(normals(rng, numIds * DIM, 1), [numIds, DIM]);
  const ids = tf.tensor1d(ints(rng, numIds, ITEMS), 'int32');
  const ms = timeIt(
    () => {
      const s = tf.unsortedSegmentSum(x, ids, ITEMS);
      s.dataSync();
      s.dispose();
    },
    2,
    20,
  );
  tf.dispose([x, ids]);
  return ms;
}

/** A small recurrent recommender: embedding lookup, GRU-like cell, full softmax tied to the embedding. */
class TinyRecModel {
  readonly emb: tf.Variable;
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  readonly opt = tf.train.adam(1e-3);

  constructor(rng: Rng) {
    this.emb = tf.tidy(() => tf.variable(tf.tensor2d(normals(rng, ITEMS * DIM, 0.05), [ITEMS, DIM])));
    this.w = tf.tidy(() => tf.variable(tf.tensor2d(normals(rng, 2 * DIM * 3 * DIM, 0.1), [2 * DIM, 3 * DIM])));
    this.b = tf.tidy(() => tf.variable(tf.zeros([3 * DIM])));
  }

  loss(seqs: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const x = tf.gather(this.emb, seqs); // [B, L, D]
    let h: tf.Tensor2D = tf.zeros([seqs.shape[0], DIM]);
    for (const xt of tf.unstack(x, 1) as tf.Tensor2D[]) {
      const g = tf.add(tf.matMul(tf.concat([xt, h], 1), this.w), this.b); // [B, 3D]
      const z = tf.sigmoid(tf.slice(g, [0, 0], [-1, DIM]));
      const r = tf.sigmoid(tf.slice(g, [0, DIM], [-1, DIM]));
      const c = tf.tanh(tf.add(tf.slice(g, [0, 2 * DIM], [-1, DIM]), tf.mul(r, h)));
      h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), c));
    }
    const logits = tf.matMul(h, this.emb, false, true); // [B, ITEMS]: full softmax
    return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, ITEMS), logits) as tf.Scalar;
  }

  step(seqs: tf.Tensor2D, labels: tf.Tensor1D): number {
    const cost = this.opt.minimize(() => this.loss(seqs, labels), true);
    const v = cost === null ? NaN : cost.dataSync()[0];
    cost?.dispose();
    return v;
  }

  dispose(): void {
    this.opt.dispose();
    tf.dispose([this.emb, this.w, this.b]);
  }
}

/**
 * Times training steps. Also returns the loss before any update (forward only), which must agree
 * across backends: the same seed gives the same weights and batch everywhere.
 */
function benchTrainStep(seed: number, seqLen: number, warmup: number, steps: number): { ms: number; initialLoss: number } {
  const rng = Rng.stream(seed, 'perf-backend-train');
  const model = new TinyRecModel(rng);
  const seqs = tf.tensor2d(ints(rng, BATCH * seqLen, ITEMS), [BATCH, seqLen], 'int32');
  const labels = tf.tensor1d(ints(rng, BATCH, ITEMS), 'int32');
  const l0 = tf.tidy(() => model.loss(seqs, labels));
  const initialLoss = l0.dataSync()[0];
  l0.dispose();
  const ms = steps > 0 ? timeIt(() => model.step(seqs, labels), warmup, steps) : NaN;
  tf.dispose([seqs, labels]);
  model.dispose();
  return { ms, initialLoss };
}

function parseArgs(argv: string[]): BackendPerfOptions {
  const opts: BackendPerfOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--steps') opts.steps = value();
    else if (flag === '--cpu-steps') opts.cpuSteps = value();
    else if (flag === '--seq-len') opts.seqLen = value();
    else if (flag === '--seed') opts.seed = value();
    else throw new UsageError(`unknown argument ${argv[i]} (accepted: --steps, --cpu-steps, --seq-len, --seed)`);
  }
  return opts;
}

export async function main(options: BackendPerfOptions = parseArgs(process.argv.slice(2))): Promise<BackendPerfResult> {
  const { steps = 10, cpuSteps = 1, seqLen = 10, seed = 1, log = (l: string) => console.log(l) } = options;
  const rng = Rng.stream(seed, 'perf-backend');
  const before = tf.getBackend() as string | undefined; // undefined before any backend is set
  const result: BackendPerfResult = {
    matmul: {} as BackendPerfResult['matmul'],
    matmulTransposeB: {},
    segmentSumMs: null,
    stepMs: {},
    initialLoss: {},
    cpuOverWasm: null,
  };

  const load = os.loadavg()[0];
  log(`tfjs ${tf.version.tfjs}, Node ${process.version}, ${os.cpus().length} cores, load average ${load.toFixed(1)}`);
  if (load > os.cpus().length) log('  (the machine is busy: timings are pessimistic)');
  log(`matmul ${1024}x${DIM}x${ITEMS} (${((2 * 1024 * DIM * ITEMS) / 1e9).toFixed(3)} GFLOP per call):`);
  for (const name of BACKEND_NAMES) {
    const a = await activateBackend(name);
    if (!a.ok) {
      result.matmul[name] = { unavailable: a.why };
      log(`  ${name.padEnd(10)} unavailable: ${a.why}`);
      continue;
    }
    const r = benchMatmul(rng, name === 'cpu');
    result.matmul[name] = r;
    log(`  ${name.padEnd(10)} ${r.gflops.toFixed(2).padStart(7)} GFLOP/s  (${r.ms.toFixed(1)} ms per call; ${a.detail})`);
    if (name !== 'cpu') {
      const t = benchMatmul(rng, false, true);
      result.matmulTransposeB[name] = t;
      log(`  ${''.padEnd(10)} ${t.gflops.toFixed(2).padStart(7)} GFLOP/s  with transposeB (scores h·Eᵀ against the item table)`);
    }
  }

  if ((await activateBackend('wasm')).ok) {
    result.segmentSumMs = benchSegmentSum(rng);
    log(`UnsortedSegmentSum (embedding gradient) 10,240 ids x ${DIM} into ${ITEMS} rows, wasm JS fallback: ` + `${result.segmentSumMs.toFixed(2)} ms`);
  }

  log(`training step: batch ${BATCH}, ${seqLen}-item sequences, embedding ${ITEMS}x${DIM}, GRU-like cell, full softmax, Adam`);
  const plan: [BackendName, number, number][] = [
    ['tensorflow', 2, steps],
    ['wasm', 2, steps],
    ['cpu', 0, cpuSteps],
  ];
  for (const [name, warmup, n] of plan) {
    if ('unavailable' in result.matmul[name]) continue;
    if (!(await activateBackend(name)).ok) continue;
    const r = benchTrainStep(seed, seqLen, warmup, n);
    result.initialLoss[name] = r.initialLoss;
    const loss = `initial loss ${r.initialLoss.toFixed(5)}`;
    if (n <= 0) {
      log(`  ${name.padEnd(10)} ${'skipped'.padStart(7)}                 (${loss})`);
      continue;
    }
    result.stepMs[name] = r.ms;
    log(`  ${name.padEnd(10)} ${r.ms.toFixed(0).padStart(7)} ms per step (${n === 1 ? '1 step' : `median of ${n}`}; ${loss})`);
  }
  const { wasm, cpu } = result.stepMs;
  if (wasm !== undefined && cpu !== undefined) {
    result.cpuOverWasm = cpu / wasm;
    log(`  cpu / wasm = ${result.cpuOverWasm.toFixed(0)}x`);
  }
  if (before !== undefined) await tf.setBackend(before);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}
