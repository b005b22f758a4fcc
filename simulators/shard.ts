/**
 * Both cores for one simulator: wasm runs one thread per tfjs engine in Node, so a batch is split
 * by rows between the main thread and worker threads, each with its own engine and a copy of the
 * weights. The contract stays synchronous: the main thread sends a shard its rows, computes its own
 * rows meanwhile, then blocks (Atomics.wait) until the shard's reply is ready and takes it with
 * receiveMessageOnPort. Small batches (below `minRows`) are not split: the messages would cost
 * more than the second core gives.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { AdvanceResult, SimulatorBatch, TargetStats, UserSimulator } from './simulator.ts';
import { NonFiniteScoresError, TfSimulator, validateItems } from './batch.ts';
import { paramValues } from './model.ts';
import type { ShardInit, ShardReply, ShardRequest } from './shard-worker.ts';
import { backendInfo } from '../compute/backend.ts';
import { ContractError, invariant, RunFailure } from '../core/errors.ts';

/** '.ts' when run from source, '.js' in the built package. */
const OWN_EXT = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';

/** No single shard call comes near this; past it the worker is presumed dead. */
const REPLY_TIMEOUT_MS = 300_000;

type Request = ShardRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

class Shard {
  private seq = 0;
  private readonly flag: Int32Array;
  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    flag: SharedArrayBuffer,
  ) {
    this.flag = new Int32Array(flag);
  }

  static async start(simulator: TfSimulator, seed: number): Promise<Shard> {
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const init: ShardInit = {
      entry: new URL(`./shard-worker${OWN_EXT}`, import.meta.url).href,
      config: simulator.model.config,
      numItems: simulator.numItems,
      seed,
      values: paramValues(simulator.model.params),
      backend: backendInfo().name,
      flag,
      reply: port2,
    };
    const worker = new Worker(fileURLToPath(new URL('./shard-boot.mjs', import.meta.url)), { workerData: init, transferList: [port2] });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`simulator shard worker exited with code ${code} before it was ready`)));
    });
    worker.unref();
    port1.unref();
    return new Shard(worker, port1, flag);
  }

  /** Sends a request; the shard starts on it at once. Returns its sequence number for `wait`. */
  send(req: Request): number {
    const seq = ++this.seq;
    this.worker.postMessage({ ...req, seq });
    return seq;
  }

  /** Blocks until the reply to `seq` is in, dropping replies to earlier fire-and-forget requests. */
  wait<T>(seq: number): T {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.flag, 0);
      if (done < seq) {
        // A crashed worker never answers, and a blocked main thread cannot see its 'exit' event.
        if (Date.now() > deadline) throw new RunFailure(`simulator shard worker did not answer within ${REPLY_TIMEOUT_MS / 1000}s (crashed or out of memory?)`);
        Atomics.wait(this.flag, 0, done, 1_000);
        continue;
      }
      let reply: ShardReply | undefined;
      for (;;) {
        const m = receiveMessageOnPort(this.port);
        invariant(m, 'simulator shard: reply flagged but not received');
        reply = m.message as ShardReply;
        if (reply.seq === seq) break;
      }
      if (reply.error) {
        if (reply.error.name === 'NonFiniteScoresError') throw new NonFiniteScoresError('a worker shard');
        const e = new Error(`simulator shard: ${reply.error.message}`);
        e.name = reply.error.name;
        throw e;
      }
      return reply.value as T;
    }
  }

  call<T>(req: Request): T {
    return this.wait<T>(this.send(req));
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class ShardedSimulator implements UserSimulator {
  readonly id: string;
  readonly numItems: number;
  readonly stateDim: number;
  private nextBatch = 0;

  private constructor(
    readonly local: TfSimulator,
    private readonly shards: Shard[],
    private readonly minRows: number,
  ) {
    this.id = local.id;
    this.numItems = local.numItems;
    this.stateDim = local.stateDim;
  }

  /** Starts `workers` shard threads holding copies of the simulator's weights. */
  static async create(local: TfSimulator, opts: { seed: number; workers?: number; minRows?: number }): Promise<ShardedSimulator> {
    const shards = await Promise.all(Array.from({ length: opts.workers ?? 1 }, () => Shard.start(local, opts.seed)));
    return new ShardedSimulator(local, shards, opts.minRows ?? 256);
  }

  get model() {
    return this.local.model;
  }

  itemVectors(): Float32Array {
    return this.local.itemVectors();
  }

  open(sequences: readonly (readonly number[])[]): SimulatorBatch {
    if (sequences.length < this.minRows) return this.local.open(sequences);
    sequences.forEach((s, r) => {
      if (s.length === 0) throw new ContractError(`sequence ${r} is empty`);
      validateItems(s, this.numItems, `sequences[${r}]`);
    });
    const parts = this.shards.length + 1;
    const bounds = Array.from({ length: parts + 1 }, (_, k) => Math.round((k * sequences.length) / parts));
    const remotes: RemoteBatch[] = [];
    const pending = this.shards.map((shard, k) => {
      const id = this.nextBatch++;
      remotes.push(new RemoteBatch(shard, id, bounds[k + 2] - bounds[k + 1], () => this.nextBatch++));
      return shard.send({ op: 'open', batch: id, sequences: sequences.slice(bounds[k + 1], bounds[k + 2]).map((s) => s.slice()) });
    });
    const local = this.local.open(sequences.slice(0, bounds[1]));
    this.shards.forEach((shard, k) => shard.wait(pending[k]));
    return new ShardedBatch([local, ...remotes], this.numItems);
  }

  /** Stops the shard threads; the local simulator stays usable. */
  async terminateWorkers(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.terminate()));
  }

  async dispose(): Promise<void> {
    await this.terminateWorkers();
    this.local.dispose();
  }
}

