/**
 * RL training throughput: paths per second of the rollout, the update and both, at the trainer's
 * defaults (16 cases × G = 16 = 256 paths per update, REINFORCE advantages, exact KL to the
 * reference with β = 0.01, gradChunks 4, a freshly initialised policy: ~10 items per path), for
 * this package on the wasm backend with N = 1 training worker (the main thread alone) and N = every
 * core (agents/pg-worker.ts), each with the wasm kernels and, when the native kernels addon is
 * built, with its exact kernels (the default install's: the same bits), and OpenBLAS's products at
 * N = 1 when the addon has them, beside a PyTorch
 * reference of the same work (benchmarks/perf/torch_rl.py: the same policy, N and item-prior
 * width, and a stand-in of the reward model), run in the same session, alternating with ours, when
 * `python3` (on the PATH, else /usr/bin/python3) with torch is available; otherwise the reference's
 * figures recorded in RECORDED_TORCH below are printed, and the output says which. PyTorch runs on one
 * thread and on every core (its BLAS's threads included); the output names the BLAS it loaded, which decides its
 * speed (a reference BLAS is several times slower than OpenBLAS or MKL). Machines shared with
 * other work are noisy: compare the ratios, and the CPU milliseconds (process CPU time, all threads).
 *
 * `--env ID[,ID…]` measures other environments (default synthetic-v0 and ml-1m-v0, the latter
 * skipped with a note when its dataset is not found; ml-1m-v0's simulators load from the cache or
 * the shipped checkpoints, or train first; `--world JSON` passes world options, e.g.
 * '{"simulatorTrain":{"maxEpochs":1}}' for a quick simulator of the same architecture, hence the
 * same speed). The PyTorch reference has stand-ins for synthetic-v0's dynamics and for SASRec
 * reward models (ml-1m-v0, steam-v0, books-v0 by default), not for GRU4Rec ones.
 *
 * The output gives the load average (1, 5 and 15 minutes) before and after, and the kernels that ran.
 *
 *   npx tsx benchmarks/perf/rl.ts [--rounds 3] [--iters 4] [--workers 1,CORES] [--torch-threads 1,CORES]
 *                                 [--python python3] [--env ID] [--world JSON]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../envs/index.ts';
import { makeVec } from '../../envs/registry.ts';
import type { ProactiveRecVectorEnv } from '../../envs/proactive.ts';
import { deriveSeed } from '../../core/rng.ts';
import { reinforce, type Rollout } from '../../agents/estimators.ts';
import { AdamW, ensureBackend } from '../../agents/nn.ts';
import { packPaths, PolicyNetwork } from '../../agents/policy.ts';
import { TrainWorkers } from '../../agents/pg-worker.ts';
import { backendInfo, numericsId } from '../../compute/backend.ts';
import { policyGradientStep } from '../../agents/rl.ts';
import { runEpisodes } from '../../agents/rollout.ts';
import type { ModelConfig } from '../../simulators/config.ts';
import { registerNativeBlasKernels, unregisterNativeBlasKernels, WASM_FALLBACK_KERNELS } from '../../compute/kernels/index.ts';
import { blasChoice, loadNativeBlasIfBuilt } from '../../compute/kernels/native-matmul.ts';

/** The kernel sets measured at every N: the wasm kernels, the addon's exact kernels. */
type Kernels = 'wasm' | 'exact';

const CASES = 16;
const G = 16;
const PATHS = CASES * G;
const CHUNKS = 4;
const BETA = 0.01;

/**
 * The PyTorch reference as last measured on a free 2-core machine, printed when it cannot run
 * here: wall-clock medians in ms per update of 256 paths, per environment.
 */
