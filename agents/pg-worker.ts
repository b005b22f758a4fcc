/**
 * Training workers: every core for the RL rollouts and updates. wasm runs one thread per tfjs
 * engine in Node, so an update's rollouts (`rollout`: contiguous blocks of whole groups, each
 * played in an environment rebuilt from the run's recipe) and its gradient chunks
 * (policyGradientStep) are dealt to N workers: the main thread (worker 0) and N − 1 worker
 * threads, each with its own engine and copies of the policy and reference weights (sent with
 * every request: the weights change every update). Chunk c goes to worker
 * c mod N. The main thread posts each thread its chunks, computes its own meanwhile, then blocks
 * (Atomics.wait) on each thread in turn until its reply is flagged and takes it with
 * receiveMessageOnPort, as the simulator shards do (simulators/shard.ts): the update stays
 * synchronous. The chunks are fixed by the batch (whole groups, `gradChunks` of them), each is the
 * same computation (chunkGradient, same shapes, same kernels) wherever it runs, and the chunk
 * gradients are summed in chunk order on the main thread: results are bit-identical for every N
 * (test/train-workers.test.ts). N only changes how many chunks run at once (at most `gradChunks`).
 *
 * Use `TrainWorkers.start(net, threads)` and `terminate()` when done (the RL loop does so in a
 * `finally`: on errors and on Ctrl-C too). `trainWorkers()` reads how many workers to use. A thread
 * that fails makes the update fail with its message (a RunFailure); one that died is noticed at
 * the next update, or after REPLY_TIMEOUT_MS when it dies in the middle of one.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { backendInfo } from '../compute/backend.ts';
import { invariant, RunFailure, UsageError } from '../core/errors.ts';
import { replicasOf } from '../core/rng.ts';
import { ProactiveRecVectorEnv } from '../envs/proactive.ts';
import type { PolicyNetwork, Trajectories } from './policy.ts';
import { runEpisodes, type RolloutPath } from './rollout.ts';
import type { RolloutRequest, UpdateWorkerInit, UpdateWorkerPart, UpdateWorkerReply, UpdateWorkerRequest, WorkerReady } from './pg-worker-thread.ts';

/** No update chunk comes near this; past it the worker is presumed dead. */
const REPLY_TIMEOUT_MS = 300_000;

/** The environment variable that sets the number of training workers (N ≥ 1, the main thread included). */
export const TRAIN_WORKERS_ENV = 'PRORL_TRAIN_WORKERS';

/** The older switch of one extra update thread (0 or 1): PRORL_RL_WORKERS=1 is PRORL_TRAIN_WORKERS=2. */
export const RL_WORKERS_ENV = 'PRORL_RL_WORKERS';

/**
 * The older PRORL_RL_WORKERS (0 or 1; 0 when unset): update worker threads beside the main thread.
 * Kept for scripts that set it; PRORL_TRAIN_WORKERS takes precedence.
 */
export function rlWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[RL_WORKERS_ENV];
  if (raw === undefined || raw === '') return 0;
  if (raw !== '0' && raw !== '1') throw new UsageError(`${RL_WORKERS_ENV} must be 0 or 1, got '${raw}'`);
  return Number(raw);
}

/**
 * Training workers to use, the main thread included (N ≥ 1): PRORL_TRAIN_WORKERS, else
 * PRORL_RL_WORKERS + 1 when that is set, else every core (`os.availableParallelism()`). Results
 * never depend on it; time does: a core helps only when it is free. `bench --train-workers N` sets
 * PRORL_TRAIN_WORKERS (with `--jobs J` its default is the cores ÷ J).
 */
export function trainWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[TRAIN_WORKERS_ENV];
  const legacy = rlWorkers(env);
  if (raw !== undefined && raw !== '') {
    if (!/^[1-9][0-9]*$/.test(raw)) throw new UsageError(`${TRAIN_WORKERS_ENV} must be a positive integer, got '${raw}'`);
    return Number(raw);
  }
  const legacySet = env[RL_WORKERS_ENV] !== undefined && env[RL_WORKERS_ENV] !== '';
  return legacySet ? legacy + 1 : Math.max(1, os.availableParallelism());
}

/** The worker (0 = the main thread) that computes chunk c of an update with N workers. */
export function chunkWorker(c: number, N: number): number {
  return c % N;
}

/** One worker thread: its own engine, a policy and a reference network. */
class WorkerThread {
  private seq = 0;
  private exited: string | null = null;
  private readonly flag: Int32Array;

  private constructor(
    readonly index: number,
    private readonly worker: Worker,
    private readonly port: MessagePort,
    flag: SharedArrayBuffer,
    /** The environments the thread can build (the built-in ones): rollouts of others stay on the main thread. */
    readonly envs: ReadonlySet<string>,
  ) {
    this.flag = new Int32Array(flag);
    worker.on('error', (e) => (this.exited ??= e.message));
    worker.on('exit', (code) => (this.exited ??= `exited with code ${code}`));
  }

