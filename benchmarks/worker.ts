/**
 * A benchmark worker thread: initialises its own backend (the one asked for, else the automatic
 * choice), then runs the planned runs it is sent one at a time, writing each result file itself.
 * Protocol: runner.ts (WorkerRequest in, WorkerMessage out).
 *
 * While a run is in flight the port does not keep the thread alive (`unref`), so a run whose
 * promise can never settle empties the event loop: 'beforeExit' reports it as a failed run and the
 * worker retires (the runner starts another for the runs left).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../compute/backend.ts';
import { whenHung } from '../core/main.ts';
import { executeRun, HANG_MESSAGE, type WorkerMessage, type WorkerRequest } from './runner.ts';
import { invariant } from '../core/errors.ts';

const port = parentPort;
invariant(port, 'benchmarks/worker.ts runs in a worker thread');
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
    port.unref();
    const release = whenHung(() => send({ type: 'failed', error: HANG_MESSAGE, retire: true }));
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
    } finally {
      release();
      port.ref();
    }
  });
  send({ type: 'ready', backend: info.name, reason: info.reason });
} catch (e) {
  send({ type: 'fatal', error: (e as Error).stack ?? String(e) });
}
