/**
 * Ctrl-C during long computations. A SIGINT handler (the bench runner's, this module's) runs only
 * when the event loop gets a turn, so a long synchronous loop (simulator training, evaluation,
 * dataset compilation) awaits `yieldToEventLoop` between its steps: the loop's numbers are the same,
 * and a Ctrl-C is handled within one step.
 */
import { isMainThread } from 'node:worker_threads';

/** Lets pending events (a SIGINT handler among them) run; changes no number of the computation. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Steps `gen` to its end and returns its return value. */
export function runToEnd<T>(gen: Generator<unknown, T>): T {
  for (let s = gen.next(); ; s = gen.next()) if (s.done) return s.value;
}

/** `runToEnd`, awaiting `yieldToEventLoop` after each step: the same value, and a Ctrl-C is handled within one step. */
export async function runYielding<T>(gen: Generator<unknown, T>): Promise<T> {
  for (let s = gen.next(); ; s = gen.next()) {
    if (s.done) return s.value;
    await yieldToEventLoop();
  }
}

/**
 * Until the returned function is called, a Ctrl-C (SIGINT) first prints `message()` (what is kept,
 * how to resume) to stderr, before any other SIGINT handler, and then, when no other handler is
 * installed (one that ends the process itself, as the bench runner's does), exits with code 130. In a
 * worker thread, where no signal arrives, it does nothing.
 */
export function onInterrupt(message: () => string): () => void {
  if (!isMainThread) return () => {};
  const handler = () => {
    process.stderr.write(`\n${message()}\n`);
    if (process.listenerCount('SIGINT') <= 1) process.exit(130);
  };
  process.prependListener('SIGINT', handler);
  return () => {
    process.off('SIGINT', handler);
  };
}
