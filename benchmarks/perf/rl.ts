/**
 * RL training throughput: paths per second of the rollout, the update and both, at the trainer's
 * defaults (16 cases × G = 16 = 256 paths per update, REINFORCE advantages, exact KL to the
 * reference with β = 0.01, gradChunks 4, a freshly initialised policy: ~10 items per path), for
 * this package (wasm; with the update worker and on the main thread alone) beside a PyTorch
 * reference of the same work (benchmarks/perf/torch_rl.py: the same policy, N and item-prior
 * width, and a stand-in of the reward model), run in the same session, alternating with ours, when
 * `python3` (on the PATH, else /usr/bin/python3) with torch is available; otherwise the reference's
 * figures recorded in the README are printed, and the output says which. PyTorch runs on one
 * thread (its BLAS's threads included); the output names the BLAS it loaded, which decides its
 * speed (a reference BLAS is several times slower than OpenBLAS or MKL). Machines shared with
 * other work are noisy: compare the ratios, and the CPU milliseconds (process CPU time; with the
 * worker, both threads).
 *
 * `--env ID` measures another environment (e.g. ml-1m-v0, whose simulators load from the cache or
 * the shipped checkpoints, or train first; `--world JSON` passes world options, e.g.
 * '{"simulatorTrain":{"maxEpochs":1}}' for a quick simulator of the same architecture, hence the
 * same speed). The PyTorch reference has stand-ins for synthetic-v0's dynamics and for SASRec
 * reward models (ml-1m-v0, steam-v0, books-v0 by default), not for GRU4Rec ones.
 *
 *   npx tsx benchmarks/perf/rl.ts [--rounds 3] [--iters 4] [--python python3] [--env ID] [--world JSON]
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
import { UpdateWorker } from '../../agents/pg-worker.ts';
import { policyGradientStep } from '../../agents/rl.ts';
import { runEpisodes } from '../../agents/rollout.ts';
import type { ModelConfig } from '../../simulators/config.ts';
import { existsSync } from 'node:fs';
import { registerNativeBlasKernels, unregisterNativeBlasKernels } from '../../compute/kernels/index.ts';
import { blasChoice, loadNativeBlas, NATIVE_BLAS_PATH, type NativeBlas } from '../../compute/kernels/native-matmul.ts';

const CASES = 16;
const G = 16;
const PATHS = CASES * G;
const CHUNKS = 4;
const BETA = 0.01;

/**
 * The PyTorch reference as recorded in the README ("RL training speed"), printed when it cannot run
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
    const net = new PolicyNetwork(env.numItems, {}, 1, true, 'policy', env.world.dataset.items, env.world.dataset.sequences.train);
    const ref = new PolicyNetwork(env.numItems, {}, 1, false, 'reference', env.world.dataset.items, env.world.dataset.sequences.train);
    ref.params.copyFrom(net.params);
    const optimizer = new AdamW(net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 });
    return new TsTrainer(env, net, ref, optimizer);
  }

  /** `iters` updates (the first of the process is a warm-up, not counted); per-update timings. */
  run(iters: number, worker: UpdateWorker | null): Timing[] {
    const out: Timing[] = [];
    const train = this.env.cases('train').length;
    for (let i = 0; i < iters; i++) {
      const u = this.update++;
      const prompts = Array.from({ length: CASES }, (_, j) => ((u * CASES + j) * 7919) % train);
      const caseIndices = prompts.flatMap((c) => new Array<number>(G).fill(c));
      const c0 = cpuMs();
      const t0 = performance.now();
      const paths = runEpisodes(this.net, this.env, 'train', caseIndices, deriveSeed(1, `perf/sample-${u}`), deriveSeed(1, `perf/env-${u}`));
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

/** Runs the PyTorch reference once; null and the reason when it cannot run. */
function runTorch(python: string, iters: number, workload: string[]): { result: TorchResult | null; reason: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_rl.py');
  // One thread, whatever the BLAS: torch's own setting does not bind OpenBLAS's or MKL's threads.
  const oneThread = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync(python, [script, '--iters', String(iters), '--threads', '1', ...workload], { encoding: 'utf8', env: { ...process.env, ...oneThread } });
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
  const rounds = Number(arg('rounds', '3'));
  const iters = Number(arg('iters', '4'));
  // python3 on the PATH first; when it has no torch (a version manager's python, say), the
  // system's /usr/bin/python3, where Debian's python3-torch installs it.
  const explicit = process.argv.includes('--python') || Boolean(process.env.PRORL_PYTHON);
  let python = arg('python', process.env.PRORL_PYTHON ?? 'python3');
  const envId = arg('env', 'synthetic-v0');
  const world = JSON.parse(arg('world', '{}')) as Record<string, unknown>;
  const trainer = await TsTrainer.create(envId, world);
  const load0 = os.loadavg();
  const worker = os.availableParallelism() >= 2 ? await UpdateWorker.start(trainer.net) : null;
  const ts: Record<'worker' | 'main' | 'native', Timing[]> = { worker: [], main: [], native: [] };
  // The native kernels: everywhere with PRORL_BLAS=native; otherwise, when the addon is
  // built, as a third variant on the main thread (the kernel swapped in and out around it).
  const nativeEverywhere = blasChoice() === 'native';
  const nativeVariant: NativeBlas | null = !nativeEverywhere && existsSync(NATIVE_BLAS_PATH) ? loadNativeBlas() : null;
  const torch: TorchResult[] = [];
  const workload = torchWorkload(trainer);
  let torchReason = workload.reason;
  trainer.run(1, worker); // warm-up
  for (let r = 0; r < rounds; r++) {
    // Alternating, so that every variant sees the same load.
    if (worker) ts.worker.push(...trainer.run(iters, worker));
    ts.main.push(...trainer.run(iters, null));
    if (nativeVariant) {
      registerNativeBlasKernels(nativeVariant);
      try {
        ts.native.push(...trainer.run(iters, null));
      } finally {
        unregisterNativeBlasKernels();
      }
    }
    if (!torchReason) {
      let t = runTorch(python, iters, workload.args);
      if (!t.result && !explicit && python !== '/usr/bin/python3' && / has no torch module$/.test(t.reason)) {
        const system = runTorch('/usr/bin/python3', iters, workload.args);
        if (system.result) [python, t] = ['/usr/bin/python3', system];
      }
      if (t.result) torch.push(t.result);
      else torchReason = t.reason;
    }
  }
  await worker?.terminate();
  trainer.env.close();
  const load1 = os.loadavg();

  console.log(
    `# RL training speed, ${envId} (${trainer.env.numItems} items): ${PATHS} paths per update (${CASES} cases × G = ${G}), REINFORCE, exact KL (β = ${BETA}), gradChunks ${CHUNKS}`,
  );
  console.log(
    `# medians over ${rounds} rounds × ${iters} updates; load average ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)} on ${os.availableParallelism()} cores`,
  );
  const m = (xs: Timing[], k: keyof Timing) => median(xs.map((x) => x[k]));
  console.log(
    `${''.padEnd(LABEL)} ${'rollout'.padStart(8)} ${'update'.padStart(8)} ${'total'.padStart(8)}   (paths/s; ms per update; CPU ms rollout + update, both threads with the worker)`,
  );
  const where = nativeEverywhere ? 'native BLAS' : 'wasm';
  for (const [key, label] of [
    ['worker', `prorec-gym, ${where}, update worker (PRORL_RL_WORKERS=1)`],
    ['main', `prorec-gym, ${where}, main thread`],
    ['native', 'prorec-gym, native BLAS (main thread only)'],
  ] as const) {
    const xs = ts[key];
    if (xs.length === 0) continue;
    console.log(row(label, m(xs, 'rolloutMs'), m(xs, 'updateMs'), `${fmt(m(xs, 'rolloutCpuMs'), 5)} + ${fmt(m(xs, 'updateCpuMs'), 5)}`));
  }
  const total = (xs: Timing[]) => m(xs, 'rolloutMs') + m(xs, 'updateMs');
  let torchTotal: number;
  if (torch.length) {
    const tm = (k: keyof TorchResult) => median(torch.map((t) => t[k] as number));
    torchTotal = tm('rolloutMs') + tm('update4Ms');
    console.log(
      row(
        `PyTorch ${torch[0].torch}, 1 thread (measured now)`,
        tm('rolloutMs'),
        tm('update4Ms'),
        `${fmt(tm('rolloutCpuMs'), 5)} + ${fmt(tm('update4CpuMs'), 5)}`,
      ),
    );
    const blas = torch[0].blas;
    console.log(
      `# PyTorch: ${python}, BLAS ${blas}${/openblas|mkl/i.test(blas) ? '' : ' (not OpenBLAS or MKL: a reference BLAS makes PyTorch several times slower; Debian: apt-get install libopenblas0-pthread)'}`,
    );
  } else if (RECORDED_TORCH[envId]) {
    const rec = RECORDED_TORCH[envId];
    torchTotal = rec.rolloutMs + rec.update4Ms;
    console.log(row('PyTorch, 1 thread (README figures)', rec.rolloutMs, rec.update4Ms, rec.note));
    console.log(`# the PyTorch reference did not run: ${torchReason}; the figures above are the ones recorded in the README`);
  } else {
    torchTotal = NaN;
    console.log(`# the PyTorch reference did not run: ${torchReason}`);
  }
  const ratios = Number.isFinite(torchTotal)
    ? `prorec-gym's total paths/s ÷ PyTorch's: main thread ${(torchTotal / total(ts.main)).toFixed(2)}${ts.worker.length ? `, update worker ${(torchTotal / total(ts.worker)).toFixed(2)}` : ''}${ts.native.length ? `, native BLAS ${(torchTotal / total(ts.native)).toFixed(2)}` : ''}; `
    : '';
  console.log(`# ${ratios}mean path length ${m(ts.main, 'length').toFixed(2)}`);
  if (nativeEverywhere)
    console.log(
      '# PRORL_BLAS=native: every prorec-gym row runs its matrix products and the other native kernels (loss passes, bias sums, synthetic simulator step) on the native addon (one thread)',
    );
  else if (nativeVariant)
    console.log(
      "# native BLAS (main thread only): the main thread's matrix products and other native kernels on the native addon, the simulator's shard workers still on wasm; PRORL_BLAS=native puts every thread on it",
    );
  else if (!nativeVariant) console.log('# native BLAS products not measured: the addon is not built (npm run build:native; then PRORL_BLAS=native)');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
