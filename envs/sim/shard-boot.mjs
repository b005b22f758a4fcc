// Worker-thread bootstrap: the TypeScript loader registered in the main thread does not reach
// worker threads, so each shard worker registers tsx itself, then loads its TypeScript entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
