/**
 * The harness's end of an agent process: it starts the process (in a worker thread that holds its
 * pipes: io-worker.ts), sends frames, and receives them either blocking (Atomics.wait: `Agent.act`
 * is synchronous) or asynchronously (Atomics.waitAsync: `train`, so the event loop keeps running).
 *
 * Every wait for a message is bounded by the reply timeout (`PRORL_AGENT_TIMEOUT` seconds, bench
 * `--agent-timeout`): a process that sends nothing for that long is taken as hung, killed, and the
 * run fails. It is a guard, never part of a result. Every process is reaped: killed when the run
 * ends, fails or times out, and when the harness exits (also on SIGINT and SIGTERM).
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { InternalError, ProrecError, UsageError } from '../../core/errors.ts';
import { decodeFrame, encodeFrame, ProtocolError, type Message, type WireArray } from './protocol.ts';
import type { IoCommand, IoEvent, IoWorkerData } from './io-worker.ts';

/** The agent process failed: it reported an error, crashed, hung or broke the protocol. */
export class AgentProcessError extends ProrecError {
  readonly kind = 'failure';
}

/** Atomics.waitAsync (Node 16+; in TypeScript's lib from es2024 on). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
}

export const DEFAULT_AGENT_TIMEOUT_SECONDS = 300;
export const AGENT_TIMEOUT_VARIABLE = 'PRORL_AGENT_TIMEOUT';

/** The reply timeout in seconds from PRORL_AGENT_TIMEOUT (default 300); a UsageError naming the variable when it is not a positive number. */
export function agentTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[AGENT_TIMEOUT_VARIABLE];
  if (raw === undefined || raw === '') return DEFAULT_AGENT_TIMEOUT_SECONDS;
  const v = Number(raw);
  if (!(Number.isFinite(v) && v > 0))
    throw new UsageError(`${AGENT_TIMEOUT_VARIABLE}=${raw}: expected a positive number of seconds (how long the harness waits for an agent process's reply)`);
  return v;
}

// Processes alive in this thread, killed when it exits (process.kill works on any pid: the
// worker thread that spawned them may be gone already).
const live = new Set<number>();
let reaperInstalled = false;
function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', () => {
    for (const pid of live) killPid(pid);
  });
  // Signals that would end Node without 'exit' when nothing else handles them: reap, then die of
  // the same signal as before.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      for (const pid of live) killPid(pid);
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './io-worker.ts' : './io-worker.js', import.meta.url).href;
const BOOT = fileURLToPath(new URL('../worker-boot.mjs', import.meta.url));

export interface StartOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  /** Added to the process's environment. */
  env?: Record<string, string>;
  /** Who the process is, in messages (e.g. "agent process ./my_agent.py"). */
  source: string;
  /** Reply timeout in seconds (default: agentTimeoutSeconds()). */
  timeoutSeconds?: number;
  /** Pass its stderr through to ours (default true). */
  echoStderr?: boolean;
}

export class AgentProcess {
  readonly source: string;
  readonly timeoutSeconds: number;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag: Int32Array;
  private pid: number | null = null;
  private exit: Extract<IoEvent, { kind: 'exit' }> | null = null;
  private failed: Error | null = null;
  private workerError: Error | null = null;

  private constructor(o: StartOptions) {
    this.source = o.source;
    this.timeoutSeconds = o.timeoutSeconds ?? agentTimeoutSeconds();
    const shared = new SharedArrayBuffer(4);
    this.flag = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const env = Object.fromEntries(Object.entries({ ...process.env, ...(o.env ?? {}) }).filter((e): e is [string, string] => e[1] !== undefined));
    const data: IoWorkerData = {
      entry: ENTRY,
      command: o.command,
      args: [...o.args],
      cwd: o.cwd,
      env,
      flag: shared,
      port: port2,
      echoStderr: o.echoStderr ?? true,
      source: o.source,
    };
    // execArgv []: the boot file registers the TypeScript loader itself; the harness's own flags
    // (`--import tsx`) would resolve against the current folder, which need not hold the package.
    this.worker = new Worker(BOOT, { workerData: data, transferList: [port2], execArgv: [] });
    this.worker.on('error', (e) => {
      // A worker that cannot run is a bug of this package; wake whoever waits (asynchronously: start).
      this.workerError = e;
      Atomics.add(this.flag, 0, 1);
      Atomics.notify(this.flag, 0);
    });
    this.worker.unref();
    this.port.unref();
  }

