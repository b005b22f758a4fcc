/**
 * Runs a plan: each run writes its result file atomically to OUT/<run.file>. A run whose result
 * file exists with the same config hash is skipped (its file is reused) unless `force`. With
 * `jobs` > 1 the runs go to worker threads, each of which initialises its own backend (tfjs has one
 * engine per thread; the wasm backend is single-threaded in Node); every run is seeded on its own,
 * so the result files are the same whatever `jobs` is (timings aside).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveAgent } from '../agents/registry.ts';
import { initBackend } from '../compute/backend.ts';
import '../envs/index.ts';
import { writeJsonAtomic } from '../core/io.ts';
import { validate } from '../core/validate.ts';
import { runOne, type RunPhase } from './evaluate.ts';
import { suiteProgress, type SuiteProgress } from './progress.ts';
import { ResultFileSchema, type ResultFile } from '../results/schema.ts';
import type { PlannedRun } from './suite.ts';

import type { CodeVersion } from './version.ts';

export type { CodeVersion };

export interface RunnerOptions {
  out: string;
  jobs?: number;
  force?: boolean;
  backend?: string;
  code: CodeVersion;
  /** Progress display (default: on). */
  progress?: boolean;
  /** Label of the suite progress bar. */
  label?: string;
  log?: (line: string) => void;
  /**
   * Handle Ctrl-C (SIGINT) while the plan runs: print which runs are complete and kept, which were
   * in flight and lost, and how to resume, then exit with code 130. For command-line use only (the
   * process exits); off by default.
   */
  interruptible?: boolean;
}

export interface RunOutcome {
  run: PlannedRun;
  status: 'done' | 'skipped' | 'failed';
  result: ResultFile | null;
  error?: string;
  seconds: number;
}

export interface RunnerReport {
  outcomes: RunOutcome[];
  /** Completed results in plan order (run or reused). */
  results: ResultFile[];
  failed: RunOutcome[];
  backend: string | null;
  seconds: number;
}

/** The stored result of a run when it is complete and has the same config hash, else why not. */
export function completedResult(out: string, run: PlannedRun): { result: ResultFile } | { reason: string } {
  const file = path.join(out, run.file);
  if (!existsSync(file)) return { reason: 'no result file' };
  try {
    const r = validate(ResultFileSchema, JSON.parse(readFileSync(file, 'utf8')), file);
    if (r.run.configHash !== run.configHash)
      return { reason: `${run.file} has another config (hash ${r.run.configHash.slice(0, 12)}, wanted ${run.configHash.slice(0, 12)})` };
    return { result: r };
  } catch (e) {
    return { reason: `${run.file} is not a valid result file of this version (${(e as Error).message.split('\n')[0]})` };
  }
}

function describeRun(r: PlannedRun): string {
  return `${r.config.envId}/${r.label}/seed${r.config.seed}`;
}

/** Runs one planned run in this thread and writes its result file. */
export async function executeRun(
  run: PlannedRun,
  o: {
    out: string;
    code: CodeVersion;
    backend: { name: string; reason: string };
    onProgress?: (phase: RunPhase, done: number, total: number, message?: string) => void;
    log?: (line: string) => void;
  },
): Promise<ResultFile> {
  const factory = await resolveAgent(run.agentModule);
  const result = await runOne({
    config: run.config,
    label: run.label,
    suite: run.suite,
    budget: run.budget,
    factory,
    backend: o.backend,
    code: o.code,
    log: o.log,
    onProgress: o.onProgress ?? (() => {}),
  });
  if (result.run.configHash !== run.configHash) throw new Error(`internal: ${describeRun(run)} result hash differs from the plan's`);
  writeJsonAtomic(path.join(o.out, run.file), result);
  return result;
}

