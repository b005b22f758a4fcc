/**
 * Command entries and hangs. Node exits 0 when its event loop empties, even when a promise the
 * program awaits is still pending: a promise that nothing will ever settle (e.g. an agent method
 * that never returns) would end a command "successfully" having done nothing. Node announces that
 * moment with the process's 'beforeExit' event; this module owns the one listener.
 *
 * - `whenHung(cb)`: `cb` runs at the next such moment (once), so a caller can fail the pending
 *   work and go on (the benchmark runner fails the run and continues with the plan).
 * - `runMain(command, main)`: runs a command and exits with its code; if the loop empties while
 *   `main` is pending and no `whenHung` callback takes it, it says so and exits 1.
 */
const hangCallbacks = new Set<() => void>();
let mainRunning: string | null = null;
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  process.on('beforeExit', () => {
    if (hangCallbacks.size > 0) {
      const cbs = [...hangCallbacks];
      hangCallbacks.clear();
      for (const cb of cbs) cb();
      return;
    }
    if (mainRunning !== null) {
      process.stderr.write(
        `${mainRunning}: stopped with work still pending and nothing left that could finish it (a promise that never settles, e.g. in a plug-in agent); exit 1\n`,
      );
      process.exit(1);
    }
  });
}

/** Calls `cb` once if the event loop empties before the returned function is called. */
export function whenHung(cb: () => void): () => void {
  listen();
  hangCallbacks.add(cb);
  return () => void hangCallbacks.delete(cb);
}

/** Runs a command's main and exits with its code (1 if it can never finish; see the module comment). */
export function runMain(command: string, main: () => Promise<number>): void {
  listen();
  mainRunning = command;
  main().then(
    (code) => {
      mainRunning = null;
      process.exit(code);
    },
    (e: unknown) => {
      mainRunning = null;
      process.stderr.write(`${command}: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