  /** Starts the process; throws an AgentProcessError when it cannot be started. */
  static async start(o: StartOptions): Promise<AgentProcess> {
    installReaper();
    const p = new AgentProcess(o);
    const first = await p.nextEvent('the process to start');
    if (first.kind === 'spawned') {
      p.pid = first.pid;
      live.add(first.pid);
    } else {
      p.handleEvent(first, 'starting');
    }
    return p;
  }

  /** Sends one frame. */
  send(header: Record<string, unknown> & { type: string }, arrays: Record<string, WireArray> = {}): void {
    if (this.failed) throw this.failed;
    const data = encodeFrame(header, arrays);
    this.worker.postMessage({ kind: 'write', data } satisfies IoCommand, [data.buffer as ArrayBuffer]);
  }

  /** The next message, blocking this thread (at most the reply timeout). `what` says what is awaited, for errors. */
  receiveSync(what: string): Message {
    return this.toMessage(this.nextEventSync(what), what);
  }

  /** The next message, without blocking the event loop (at most the reply timeout). */
  async receive(what: string): Promise<Message> {
    return this.toMessage(await this.nextEvent(what), what);
  }

  /** Sends a request and waits (blocking) for its reply, of type `replyType`. */
  requestSync(header: Record<string, unknown> & { type: string }, arrays: Record<string, WireArray>, replyType: string): Message {
    this.send(header, arrays);
    return this.expect(this.receiveSync(`the reply to '${header.type}'`), header.type, replyType);
  }

  /** Checks that `m` is the reply `replyType` to `request`; an `error` message becomes the agent's error. */
  expect(m: Message, request: string, replyType: string): Message {
    if (m.header.type !== replyType) throw this.fail(new ProtocolError(`${this.source}: replied '${m.header.type}' to '${request}', expected '${replyType}'`));
    return m;
  }