export const RECORDED_TORCH: Record<string, { rolloutMs: number; update4Ms: number; note: string }> = {
  'synthetic-v0': { rolloutMs: 74.4, update4Ms: 81.8, note: 'torch 1.13, OpenBLAS, free machine' },
  'ml-1m-v0': { rolloutMs: 212.4, update4Ms: 161.8, note: 'torch 1.13, OpenBLAS, free machine' },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Timing {
  rolloutMs: number;
  updateMs: number;
  rolloutCpuMs: number;
  updateCpuMs: number;
  length: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A policy, its reference and optimiser on an environment, updated `iters` times per call. */
export class TsTrainer {
  private update = 0;
  private constructor(
    readonly env: ProactiveRecVectorEnv,
    readonly net: PolicyNetwork,
    readonly ref: PolicyNetwork,
    readonly optimizer: AdamW,
  ) {}

  static async create(envId: string, world: Record<string, unknown>): Promise<TsTrainer> {
    await ensureBackend();
    const env = await makeVec(envId, PATHS, { stepEvaluator: false, world, log: (line: string) => console.error(line) });
    const net = new PolicyNetwork(env.numItems, {}, { seed: 1, items: env.world.dataset.items, trainSequences: env.world.dataset.sequences.train });
    const ref = new PolicyNetwork(
      env.numItems,
      {},
      { seed: 1, trainable: false, label: 'reference', items: env.world.dataset.items, trainSequences: env.world.dataset.sequences.train },
    );
    ref.params.copyFrom(net.params);
    const optimizer = new AdamW(net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
    return new TsTrainer(env, net, ref, optimizer);
  }

  /** `iters` updates (the first of the process is a warm-up, not counted); per-update timings. */
  run(iters: number, worker: TrainWorkers | null): Timing[] {
    const out: Timing[] = [];
    const train = this.env.cases('train').length;
    for (let i = 0; i < iters; i++) {
      const u = this.update++;
      const prompts = Array.from({ length: CASES }, (_, j) => ((u * CASES + j) * 7919) % train);
      const caseIndices = prompts.flatMap((c) => new Array<number>(G).fill(c));
      const c0 = cpuMs();
      const t0 = performance.now();
      const [sampleSeed, envSeed] = [deriveSeed(1, `perf/sample-${u}`), deriveSeed(1, `perf/env-${u}`)];
      const paths =
        worker?.rollout(this.net, this.env, caseIndices, G, sampleSeed, envSeed) ?? runEpisodes(this.net, this.env, 'train', caseIndices, sampleSeed, envSeed);
      const t1 = performance.now();
      const c1 = cpuMs();
      const rollouts: Rollout[] = paths.map((p, k) => ({
        group: Math.floor(k / G),
        rewards: Float64Array.from(p.ioi, (x, t) => x + p.ior[t] + p.ctr[t]),
        stopped: p.stopped,
      }));
      policyGradientStep(this.net, this.ref, packPaths(paths), reinforce(rollouts), this.optimizer, { groupSize: G, chunks: CHUNKS, beta: BETA, worker });
      const t2 = performance.now();
      const c2 = cpuMs();
      if (u === 0) continue;
      out.push({
        rolloutMs: t1 - t0,
        updateMs: t2 - t1,
        rolloutCpuMs: c1 - c0,
        updateCpuMs: c2 - c1,
        length: paths.reduce((n, p) => n + p.items.length, 0) / PATHS,
      });
    }
    return out;
  }
}

interface TorchResult {
  /** The BLAS library the process loaded (torch's matrix products on CPU run on it). */
  blas: string;
  rolloutMs: number;
  rolloutCpuMs: number;
  update4Ms: number;
  update4CpuMs: number;
  meanLength: number;
  torch: string;
}

/**
 * What the PyTorch reference needs to do the same work as the TS trainer on an environment: N, the
 * width of the policy's item-prior features, and the reward model (synthetic-v0's dynamics or a
 * SASRec of the same architecture); null and the reason when it has no stand-in for it.
 */
export function torchWorkload(trainer: TsTrainer): { args: string[]; reason: string } {
  const { env, net } = trainer;
  const features = net.params.keys.includes('prior_proj') ? net.params.get('prior_proj').shape[0] : 0;
  const base = ['--items', String(env.numItems), '--features', String(features)];
  if (env.id.startsWith('synthetic-v0')) return { args: [...base, '--world', 'synthetic'], reason: '' };
  const config = (env.world.simulator as { model?: { config?: ModelConfig } }).model?.config;
  if (config?.model !== 'sasrec')
    return {
      args: [],
      reason: `the PyTorch reference has stand-ins for synthetic-v0 and SASRec reward models only (${env.id}: ${config?.model ?? env.world.simulator.id})`,
    };
  return { args: [...base, '--world', 'sasrec', '--sasrec', JSON.stringify(config)], reason: '' };
}

/** Runs the PyTorch reference once on `threads` threads; null and the reason when it cannot run. */
function runTorch(python: string, iters: number, workload: string[], threads = 1): { result: TorchResult | null; reason: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_rl.py');
  // The thread count whatever the BLAS: torch's own setting does not bind OpenBLAS's or MKL's threads.
  const t = String(threads);
  const threadEnv = { OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
  const r = spawnSync(python, [script, '--iters', String(iters), '--threads', t, ...workload], { encoding: 'utf8', env: { ...process.env, ...threadEnv } });
  if (r.error) return { result: null, reason: `${python} could not be started (${r.error.message})` };
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return {
      result: null,
      reason: /No module named .?torch/.test(r.stderr)
        ? `${python} has no torch module`
        : `${python} ${path.basename(script)} exited with ${r.status}: ${last}`,
    };
  }
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult, reason: '' };
}

const rate = (ms: number) => (ms > 0 ? (PATHS / ms) * 1000 : NaN);
const fmt = (x: number, w = 8) => (Number.isFinite(x) ? x.toFixed(0) : '-').padStart(w);

const LABEL = 60;

function row(label: string, rollout: number, update: number, cpu: string): string {
  return `${label.padEnd(LABEL)} ${fmt(rate(rollout))} ${fmt(rate(update))} ${fmt(rate(rollout + update))}   ${fmt(rollout + update, 6)} ms   ${cpu}`;
}

export async function main(): Promise<void> {
  // Every environment listed (default: synthetic-v0 and ml-1m-v0; the latter only when its dataset
  // is found: the release snapshot, PRORL_SNAPSHOT_DIR or PRORL_DATA_DIR).
  const explicitEnv = process.argv.includes('--env');
  for (const envId of arg('env', 'synthetic-v0,ml-1m-v0').split(',')) {
    try {
      await measure(envId);
    } catch (e) {
      if (explicitEnv || envId === 'synthetic-v0') throw e;
      console.log(`# ${envId}: not measured (${(e as Error).message.split('\n')[0]}); --env ${envId} to see the whole error`);
    }
  }
}

async function measure(envId: string): Promise<void> {
  const rounds = Number(arg('rounds', '3'));
  const iters = Number(arg('iters', '4'));
  const cores = os.availableParallelism();
  // The training workers measured (agents/pg-worker.ts; N = 1 is the main thread alone) and
  // PyTorch's threads: 1 and every core unless --workers / --torch-threads list others.
  const list = (name: string) =>
    [...new Set(arg(name, `1,${cores}`).split(',').map(Number))].filter((n) => Number.isInteger(n) && n >= 1).sort((x, y) => x - y);
  const workerCounts = list('workers');
  const torchThreads = list('torch-threads');
  // python3 on the PATH first; when it has no torch (a version manager's python, say), the
  // system's /usr/bin/python3, where Debian's python3-torch installs it.
  const explicit = process.argv.includes('--python') || Boolean(process.env.PRORL_PYTHON);
  let python = arg('python', process.env.PRORL_PYTHON ?? 'python3');
  const world = JSON.parse(arg('world', '{}')) as Record<string, unknown>;
  const trainer = await TsTrainer.create(envId, world);
  // The kernels measured: the wasm kernels (PRORL_BLAS=wasm) and, when the addon is built, its
  // exact kernels (the default install's: the same bits) at every N, and OpenBLAS's products
  // (PRORL_BLAS=native: other round-off) at N = 1. The main thread swaps its kernels around each
  // variant; a pool's threads take theirs from PRORL_BLAS as it was when they started.
  const addon = loadNativeBlasIfBuilt().blas;
  const kernelSets: Kernels[] = addon ? ['wasm', 'exact'] : ['wasm'];
  const openBlas = addon && typeof addon.gemm === 'function' ? addon : null;
  const useKernels = (k: Kernels | 'native') => {
    unregisterNativeBlasKernels();
    if (k !== 'wasm') registerNativeBlasKernels(k === 'native' ? openBlas! : addon!, k);
  };
  const load0 = os.loadavg();
  const pools = new Map<string, TrainWorkers | null>();
  const savedBlas = process.env.PRORL_BLAS;
  try {
    for (const k of kernelSets)
      for (const n of workerCounts) {
        process.env.PRORL_BLAS = k;
        pools.set(`${k}/N${n}`, n > 1 ? await TrainWorkers.start(trainer.net, n - 1) : null);
      }
  } finally {
    if (savedBlas === undefined) delete process.env.PRORL_BLAS;
    else process.env.PRORL_BLAS = savedBlas;
  }
  const ts = new Map<string, Timing[]>([...pools.keys(), 'native'].map((key) => [key, []]));
  const torch = new Map<number, TorchResult[]>(torchThreads.map((n) => [n, []]));
  const workload = torchWorkload(trainer);
  let torchReason = workload.reason;
  try {
    for (const [key, pool] of pools) {
      useKernels(key.split('/')[0] as Kernels);
      trainer.run(1, pool); // warm-up (every thread's first update)
    }
    for (let r = 0; r < rounds; r++) {
      // Alternating, so that every variant sees the same load.
      for (const [key, pool] of pools) {
        useKernels(key.split('/')[0] as Kernels);
        ts.get(key)!.push(...trainer.run(iters, pool));
      }
      if (openBlas) {
        useKernels('native');
        ts.get('native')!.push(...trainer.run(iters, null));
      }
      for (const threads of torchThreads) {
        if (torchReason) break;
        let t = runTorch(python, iters, workload.args, threads);
        if (!t.result && !explicit && python !== '/usr/bin/python3' && / has no torch module$/.test(t.reason)) {
          const system = runTorch('/usr/bin/python3', iters, workload.args, threads);
          if (system.result) [python, t] = ['/usr/bin/python3', system];
        }
        if (t.result) torch.get(threads)!.push(t.result);
        else torchReason = t.reason;
      }
    }
  } finally {
    useKernels(blasChoice() === 'native' && openBlas ? 'native' : blasChoice() === 'wasm' || !addon ? 'wasm' : 'exact');
    for (const pool of pools.values()) await pool?.terminate();
    trainer.env.close();
  }
  const load1 = os.loadavg();

  console.log(
    `\n# RL training speed, ${envId} (${trainer.env.numItems} items): ${PATHS} paths per update (${CASES} cases × G = ${G}), REINFORCE, exact KL (β = ${BETA}), gradChunks ${CHUNKS}`,
  );
  console.log(
    `# medians over ${rounds} rounds × ${iters} updates; load average ${load0.map((x) => x.toFixed(2)).join(' ')} → ${load1.map((x) => x.toFixed(2)).join(' ')} (1, 5, 15 min) on ${cores} cores`,
  );
  const m = (xs: Timing[], k: keyof Timing) => median(xs.map((x) => x[k]));
  console.log(
    `${''.padEnd(LABEL)} ${'rollout'.padStart(8)} ${'update'.padStart(8)} ${'total'.padStart(8)}   (paths/s; ms per update; CPU ms rollout + update, all threads)`,
  );
  const kernelLabel: Record<Kernels, string> = {
    wasm: addon ? 'wasm kernels' : 'wasm kernels (default install)',
    exact: 'native exact (default install)',
  };
  const rows: [string, string][] = [...pools.keys()].map((key) => {
    const [k, nKey] = key.split('/');
    const n = Number(nKey.slice(1));
    return [key, `prorec-gym, ${kernelLabel[k as Kernels]}, ${n === 1 ? 'N = 1' : `N = ${n}`}`];
  });
  rows.push(['native', 'prorec-gym, OpenBLAS (PRORL_BLAS=native), N = 1']);
  for (const [key, label] of rows) {
    const xs = ts.get(key)!;
    if (xs.length === 0) continue;
    console.log(row(label, m(xs, 'rolloutMs'), m(xs, 'updateMs'), `${fmt(m(xs, 'rolloutCpuMs'), 5)} + ${fmt(m(xs, 'updateCpuMs'), 5)}`));
  }
  const total = (xs: Timing[]) => m(xs, 'rolloutMs') + m(xs, 'updateMs');
  const torchTotals = new Map<number, number>();
  let blas = '';
  for (const [threads, results] of torch) {
    if (results.length === 0) continue;
    const tm = (k: keyof TorchResult) => median(results.map((t) => t[k] as number));
    torchTotals.set(threads, tm('rolloutMs') + tm('update4Ms'));
    blas = results[0].blas;
    console.log(
      row(
        `PyTorch ${results[0].torch}, ${threads} thread${threads === 1 ? '' : 's'} (measured now)`,
        tm('rolloutMs'),
        tm('update4Ms'),
        `${fmt(tm('rolloutCpuMs'), 5)} + ${fmt(tm('update4CpuMs'), 5)}`,
      ),
    );
  }
  if (torchTotals.size > 0) {
    console.log(
      `# PyTorch: ${python}, BLAS ${blas}${/openblas|mkl/i.test(blas) ? '' : ' (not OpenBLAS or MKL: a reference BLAS makes PyTorch several times slower; Debian: apt-get install libopenblas0-pthread)'}`,
    );
  } else if (RECORDED_TORCH[envId]) {
    const rec = RECORDED_TORCH[envId];
    torchTotals.set(1, rec.rolloutMs + rec.update4Ms);
    console.log(row('PyTorch, 1 thread (recorded figures)', rec.rolloutMs, rec.update4Ms, rec.note));
    console.log(`# the PyTorch reference did not run: ${torchReason}; the figures above are recorded ones (RECORDED_TORCH in benchmarks/perf/rl.ts)`);
  } else console.log(`# the PyTorch reference did not run: ${torchReason}`);
  // prorec-gym's total paths/s ÷ PyTorch's best (its fastest thread count here), per variant.
  const best = [...torchTotals].sort((x, y) => x[1] - y[1])[0];
  const ratios = best
    ? rows
        .filter(([key]) => ts.get(key)!.length > 0)
        .map(([key, label]) => `${label.replace('prorec-gym, ', '')}: ${(best[1] / total(ts.get(key)!)).toFixed(2)}`)
    : [];
  const first = ts.get([...pools.keys()][0])!;
  console.log(
    `# total paths/s ÷ PyTorch's best here (${best ? `${best[0]} thread${best[0] === 1 ? '' : 's'}` : 'none'}): ${ratios.length ? ratios.join('; ') : 'no PyTorch figures'}; mean path length ${m(first, 'length').toFixed(2)}`,
  );
  if (workerCounts.length > 1) {
    for (const k of kernelSets) {
      const base = ts.get(`${k}/N${workerCounts[0]}`)!;
      const eff = workerCounts.slice(1).map((n) => {
        const x = ts.get(`${k}/N${n}`)!;
        return `N = ${n}: ×${(total(base) / total(x)).toFixed(2)} (update ×${(m(base, 'updateMs') / m(x, 'updateMs')).toFixed(2)})`;
      });
      console.log(`# ${kernelLabel[k]}, speed-up over N = ${workerCounts[0]}: ${eff.join(', ')}`);
    }
    console.log(`# the workers take blocks of the rollout's groups and the gradient chunks (at most gradChunks = ${CHUNKS} at once)`);
  }
  if (addon) {
    const w = ts.get(`wasm/N${workerCounts[0]}`)!;
    const e = ts.get(`exact/N${workerCounts[0]}`)!;
    console.log(
      `# native exact kernels ÷ wasm kernels (N = ${workerCounts[0]}, total): ×${(total(w) / total(e)).toFixed(2)}; the same bits (test/native-blas.test.ts)`,
    );
  }
  console.log(`# kernels: ${numericsId()} (${backendInfo().reason}); wasm kernels of this package: ${WASM_FALLBACK_KERNELS.join(', ')}`);
  if (!addon) console.log('# native kernels not measured: the addon is not built (it is built at install time where a C compiler is; npm run build:native)');
  else if (!openBlas)
    console.log("# OpenBLAS's products not measured: the addon was built without OpenBLAS (apt-get install libopenblas-dev; npm run build:native)");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