export async function runPlan(runs: readonly PlannedRun[], o: RunnerOptions): Promise<RunnerReport> {
  const started = performance.now();
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const outcomes = new Map<number, RunOutcome>();
  const pending: PlannedRun[] = [];
  for (const run of runs) {
    const done = o.force ? { reason: '--force' } : completedResult(o.out, run);
    if ('result' in done) outcomes.set(run.index, { run, status: 'skipped', result: done.result, seconds: 0 });
    else pending.push(run);
  }
  const skipped = runs.length - pending.length;
  if (skipped > 0) log(`${skipped} of ${runs.length} runs already complete (same config hash): skipped; --force reruns them`);
  const progress = suiteProgress(o.label ?? 'runs', pending.length, { enabled: o.progress !== false, write: o.log });
  const jobs = Math.max(1, Math.min(o.jobs ?? 1, pending.length));
  let backend: string | null = null;
  const inFlight = new Set<PlannedRun>();
  const onInterrupt = () => {
    progress.stop();
    process.stderr.write(`\n${interruptMessage(runs, outcomes, inFlight, o.out)}\n`);
    process.exit(130);
  };
  if (o.interruptible) process.once('SIGINT', onInterrupt);
  try {
    if (pending.length === 0) {
      // nothing to do
    } else if (jobs === 1) {
      const info = await initBackend({ backend: o.backend, log: progress.log });
      backend = info.name;
      for (const run of pending) {
        const t = performance.now();
        progress.start(1, describeRun(run));
        inFlight.add(run);
        try {
          const result = await executeRun(run, {
            out: o.out,
            code: o.code,
            backend: { name: info.name, reason: info.reason },
            onProgress: (phase, done, total, message) => progress.update(1, phase, done, total, message),
            log: progress.log,
          });
          outcomes.set(run.index, { run, status: 'done', result, seconds: (performance.now() - t) / 1000 });
          progress.finish(1, describeRun(run), 'done');
        } catch (e) {
          const error = (e as Error).stack ?? String(e);
          outcomes.set(run.index, { run, status: 'failed', result: null, error, seconds: (performance.now() - t) / 1000 });
          progress.finish(1, describeRun(run), 'FAILED');
          progress.log(`${describeRun(run)} failed: ${(e as Error).message}`);
        } finally {
          inFlight.delete(run);
        }
      }
    } else {
      backend = await runInWorkers(pending, jobs, o, progress, outcomes, inFlight);
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onInterrupt);
  }
  const all = runs.map((r) => outcomes.get(r.index)!);
  return {
    outcomes: all,
    results: all.filter((x) => x.result !== null).map((x) => x.result!),
    failed: all.filter((x) => x.status === 'failed'),
    backend,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * What an interrupted plan leaves behind: the runs complete (their result files are kept, and a
 * rerun of the same command skips them), the runs that were in flight (lost; they rerun from the
 * start, or from their own checkpoint when their agent config names one) and the runs not started.
 */
export function interruptMessage(
  runs: readonly PlannedRun[],
  outcomes: ReadonlyMap<number, RunOutcome>,
  inFlight: ReadonlySet<PlannedRun>,
  out: string,
): string {
  const complete = runs.filter((r) => ['done', 'skipped'].includes(outcomes.get(r.index)?.status ?? ''));
  const failed = runs.filter((r) => outcomes.get(r.index)?.status === 'failed');
  const notStarted = runs.length - complete.length - failed.length - inFlight.size;
  const list = (rs: Iterable<PlannedRun>) => [...rs].map((r) => `    ${path.join(out, r.file)}`).join('\n');
  const lines = [`interrupted: ${complete.length} of ${runs.length} runs complete${complete.length ? `, their result files kept:\n${list(complete)}` : ''}`];
  if (inFlight.size) lines.push(`  lost (in flight, no result file written): ${[...inFlight].map(describeRun).join(', ')}`);
  if (failed.length) lines.push(`  failed before the interrupt: ${failed.map(describeRun).join(', ')}`);
  if (notStarted > 0) lines.push(`  not started: ${notStarted}`);
  lines.push(
    `To resume, run the same command again: complete runs are skipped (same config hash), the others run${inFlight.size ? ' (an agent whose config names a checkpoint resumes training from it)' : ''}.`,
    `No leaderboard was written for this invocation; \`bench leaderboard ${out}\` builds one from the result files there.`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Worker threads
// ---------------------------------------------------------------------------------------------

/** Messages from a worker (see worker.ts). */
export type WorkerMessage =
  | { type: 'ready'; backend: string; reason: string }
  | { type: 'progress'; phase: RunPhase; done: number; total: number; message?: string }
  | { type: 'log'; line: string }
  | { type: 'done'; result: ResultFile }
  | { type: 'failed'; error: string }
  | { type: 'fatal'; error: string };

/** Messages to a worker. */
export type WorkerRequest = { type: 'run'; run: PlannedRun; out: string; code: CodeVersion } | { type: 'exit' };

const WORKER_BOOT = new URL('./worker-boot.mjs', import.meta.url);
// '.ts' when run from source, '.js' in the built package.
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;

function runInWorkers(
  pending: readonly PlannedRun[],
  jobs: number,
  o: RunnerOptions,
  progress: SuiteProgress,
  outcomes: Map<number, RunOutcome>,
  inFlight: Set<PlannedRun>,
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const queue = [...pending];
    let backend: string | null = null;
    let live = 0;
    let settled = false;
    const fail = (e: Error) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    };
    for (let slot = 1; slot <= jobs; slot++) {
      const worker = new Worker(WORKER_BOOT, { workerData: { entry: WORKER_ENTRY, backend: o.backend ?? null } });
      live += 1;
      let current: { run: PlannedRun; t: number } | null = null;
      const next = () => {
        const run = queue.shift();
        if (!run) {
          current = null;
          worker.postMessage({ type: 'exit' } satisfies WorkerRequest);
          return;
        }
        current = { run, t: performance.now() };
        inFlight.add(run);
        progress.start(slot, describeRun(run));
        worker.postMessage({ type: 'run', run, out: o.out, code: o.code } satisfies WorkerRequest);
      };
      const settleCurrent = (status: 'done' | 'failed', result: ResultFile | null, error?: string) => {
        if (!current) return;
        const { run, t } = current;
        inFlight.delete(run);
        outcomes.set(run.index, { run, status, result, error, seconds: (performance.now() - t) / 1000 });
        progress.finish(slot, describeRun(run), status === 'done' ? 'done' : 'FAILED');
        if (error) progress.log(`${describeRun(run)} failed: ${error.split('\n')[0]}`);
        current = null;
      };
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'ready':
            if (backend === null) progress.log(`backend: ${m.backend} (${m.reason}) in each of ${jobs} workers`);
            backend ??= m.backend;
            next();
            break;
          case 'progress':
            progress.update(slot, m.phase, m.done, m.total, m.message);
            break;
          case 'log':
            progress.log(`[worker ${slot}] ${m.line}`);
            break;
          case 'done':
            settleCurrent('done', m.result);
            next();
            break;
          case 'failed':
            settleCurrent('failed', null, m.error);
            next();
            break;
          case 'fatal':
            fail(new Error(`worker ${slot} could not start: ${m.error}`));
            void worker.terminate();
            break;
        }
      });
      worker.on('error', (e) => {
        // An uncaught error kills the worker: its run fails, the others go on in the other workers.
        settleCurrent('failed', null, e.stack ?? String(e));
      });
      worker.on('exit', () => {
        settleCurrent('failed', null, 'the worker exited during the run');
        live -= 1;
        if (live === 0) {
          // Runs left in the queue when every worker has died are failures too.
          for (const run of queue.splice(0)) outcomes.set(run.index, { run, status: 'failed', result: null, error: 'no worker left to run it', seconds: 0 });
          if (!settled) {
            settled = true;
            resolve(backend);
          }
        }
      });
    }
  });
}