  /** The last lines of the process's stderr (what it wrote so far, when it has exited). */
  stderrTail(lines = 20): string {
    const text = this.exit?.stderr ?? '';
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /**
   * Ends the process: asks it to close (a `close` message, when it is still healthy), waits up to
   * `graceSeconds` for it to exit, then kills it. Idempotent; never throws.
   */
  close(graceSeconds = 5): void {
    if (this.exit === null && this.failed === null) {
      try {
        this.send({ type: 'close' });
        this.worker.postMessage({ kind: 'end' } satisfies IoCommand);
        this.waitForExit(graceSeconds);
      } catch {
        // falls through to the kill
      }
    }
    this.kill();
  }

  /** Kills the process at once and waits (briefly) for its exit to be reported. Never throws. */
  kill(): void {
    if (this.exit === null) {
      try {
        this.worker.postMessage({ kind: 'kill' } satisfies IoCommand);
      } catch {
        // the worker is gone
      }
      if (this.pid !== null) killPid(this.pid);
      this.waitForExit(5);
    }
    if (this.pid !== null) live.delete(this.pid);
    void this.worker.terminate();
  }

  /** Whether the process has exited (and been reaped). */
  get exited(): boolean {
    return this.exit !== null;
  }

  private waitForExit(seconds: number): void {
    const deadline = Date.now() + seconds * 1000;
    while (this.exit === null && Date.now() < deadline) {
      const e = this.pollEvent(deadline - Date.now());
      if (e?.kind === 'exit') this.exit = e;
    }
  }

  /** The next event, or null after `ms` without one. */
  private pollEvent(ms: number): IoEvent | null {
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m) return m.message as IoEvent;
      const seen = Atomics.load(this.flag, 0);
      const again = receiveMessageOnPort(this.port);
      if (again) return again.message as IoEvent;
      if (ms <= 0) return null;
      const start = Date.now();
      const r = Atomics.wait(this.flag, 0, seen, ms);
      if (r === 'timed-out') return null;
      ms -= Date.now() - start;
    }
  }

  private nextEventSync(what: string): IoEvent {
    if (this.failed) throw this.failed;
    const e = this.pollEvent(this.timeoutSeconds * 1000);
    if (e === null) throw this.timedOut(what);
    return e;
  }

  private async nextEvent(what: string): Promise<IoEvent> {
    if (this.failed) throw this.failed;
    const deadline = Date.now() + this.timeoutSeconds * 1000;
    for (;;) {
      const now = receiveMessageOnPort(this.port);
      if (now) return now.message as IoEvent;
      const seen = Atomics.load(this.flag, 0);
      const again = receiveMessageOnPort(this.port);
      if (again) return again.message as IoEvent;
      const left = deadline - Date.now();
      if (this.workerError) throw this.fail(new InternalError(`${this.source}: its I/O thread failed: ${this.workerError.message}`));
      if (left <= 0) throw this.timedOut(what);
      // A timer keeps the event loop alive while the wait is pending (a pending waitAsync does not).
      const keepAlive = setTimeout(() => {}, left + 1000);
      try {
        const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.flag, 0, seen, left);
        if (w.async) await w.value;
      } finally {
        clearTimeout(keepAlive);
      }
    }
  }

  private toMessage(e: IoEvent, what: string): Message {
    const m = this.handleEvent(e, what);
    if (m.header.type === 'error') {
      const message = typeof m.header.message === 'string' ? m.header.message : JSON.stringify(m.header.message);
      const trace = typeof m.header.traceback === 'string' && m.header.traceback.trim() ? `\n${m.header.traceback.trimEnd()}` : '';
      this.close(2);
      throw this.fail(new AgentProcessError(`${this.source} failed (${what}): ${message}${trace}${this.tailText()}`));
    }
    return m;
  }

  private handleEvent(e: IoEvent, what: string): Message {
    switch (e.kind) {
      case 'frame':
        try {
          return decodeFrame(e.header, e.payload, this.source);
        } catch (err) {
          this.kill();
          throw this.fail(err as Error);
        }
      case 'garbage':
        this.kill();
        throw this.fail(new ProtocolError(`${e.message} (while waiting for ${what})${this.tailText()}`));
      case 'exit': {
        this.exit = e;
        if (this.pid !== null) live.delete(this.pid);
        void this.worker.terminate();
        const how = e.error
          ? `could not be started: ${e.error}`
          : `exited ${e.signal ? `on signal ${e.signal}` : `with code ${e.code}`} while the harness waited for ${what}`;
        throw this.fail(new AgentProcessError(`${this.source} ${how}${this.tailText()}`));
      }
      case 'spawned':
        this.pid = e.pid;
        live.add(e.pid);
        return this.handleEvent(this.nextEventSync(what), what);
    }
  }

  private timedOut(what: string): Error {
    this.kill();
    return this.fail(
      new AgentProcessError(
        `${this.source} sent nothing for ${this.timeoutSeconds} s while the harness waited for ${what}: taken as hung and killed ` +
          `(the reply timeout: bench --agent-timeout SECONDS or ${AGENT_TIMEOUT_VARIABLE}; a guard, never part of a result)${this.tailText()}`,
      ),
    );
  }

  private tailText(): string {
    const tail = this.stderrTail();
    return tail ? `\n--- stderr of the agent process (last lines) ---\n${tail}` : '';
  }

  /** Records the first failure: later calls throw it again. */
  private fail(e: Error): Error {
    this.failed ??= e;
    return e;
  }
}
