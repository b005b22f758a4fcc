/**
 * The second core for RL updates. wasm runs one thread per tfjs engine in Node, so an update's
 * gradient chunks (policyGradientStep) are split between the main thread and a worker thread with
 * its own engine and copies of the policy and reference weights (sent with every request: the
 * weights change every update). The main thread posts the worker its chunks, computes its own
 * meanwhile, then blocks (Atomics.wait) until the reply is flagged and takes it with
 * receiveMessageOnPort, as the simulator shards do (simulators/shard.ts): the update stays
 * synchronous. Each chunk is the same computation (chunkGradient) wherever it runs, so results do
 * not depend on the worker (tested).
 *
 * Use `startUpdateWorker(net)` and `terminate()` when done. `rlWorkers()` reads how many to use.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { backendInfo } from '../compute/backend.ts';
import { invariant, RunFailure, UsageError } from '../core/errors.ts';
import type { PolicyNetwork, Trajectories } from './policy.ts';
import type { UpdateWorkerInit, UpdateWorkerPart, UpdateWorkerReply, UpdateWorkerRequest } from './pg-worker-thread.ts';

/** No update chunk comes near this; past it the worker is presumed dead. */
const REPLY_TIMEOUT_MS = 300_000;

/** The environment variable that sets the number of update workers (0 or 1). */
export const RL_WORKERS_ENV = 'PRORL_RL_WORKERS';

/**
 * Update workers to use: PRORL_RL_WORKERS (0 or 1; default 0). Results do not depend on it; time
 * does: a second core helps only when it is free. On the shared 2-core machine where this was
 * measured (load average 5-8 from other work) the worker made updates slower, not faster (README,
 * "RL training speed"), so it is opt-in.
 */
export function rlWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[RL_WORKERS_ENV];
  if (raw === undefined || raw === '') return 0;
  if (raw !== '0' && raw !== '1') throw new UsageError(`${RL_WORKERS_ENV} must be 0 or 1, got '${raw}'`);
  return Number(raw);
}

export class UpdateWorker {
  private seq = 0;
  private readonly flag: Int32Array;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    flag: SharedArrayBuffer,
  ) {
    this.flag = new Int32Array(flag);
  }

  /** Starts a worker thread holding a network of `net`'s architecture (weights come with each request). */
  static async start(net: PolicyNetwork): Promise<UpdateWorker> {
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
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`RL update worker exited with code ${code} before it was ready`)));
    });
    worker.unref();
    port1.unref();
    return new UpdateWorker(worker, port1, flag);
  }

  /** Posts chunks to compute with these weights; the worker starts at once. Returns the ticket for `wait`. */
  send(
    policy: Record<string, Float32Array>,
    ref: Record<string, Float32Array>,
    parts: { sub: Trajectories; adv: Float32Array }[],
    N: number,
    beta: number,
    fused: boolean,
  ): number {
    const seq = ++this.seq;
    const req: UpdateWorkerRequest = { seq, policy, ref, parts, N, beta, fused };
    this.worker.postMessage(req);
    return seq;
  }

  /** Blocks until the reply to `seq` is in. */
  wait(seq: number): UpdateWorkerPart[] {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.flag, 0);
      if (done < seq) {
        // A crashed worker never answers, and a blocked main thread cannot see its 'exit' event.
        if (Date.now() > deadline) throw new RunFailure(`RL update worker did not answer within ${REPLY_TIMEOUT_MS / 1000}s (crashed or out of memory?)`);
        Atomics.wait(this.flag, 0, done, 1_000);
        continue;
      }
      for (;;) {
        const m = receiveMessageOnPort(this.port);
        invariant(m, 'RL update worker: reply flagged but not received');
        const reply = m.message as UpdateWorkerReply;
        if (reply.seq !== seq) continue;
        if (reply.error) {
          const e = new Error(`RL update worker: ${reply.error.message}`);
          e.name = reply.error.name;
          throw e;
        }
        return reply.parts!;
      }
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
