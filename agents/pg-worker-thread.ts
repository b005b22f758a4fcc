/**
 * A training worker's thread (agents/pg-worker.ts): its own tfjs engine and backend (the main
 * thread's, with the same kernels: PRORL_BLAS is read here too), copies of the policy and the
 * reference policy. Each request brings the current weights of both and chunks
 * of an update; the reply holds each chunk's gradient (chunkGradient) as float32 arrays. Replies go
 * out on the reply port, then the request's sequence number is stored in the shared flag and
 * notified, so the main thread can block on it.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { initBackend } from '../compute/backend.ts';
import type { ItemTable } from '../data/dataset.ts';
import { chunkGradient } from './pg-loss.ts';
import { PolicyNetwork, type PolicyConfig, type Trajectories } from './policy.ts';

export interface UpdateWorkerInit {
  entry: string;
  numItems: number;
  config: PolicyConfig;
  items: ItemTable | null;
  trainSequences: readonly (readonly number[])[] | null;
  backend: string;
  flag: SharedArrayBuffer;
  reply: MessagePort;
}

export interface UpdateWorkerRequest {
  seq: number;
  policy: Record<string, Float32Array>;
  ref: Record<string, Float32Array>;
  parts: { sub: Trajectories; adv: Float32Array }[];
  N: number;
  beta: number;
  fused: boolean;
}

export interface UpdateWorkerPart {
  grads: Record<string, Float32Array>;
  loss: number;
  kl: number;
  entropy: number;
}

export interface UpdateWorkerReply {
  seq: number;
  error?: { name: string; message: string };
  parts?: UpdateWorkerPart[];
}

const init = workerData as UpdateWorkerInit;
const flag = new Int32Array(init.flag);
await initBackend({ backend: init.backend, quiet: true });
const net = new PolicyNetwork(init.numItems, init.config, { seed: 0, items: init.items, trainSequences: init.trainSequences });
const ref = new PolicyNetwork(init.numItems, init.config, {
  seed: 0,
  trainable: false,
  label: 'reference',
  items: init.items,
  trainSequences: init.trainSequences,
});

function handle(req: UpdateWorkerRequest): UpdateWorkerPart[] {
  net.params.restore(req.policy);
  ref.params.restore(req.ref);
  return req.parts.map(({ sub, adv }) => {
    const g = chunkGradient(net, ref, sub, { advantages: adv, batchPaths: req.N, beta: req.beta, fused: req.fused });
    const grads: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(g.grads)) {
      grads[k] = (t.dataSync() as Float32Array).slice();
      t.dispose();
    }
    return { grads, loss: g.loss, kl: g.kl, entropy: g.entropy };
  });
}

parentPort!.on('message', (req: UpdateWorkerRequest) => {
  let reply: UpdateWorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const parts = handle(req);
    reply = { seq: req.seq, parts };
    transfer = parts.flatMap((p) => Object.values(p.grads).map((a) => a.buffer as ArrayBuffer));
  } catch (e) {
    const err = e as Error;
    reply = { seq: req.seq, error: { name: err.name, message: `${err.message}\n${err.stack ?? ''}` } };
  }
  init.reply.postMessage(reply, transfer);
  Atomics.store(flag, 0, req.seq);
  Atomics.notify(flag, 0);
});
parentPort!.postMessage('ready');
