/**
 * Runs a plan: each run writes its result file atomically to OUT/<run.file>. A run whose result
 * file exists with the same config hash is skipped (its file is reused) unless `force`. With
 * `jobs` > 1 the runs go to worker threads, each of which initialises its own backend (tfjs has one
 * engine per thread; the wasm backend is single-threaded in Node); every run is seeded on its own,
 * so the result files are the same whatever `jobs` is (timings aside).
 *
 * Nothing planned goes unaccounted for: every run ends 'done', 'skipped' or 'failed'. A run fails
 * when it throws, when its worker dies, when it exceeds `runTimeout` (a guard on wall-clock time
 * that stops the run; it never changes a result, only whether there is one), and when it *hangs*:
 * a run whose promise can never settle (an agent's `create`, `train` or `act` returned a promise
 * that nothing will resolve) leaves the event loop empty, which Node reports with 'beforeExit'
 * before it would exit 0. The runner turns that into a failed run naming it and goes on with the
 * rest of the plan, in this thread and in the workers alike. A hang that keeps the event loop busy
 * (a timer that never stops, a synchronous endless loop) is caught only by `runTimeout`, which
 * runs every run in a worker thread so that it can be stopped.
 */
import { existsSync } from 'node:fs';
import { invariant, UsageError } from '../core/errors.ts';
import { whenHung } from '../core/main.ts';
import { commandLine } from '../core/launcher.ts';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveAgent } from '../agents/registry.ts';
import { initBackend } from '../compute/backend.ts';
import '../envs/index.ts';
import { writeJsonAtomic } from '../core/io.ts';
import { runOne, type RunPhase } from './evaluate.ts';
import { suiteProgress, type SuiteProgress } from './progress.ts';
import { readResult } from '../results/read.ts';
import type { ResultFile } from '../results/schema.ts';
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
  /**
   * Seconds a run may take, train and evaluation together, before it is stopped and counted as
   * failed (a guard for CI: results never depend on it). When given, runs go to worker threads
   * (`jobs` of them, at least one) so that a run stuck in a synchronous loop can be stopped too.
   */
  runTimeout?: number;
}

/** The error of a run whose promise can never settle (see the module comment). */
export const HANG_MESSAGE =
  'the run never finished: its promise is pending with nothing left to run (an agent method, e.g. create, train or act, returned a promise that never settles)';

/** The error of a run stopped by `runTimeout`. */
export function timeoutMessage(seconds: number): string {
  return `exceeded the run timeout of ${seconds} s (--run-timeout) and was stopped; a guard, not part of the result: raise it if the run is legitimately slow`;
}

/**
 * `promise`, or a rejection with HANG_MESSAGE if the event loop empties while it is pending (the
 * process's 'beforeExit': nothing is left that could ever settle it).
 */
export function settleOrHang<T>(promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const release = whenHung(() => reject(new Error(HANG_MESSAGE)));
    promise.then(resolve, reject).finally(release);
  });
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
    // readResult: the schema, finite numbers, and the recorded hash against the recorded config.
    const r = readResult(file);
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
  invariant(result.run.configHash === run.configHash, () => `${describeRun(run)} result hash differs from the plan's`);
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
  if (o.runTimeout !== undefined && !(o.runTimeout > 0)) throw new UsageError(`--run-timeout must be a positive number of seconds, got ${o.runTimeout}`);
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
    } else if (jobs === 1 && o.runTimeout === undefined) {
      const info = await initBackend({ backend: o.backend, log: progress.log });
      backend = info.name;
      for (const run of pending) {
        const t = performance.now();
        progress.start(1, describeRun(run));
        inFlight.add(run);
        try {
          const result = await settleOrHang(
            executeRun(run, {
              out: o.out,
              code: o.code,
              backend: { name: info.name, reason: info.reason },
              onProgress: (phase, done, total, message) => progress.update(1, phase, done, total, message),
              log: progress.log,
            }),
          );
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
    `No leaderboard was written for this invocation; \`${commandLine('bench', `leaderboard ${out}`)}\` builds one from the result files there.`,
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
  /** `retire`: the worker cannot take another run (its run hung) and exits; the runner replaces it. */
  | { type: 'failed'; error: string; retire?: boolean }
  | { type: 'fatal'; error: string };

/** Messages to a worker. */
export type WorkerRequest = { type: 'run'; run: PlannedRun; out: string; code: CodeVersion } | { type: 'exit' };

const WORKER_BOOT = new URL('./worker-boot.mjs', import.meta.url);
// '.ts' when run from source, '.js' in the built package.
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;

/**
 * Runs the queue in `jobs` worker threads. A worker that dies, hangs or is stopped by the run
 * timeout fails its run only; a new worker takes its slot while runs are left.
 */
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
    const startWorker = (slot: number) => {
      const worker = new Worker(WORKER_BOOT, { workerData: { entry: WORKER_ENTRY, backend: o.backend ?? null } });
      live += 1;
      let current: { run: PlannedRun; t: number; timer: NodeJS.Timeout | null } | null = null;
      // Set once the worker must not be given another run (it hung or was stopped).
      let retiring = false;
      let started = false;
      const next = () => {
        const run = retiring ? undefined : queue.shift();
        if (!run) {
          current = null;
          if (!retiring) worker.postMessage({ type: 'exit' } satisfies WorkerRequest);
          return;
        }
        const timer =
          o.runTimeout === undefined
            ? null
            : setTimeout(() => {
                settleCurrent('failed', null, timeoutMessage(o.runTimeout!));
                retiring = true;
                void worker.terminate();
              }, o.runTimeout * 1000);
        current = { run, t: performance.now(), timer };
        inFlight.add(run);
        progress.start(slot, describeRun(run));
        worker.postMessage({ type: 'run', run, out: o.out, code: o.code } satisfies WorkerRequest);
      };
      const settleCurrent = (status: 'done' | 'failed', result: ResultFile | null, error?: string) => {
        if (!current) return;
        const { run, t, timer } = current;
        if (timer) clearTimeout(timer);
        inFlight.delete(run);
        outcomes.set(run.index, { run, status, result, error, seconds: (performance.now() - t) / 1000 });
        progress.finish(slot, describeRun(run), status === 'done' ? 'done' : 'FAILED');
        if (error) progress.log(`${describeRun(run)} failed: ${error.split('\n')[0]}`);
        current = null;
      };
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'ready':
            started = true;
            // Once: a worker that replaces another reports the same backend.
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
            if (m.retire) retiring = true;
            else next();
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
        if (!started) fail(new Error(`worker ${slot} exited before it was ready`));
        // A worker that ended early (crashed, hung, stopped by the timeout) is replaced while runs are left.
        if (!settled && queue.length > 0) {
          startWorker(slot);
          return;
        }
        if (live === 0 && !settled) {
          settled = true;
          resolve(backend);
        }
      });
    };
    for (let slot = 1; slot <= jobs; slot++) startWorker(slot);
  });
}