/** A shard's part of a batch, driven from the main thread. */
class RemoteBatch {
  constructor(
    readonly shard: Shard,
    readonly id: number,
    readonly size: number,
    private readonly newId: () => number,
  ) {}
  clone(): RemoteBatch {
    const into = this.newId();
    this.shard.call({ op: 'clone', batch: this.id, into });
    return new RemoteBatch(this.shard, into, this.size, this.newId);
  }
}

class ShardedBatch implements SimulatorBatch {
  readonly size: number;
  private readonly offsets: number[];
  private disposed = false;

  constructor(
    private readonly parts: [SimulatorBatch, ...RemoteBatch[]],
    private readonly numItems: number,
  ) {
    this.offsets = [0];
    for (const p of parts) this.offsets.push(this.offsets[this.offsets.length - 1] + p.size);
    this.size = this.offsets[parts.length];
  }

  private check(): void {
    if (this.disposed) throw new ContractError('SimulatorBatch used after dispose()');
  }

  private checkLength(a: ArrayLike<number>, what: string): void {
    if (a.length !== this.size) throw new ContractError(`${what} has ${a.length} entries, the batch has ${this.size} rows`);
  }

  /** Runs `remote` on every shard first (they work meanwhile), then `local`, then gathers. */
  private fanOut<T>(local: (b: SimulatorBatch, from: number, to: number) => T, remote: (from: number, to: number) => Request): T[] {
    const [head, ...remotes] = this.parts;
    const pending = remotes.map((r, k) => r.shard.send({ ...remote(this.offsets[k + 1], this.offsets[k + 2]), batch: r.id } as Request));
    const results: T[] = [local(head, 0, this.offsets[1])];
    remotes.forEach((r, k) => results.push(r.shard.wait<T>(pending[k])));
    return results;
  }

  states(): Float32Array {
    this.check();
    return concatF32(
      this.fanOut(
        (b) => b.states(),
        () => ({ op: 'states', batch: 0 }),
      ),
    );
  }

  scores(): Float32Array {
    this.check();
    return concatF32(
      this.fanOut(
        (b) => b.scores(),
        () => ({ op: 'scores', batch: 0 }),
      ),
    );
  }

  targetStats(targets: Int32Array): TargetStats {
    this.check();
    this.checkLength(targets, 'targets');
    validateItems(targets, this.numItems, 'targets');
    const parts = this.fanOut(
      (b, from, to) => b.targetStats(targets.subarray(from, to)),
      (from, to) => ({ op: 'targetStats', batch: 0, targets: targets.slice(from, to) }),
    );
    return { logProb: concatF64(parts.map((p) => p.logProb)), rank: concatF64(parts.map((p) => p.rank)) };
  }

  ctr(items: Int32Array): Float64Array {
    this.check();
    this.checkLength(items, 'items');
    validateItems(items, this.numItems, 'items');
    return concatF64(
      this.fanOut(
        (b, from, to) => b.ctr(items.subarray(from, to)),
        (from, to) => ({ op: 'ctr', batch: 0, items: items.slice(from, to) }),
      ),
    );
  }

  advance(items: Int32Array, targets: Int32Array, rows?: Uint8Array): AdvanceResult {
    this.check();
    this.checkLength(items, 'items');
    this.checkLength(targets, 'targets');
    if (rows) this.checkLength(rows, 'rows');
    // Validate everything before any shard moves, so an error leaves all shards unchanged.
    validateItems(targets, this.numItems, 'targets');
    for (let r = 0; r < this.size; r++) {
      if (rows && !rows[r]) continue;
      const i = items[r];
      if (!Number.isInteger(i) || i < 0 || i >= this.numItems) throw new ContractError(`items[${r}] = ${i} is not an item id in [0, ${this.numItems})`);
    }
    const parts = this.fanOut(
      (b, from, to) => b.advance(items.subarray(from, to), targets.subarray(from, to), rows?.subarray(from, to)),
      (from, to) => ({ op: 'advance', batch: 0, items: items.slice(from, to), targets: targets.slice(from, to), rows: rows?.slice(from, to) }),
    );
    return { ctr: concatF64(parts.map((p) => p.ctr)), logProb: concatF64(parts.map((p) => p.logProb)), rank: concatF64(parts.map((p) => p.rank)) };
  }

  clone(): SimulatorBatch {
    this.check();
    const [head, ...remotes] = this.parts;
    return new ShardedBatch([head.clone(), ...remotes.map((r) => r.clone())], this.numItems);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const [head, ...remotes] = this.parts;
    head.dispose();
    for (const r of remotes) r.shard.send({ op: 'dispose', batch: r.id });
  }
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function concatF64(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