  static async start(net: PolicyNetwork, index: number): Promise<WorkerThread> {
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const init: UpdateWorkerInit = {
      entry: new URL(import.meta.url.endsWith('.ts') ? './pg-worker-thread.ts' : './pg-worker-thread.js', import.meta.url).href,
      numItems: net.numItems,
      config: net.config,
      items: net.items,
      trainSequences: net.trainSequences,
      backend: backendInfo().name,
      flag,
      reply: port2,
    };
    const worker = new Worker(fileURLToPath(new URL('./worker-boot.mjs', import.meta.url)), { workerData: init, transferList: [port2] });
    let envs: ReadonlySet<string> = new Set();
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (m: WorkerReady) => {
          envs = new Set(m.envs);
          resolve();
        });
        worker.once('error', (e) => reject(new RunFailure(`RL training worker ${index} failed to start: ${e.message}`)));
        worker.once('exit', (code) => reject(new RunFailure(`RL training worker ${index} exited with code ${code} before it was ready`)));
      });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    worker.unref();
    port1.unref();
    return new WorkerThread(index, worker, port1, flag, envs);
  }

  /** Posts chunks to compute with these weights; the thread starts at once. Returns the ticket for `wait`. */
  send(
    policy: Record<string, Float32Array>,
    ref: Record<string, Float32Array>,
    parts: { sub: Trajectories; adv: Float32Array }[],
    N: number,
    beta: number,
    fused: boolean,
  ): number {
    return this.post({ op: 'update', policy, ref, parts, N, beta, fused });
  }

  /** Posts a block of rollouts (RolloutRequest without its sequence number). Returns the ticket for `waitPaths`. */
  sendRollout(req: Omit<RolloutRequest, 'seq' | 'op'>): number {
    return this.post({ op: 'rollout', ...req });
  }

  private post(req: Omit<UpdateWorkerRequest, 'seq'> | Omit<RolloutRequest, 'seq'>): number {
    if (this.exited !== null) throw new RunFailure(`RL training worker ${this.index} ${this.exited}`);
    const seq = ++this.seq;
    this.worker.postMessage({ ...req, seq });
    return seq;
  }

  /** Blocks until the reply to the update request `seq` is in. */
  wait(seq: number): UpdateWorkerPart[] {
    return this.reply(seq).parts!;
  }

  /** Blocks until the reply to the rollout request `seq` is in. */
  waitPaths(seq: number): RolloutPath[] {
    return this.reply(seq).paths!;
  }

  private reply(seq: number): UpdateWorkerReply {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.flag, 0);
      if (done < seq) {
        // A crashed worker never answers, and a blocked main thread cannot see its 'exit' event.
        if (Date.now() > deadline)
          throw new RunFailure(`RL training worker ${this.index} did not answer within ${REPLY_TIMEOUT_MS / 1000}s (crashed or out of memory?)`);
        Atomics.wait(this.flag, 0, done, 1_000);
        continue;
      }
      for (;;) {
        const m = receiveMessageOnPort(this.port);
        invariant(m, 'RL training worker: reply flagged but not received');
        const reply = m.message as UpdateWorkerReply;
        if (reply.seq !== seq) continue;
        if (reply.error) throw new RunFailure(`RL training worker ${this.index}: ${reply.error.message}`);
        return reply;
      }
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A chunk of an update as the pool computes it. */
export interface WorkUnit {
  sub: Trajectories;
  adv: Float32Array;
}

/** N training workers: the main thread and N − 1 threads. */
export class TrainWorkers {
  private constructor(private readonly threads: WorkerThread[]) {}

