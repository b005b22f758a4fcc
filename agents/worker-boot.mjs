// Worker-thread bootstrap: TypeScript loader hooks registered in the main thread do not reach
// worker threads, so each worker registers tsx itself, then loads its TypeScript entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
