/**
 * A benchmark worker thread: initialises its own backend (the one asked for, else the automatic
 * choice), then runs the planned runs it is sent one at a time, writing each result file itself.
 * Protocol: runner.ts (WorkerRequest in, WorkerMessage out).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../compute/backend.ts';
import { executeRun, type WorkerMessage, type WorkerRequest } from './runner.ts';

const port = parentPort;
if (!port) throw new Error('benchmarks/worker.ts runs in a worker thread');
const send = (m: WorkerMessage) => port.postMessage(m);
const log = (line: string) => send({ type: 'log', line });

try {
  const info = await initBackend({ backend: (workerData as { backend: string | null }).backend ?? undefined, quiet: true });
  const backend = { name: info.name, reason: info.reason };
  port.on('message', async (req: WorkerRequest) => {
    if (req.type === 'exit') {
      port.close();
      return;
    }
    try {
      const result = await executeRun(req.run, {
        out: req.out,
        code: req.code,
        backend,
        log,
        onProgress: (phase, done, total, message) => send({ type: 'progress', phase, done, total, message }),
      });
      send({ type: 'done', result });
    } catch (e) {
      send({ type: 'failed', error: (e as Error).stack ?? String(e) });
    }
  });
  send({ type: 'ready', backend: info.name, reason: info.reason });
} catch (e) {
  send({ type: 'fatal', error: (e as Error).stack ?? String(e) });
}
