// Worker-thread bootstrap: the TypeScript loader registered in the main thread does not reach
// worker threads, so a shard worker run from source registers tsx itself, then loads its entry
// (the built package's entry is JavaScript and needs no loader).
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
