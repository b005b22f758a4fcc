/**
 * A simulator shard in a worker thread: its own tfjs engine and wasm backend (wasm runs one thread
 * per engine in Node), a copy of the weights, and the batches (row ranges) the main thread gives
 * it. Requests arrive as messages; each reply goes out on the reply port, then the request's
 * sequence number is stored in the shared flag and notified, so the main thread can block on it.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ensureBackend } from './runtime.ts';
import { createModel } from './model.ts';
import { TfSimulator } from './batch.ts';
import type { SimulatorBatch } from './simulator.ts';
import type { ModelConfig } from './config.ts';
import { invariant } from '../core/errors.ts';

export interface ShardInit {
  entry: string;
  config: ModelConfig;
  numItems: number;
  seed: number;
  values: Map<string, Float32Array>;
  backend?: string;
  flag: SharedArrayBuffer;
  reply: MessagePort;
}

export type ShardRequest =
  | { seq: number; op: 'open'; batch: number; sequences: number[][] }
  | { seq: number; op: 'advance'; batch: number; items: Int32Array; targets: Int32Array; rows?: Uint8Array }
  | { seq: number; op: 'targetStats'; batch: number; targets: Int32Array }
  | { seq: number; op: 'ctr'; batch: number; items: Int32Array }
  | { seq: number; op: 'states' | 'scores' | 'dispose'; batch: number }
  | { seq: number; op: 'clone'; batch: number; into: number };

export interface ShardReply {
  seq: number;
  error?: { name: string; message: string };
  value?: unknown;
}

const init = workerData as ShardInit;
const flag = new Int32Array(init.flag);
await ensureBackend({ backend: init.backend, quiet: true });
const simulator = new TfSimulator(createModel(init.config, init.numItems, init.seed, init.values), 'shard');
const batches = new Map<number, SimulatorBatch>();

function batchOf(id: number): SimulatorBatch {
  const b = batches.get(id);
  invariant(b, () => `shard has no batch ${id}`);
  return b;
}

function handle(req: ShardRequest): { value?: unknown; transfer?: ArrayBuffer[] } {
  switch (req.op) {
    case 'open':
      batches.set(req.batch, simulator.open(req.sequences));
      return {};
    case 'advance': {
      const r = batchOf(req.batch).advance(req.items, req.targets, req.rows);
      return { value: r };
    }
    case 'targetStats':
      return { value: batchOf(req.batch).targetStats(req.targets) };
    case 'ctr':
      return { value: batchOf(req.batch).ctr(req.items) };
    case 'states':
    case 'scores': {
      const v = req.op === 'states' ? batchOf(req.batch).states() : batchOf(req.batch).scores();
      return { value: v, transfer: [v.buffer as ArrayBuffer] };
    }
    case 'clone':
      batches.set(req.into, batchOf(req.batch).clone());
      return {};
    case 'dispose':
      batches.get(req.batch)?.dispose();
      batches.delete(req.batch);
      return {};
  }
}

parentPort!.on('message', (req: ShardRequest) => {
  let reply: ShardReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const out = handle(req);
    reply = { seq: req.seq, value: out.value };
    transfer = out.transfer ?? [];
  } catch (e) {
    const err = e as Error;
    reply = { seq: req.seq, error: { name: err.name, message: err.message } };
  }
  init.reply.postMessage(reply, transfer);
  Atomics.store(flag, 0, req.seq);
  Atomics.notify(flag, 0);
});
parentPort!.postMessage('ready');
