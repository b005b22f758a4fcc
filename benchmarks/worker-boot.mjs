// Worker-thread bootstrap: TypeScript loader hooks registered in the main thread do not reach
// worker threads, so each worker registers tsx itself (for its own entry when run from source, and
// for plug-in agents written in TypeScript, `--agent ./my-agent.ts`, in ES-module and CommonJS
// projects alike), then loads its entry.
import { workerData } from 'node:worker_threads';
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCjs();
registerEsm();
await import(workerData.entry);