  /**
   * Starts `threads` worker threads (default 1) holding networks of `net`'s architecture (weights
   * come with each request); the pool has threads + 1 workers. If one fails to start, the others
   * are stopped and the error is thrown.
   */
  static async start(net: PolicyNetwork, threads = 1): Promise<TrainWorkers> {
    invariant(Number.isInteger(threads) && threads >= 0, `TrainWorkers.start: threads must be a non-negative integer, got ${threads}`);
    const started = await Promise.allSettled(Array.from({ length: threads }, (_, i) => WorkerThread.start(net, i + 1)));
    const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((t) => t.terminate()));
      throw failed.reason;
    }
    return new TrainWorkers(ok);
  }

  /** Workers in the pool, the main thread included. */
  get size(): number {
    return this.threads.length + 1;
  }

  /**
   * The chunk gradients of one update: unit k runs on worker chunkWorker(k, size) (`local` on the
   * main thread, the others posted first so that every worker computes at once). Returns one
   * result per unit, in unit order; `fromRemote` turns a thread's reply into the main thread's form.
   */
  run<T>(
    units: readonly WorkUnit[],
    weights: { policy: () => Record<string, Float32Array>; ref: () => Record<string, Float32Array> },
    opts: { N: number; beta: number; fused: boolean },
    local: (unit: WorkUnit, k: number) => T,
    fromRemote: (part: UpdateWorkerPart, k: number) => T,
  ): T[] {
    const W = this.size;
    const byWorker: number[][] = Array.from({ length: W }, () => []);
    units.forEach((_, k) => byWorker[chunkWorker(k, W)].push(k));
    const posted: { thread: WorkerThread; ticket: number; ks: number[] }[] = [];
    if (byWorker.slice(1).some((ks) => ks.length > 0)) {
      const policy = weights.policy();
      const ref = weights.ref();
      for (const thread of this.threads) {
        const ks = byWorker[thread.index];
        if (ks.length === 0) continue;
        posted.push({
          thread,
          ticket: thread.send(
            policy,
            ref,
            ks.map((k) => units[k]),
            opts.N,
            opts.beta,
            opts.fused,
          ),
          ks,
        });
      }
    }
    const out = new Array<T>(units.length);
    for (const k of byWorker[0]) out[k] = local(units[k], k);
    // Every posted reply is collected (also after a failure, so that no reply is left behind).
    let failure: unknown = null;
    for (const { thread, ticket, ks } of posted) {
      try {
        thread.wait(ticket).forEach((part, j) => (out[ks[j]] = fromRemote(part, ks[j])));
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== null) throw failure;
    return out;
  }

  /**
   * The rollouts of one update (runEpisodes on the `train` split), split by whole groups of `G`
   * rows into contiguous blocks, one per worker: block 0 on the main thread, block k on thread k,
   * each in an environment of its block's size rebuilt from `env`'s recipe, then joined in row
   * order. Every row's episode is keyed by its case and replica (core/rng.ts) and computed row by
   * row, so the paths are those of one batch of all rows: results do not depend on N
   * (test/train-workers.test.ts). Null when this environment cannot be rebuilt in the threads (a
   * world built by hand, or an environment registered outside the built-ins) or there are fewer
   * than two groups: the caller rolls out on the main thread.
   */
  rollout(
    net: PolicyNetwork,
    env: ProactiveRecVectorEnv,
    caseIndices: readonly number[],
    G: number,
    sampleSeed: number,
    envSeed: number,
  ): RolloutPath[] | null {
    const recipe = env.recipe;
    const groups = Math.floor(caseIndices.length / G);
    if (!recipe || groups * G !== caseIndices.length || groups < 2 || !this.threads.every((t) => t.envs.has(recipe.id))) return null;
    const W = Math.min(this.size, groups);
    const bounds = Array.from({ length: W + 1 }, (_, k) => Math.round((k * groups) / W) * G);
    // A case in two blocks (a batch that repeats a case) would get other replica numbers, hence other streams, in its block.
    const replicas = replicasOf(caseIndices);
    for (let k = 0; k < W; k++) {
      const r = replicasOf(caseIndices.slice(bounds[k], bounds[k + 1]));
      if (r.some((x, i) => x !== replicas[bounds[k] + i])) return null;
    }
    const policy = net.params.snapshot();
    const posted = this.threads.slice(0, W - 1).map((thread, i) => ({
      thread,
      ticket: thread.sendRollout({
        policy,
        recipe,
        config: env.config,
        caseIndices: caseIndices.slice(bounds[i + 1], bounds[i + 2]),
        sampleSeed,
        envSeed,
      }),
    }));
    let local: RolloutPath[] = [];
    let failure: unknown = null;
    try {
      local = runEpisodes(net, this.blockEnv(env, bounds[1]), 'train', caseIndices.slice(0, bounds[1]), sampleSeed, envSeed);
    } catch (e) {
      failure = e;
    }
    // Every posted reply is collected (also after a failure, so that no reply is left behind).
    const remote: RolloutPath[][] = [];
    for (const { thread, ticket } of posted) {
      try {
        remote.push(thread.waitPaths(ticket));
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== null) throw failure;
    return [local, ...remote].flat();
  }

  /** The main thread's environment for a block of `rows` rows of `env` (kept while env and rows are the same). */
  private block: { of: ProactiveRecVectorEnv; env: ProactiveRecVectorEnv } | null = null;
  private blockEnv(env: ProactiveRecVectorEnv, rows: number): ProactiveRecVectorEnv {
    if (this.block?.of === env && this.block.env.numEnvs === rows) return this.block.env;
    this.block?.env.close();
    const e = new ProactiveRecVectorEnv(env.id, env.world, rows, env.config);
    this.block = { of: env, env: e };
    return e;
  }

  /** Stops every thread. */
  async terminate(): Promise<void> {
    this.block?.env.close();
    this.block = null;
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

/** The one-extra-thread form of the pool (PRORL_RL_WORKERS=1), kept for existing callers. */
export const UpdateWorker = TrainWorkers;
export type UpdateWorker = TrainWorkers;
