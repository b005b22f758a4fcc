/**
 * The worker thread that holds an agent process (channel.ts): it spawns the process, writes the
 * frames the main thread sends to its stdin, cuts its stdout into frames and posts each one to the
 * main thread (then bumps the shared counter and wakes it: the main thread may be blocked in
 * Atomics.wait, since `Agent.act` is synchronous), passes its stderr through and keeps the tail,
 * and reports its exit. Nothing here parses a message: the main thread does.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { splitFrame } from './protocol.ts';

export interface IoWorkerData {
  entry: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Int32 counter: bumped after every message posted to `port`. */
  flag: SharedArrayBuffer;
  port: MessagePort;
  /** Pass the process's stderr through to ours, live. */
  echoStderr: boolean;
  /** Who the process is, in messages. */
  source: string;
}

/** Messages to the main thread. */
export type IoEvent =
  | { kind: 'spawned'; pid: number }
  | { kind: 'frame'; header: Uint8Array; payload: Uint8Array }
  | { kind: 'garbage'; message: string }
  | { kind: 'exit'; code: number | null; signal: string | null; error: string | null; stderr: string };

/** Messages from the main thread. */
export type IoCommand = { kind: 'write'; data: Uint8Array } | { kind: 'end' } | { kind: 'kill' };

const STDERR_TAIL_BYTES = 8192;

const d = workerData as IoWorkerData;
const flag = new Int32Array(d.flag);
const post = (e: IoEvent, transfer: ArrayBuffer[] = []) => {
  d.port.postMessage(e, transfer);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
};

let stderrTail = Buffer.alloc(0);
let exited = false;
let spawnError: string | null = null;
const child = spawn(d.command, d.args, { cwd: d.cwd, env: d.env, stdio: ['pipe', 'pipe', 'pipe'] });
if (child.pid !== undefined) post({ kind: 'spawned', pid: child.pid });

let pending: Buffer = Buffer.alloc(0);
let broken = false;
child.stdout.on('data', (chunk: Buffer) => {
  if (broken) return;
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  try {
    for (;;) {
      const f = splitFrame(pending, d.source);
      if (!f) break;
      // Copies: the read buffer is reused.
      const header = Uint8Array.from(f.header);
      const payload = Uint8Array.from(f.payload);
      post({ kind: 'frame', header, payload }, [header.buffer, payload.buffer]);
      pending = pending.subarray(f.length);
    }
  } catch (e) {
    broken = true;
    post({ kind: 'garbage', message: (e as Error).message });
    child.kill('SIGKILL');
  }
});
child.stderr.on('data', (chunk: Buffer) => {
  if (d.echoStderr) {
    try {
      writeSync(2, chunk);
    } catch {
      // our stderr is gone: keep the tail only
    }
  }
  stderrTail = Buffer.concat([stderrTail, chunk]);
  if (stderrTail.length > STDERR_TAIL_BYTES) stderrTail = stderrTail.subarray(stderrTail.length - STDERR_TAIL_BYTES);
});
child.stdin.on('error', () => {
  // EPIPE: the process is gone; its exit is reported
});
child.on('error', (e) => {
  spawnError = e.message;
  if (child.pid === undefined) finish(null, null);
});
const finish = (code: number | null, signal: string | null) => {
  if (exited) return;
  exited = true;
  post({ kind: 'exit', code, signal, error: spawnError, stderr: stderrTail.toString('utf8') });
  parentPort?.close();
  d.port.close();
};
// 'close' comes once stdout and stderr are drained too; a grandchild holding them open must not keep the exit unreported.
child.on('close', (code, signal) => finish(code, signal));
child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 500).unref());

parentPort?.on('message', (m: IoCommand) => {
  if (m.kind === 'write') child.stdin.write(m.data);
  else if (m.kind === 'end') child.stdin.end();
  else if (m.kind === 'kill') child.kill('SIGKILL');
});
