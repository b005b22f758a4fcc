/**
 * Progress of a suite: on a terminal, a bar with ETA for the suite and one per run in flight
 * (one per worker); otherwise (CI, pipes) plain lines: one per finished run with the suite's
 * progress and ETA, and at most one line every `plainEverySeconds` per run in flight, named by
 * the run. ETAs as in core/progress.ts (measured from the first step of work, none before there is
 * a rate); durations as `1m05s`.
 */
import cliProgress from 'cli-progress';
import { EtaEstimator, formatDuration } from '../core/progress.ts';
import type { RunPhase } from './evaluate.ts';

export interface SuiteProgress {
  /** A run started in `slot` (a worker). */
  start(slot: number, what: string): void;
  update(slot: number, phase: RunPhase, done: number, total: number, message?: string): void;
  /** A run in `slot` ended (or was skipped: slot -1). */
  finish(slot: number, what: string, outcome: string): void;
  /** A line of log text that must not break the bars. */
  log(line: string): void;
  stop(): void;
}

export interface SuiteProgressOptions {
  stream?: NodeJS.WriteStream;
  enabled?: boolean;
  plainEverySeconds?: number;
  /** Force the plain mode (tests). */
  plain?: boolean;
  /** Where plain lines go (default: the stream). Terminal bars always draw on the stream. */
  write?: (line: string) => void;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

export function suiteProgress(label: string, total: number, opts: SuiteProgressOptions = {}): SuiteProgress {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled !== false;
  const write = opts.write ?? ((line: string) => void stream.write(`${line}\n`));
  if (!enabled) return { start() {}, update() {}, finish() {}, log: write, stop() {} };
  const now = opts.now ?? Date.now;
  const started = now();
  let finished = 0;
  /** The suite's ETA: the mean time per finished run (set-up included) times the runs left. */
  const suiteEta = () => (finished > 0 && finished < total ? formatDuration((((now() - started) / 1000) * (total - finished)) / finished) : null);

  if (!opts.plain && stream.isTTY && !process.env.CI) {
    // forceRedraw: cli-progress redraws a bar only when its text changed, so after a log line (which
    // shifts the bars down one line) an unchanged bar would stay hidden under the next one. ETAs
    // are ours ({eta_text}): cli-progress's is 'NULL' (printed "LLs") until two updates differ.
    const multi = new cliProgress.MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: false,
        forceRedraw: true,
        format: '{name} [{bar}] {percentage}% | {value}/{total} | ETA {eta_text} | {message}',
      },
      cliProgress.Presets.shades_classic,
    );
    const suiteBar = multi.create(total, 0, { name: `suite ${label}`.padEnd(32), message: '', eta_text: '-' });
    const bars = new Map<number, { bar: cliProgress.SingleBar; what: string; phase: RunPhase | null; eta: EtaEstimator }>();
    let lastDraw = 0;
    return {
      start(slot, what) {
        let b = bars.get(slot);
        if (!b) {
          b = { bar: multi.create(1, 0, { name: '', message: '', eta_text: '-' }), what, phase: null, eta: new EtaEstimator(1, now) };
          bars.set(slot, b);
        }
        b.what = what;
        b.phase = null;
        b.bar.setTotal(1);
        b.bar.update(0, { name: `  ${what}`.slice(0, 32).padEnd(32), message: 'starting', eta_text: '-' });
      },
      update(slot, phase, done, t, message) {
        const b = bars.get(slot);
        if (!b) return;
        if (b.phase !== phase) {
          // A new phase restarts the bar, so its ETA is the phase's.
          b.phase = phase;
          b.eta = new EtaEstimator(t, now);
          b.bar.start(t, 0, { name: `  ${b.what}`.slice(0, 32).padEnd(32), message: phase, eta_text: '-' });
        }
        const e = b.eta.update(done);
        b.bar.update(done, { message: message ? `${phase}: ${message}` : phase, eta_text: e === null ? '-' : formatDuration(e) });
        // A run in this thread keeps the event loop busy, so the bars' timer rarely fires: draw now
        // and then from here.
        if (now() - lastDraw > 200) {
          lastDraw = now();
          multi.update();
        }
      },
      finish(slot, what, outcome) {
        finished += 1;
        suiteBar.update(finished, { message: `${what} ${outcome}`, eta_text: suiteEta() ?? '-' });
        const b = bars.get(slot);
        if (b) b.bar.update(b.bar.getTotal(), { message: outcome, eta_text: '-' });
      },
      log(line) {
        // A line wider than the terminal wraps and throws the bars' redraw off: cut it.
        const width = stream.columns || 120;
        for (const l of line.split('\n')) multi.log(`${l.length >= width ? `${l.slice(0, width - 2)}…` : l}\n`);
      },
      stop() {
        multi.stop();
      },
    };
  }

  const every = (opts.plainEverySeconds ?? 10) * 1000;
  const runs = new Map<number, { what: string; start: number; lastLine: number; phase: RunPhase | null; eta: EtaEstimator }>();
  return {
    start(slot, what) {
      runs.set(slot, { what, start: now(), lastLine: now(), phase: null, eta: new EtaEstimator(1, now) });
    },
    update(slot, phase, done, t, message) {
      const r = runs.get(slot);
      if (!r) return;
      if (r.phase !== phase) {
        r.phase = phase;
        r.eta = new EtaEstimator(t, now);
      }
      const e = r.eta.update(done);
      if (now() - r.lastLine < every) return;
      r.lastLine = now();
      write(
        `  ${r.what}: ${phase} ${done}/${t} elapsed ${formatDuration((now() - r.start) / 1000)}${e !== null ? ` eta ${formatDuration(e)} (${phase})` : ''}${message ? ` ${message}` : ''}`,
      );
    },
    finish(slot, what, outcome) {
      finished += 1;
      const r = runs.get(slot);
      const took = r && r.what === what ? ` in ${formatDuration((now() - r.start) / 1000)}` : '';
      const eta = suiteEta();
      write(
        `suite ${label}: ${finished}/${total} (${((100 * finished) / total).toFixed(0)}%) elapsed ${formatDuration((now() - started) / 1000)}${eta ? ` eta ${eta}` : ''}: ${what} ${outcome}${outcome === 'done' ? took : ''}`,
      );
      runs.delete(slot);
    },
    log: write,
    stop() {},
  };
}

/**
 * The closing line of a bench invocation: how many runs were done, skipped (their result files
 * were complete) and failed, and the wall time.
 */
export function runSummary(counts: { done: number; skipped: number; failed: number }, seconds: number): string {
  const total = counts.done + counts.skipped + counts.failed;
  if (total === 0) return `no runs to do (the plan or this shard is empty); ${formatDuration(seconds)}`;
  const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;
  return `${runs(total)}: ${counts.done} done, ${counts.skipped} skipped (result file already complete), ${counts.failed} failed, in ${seconds < 60 ? `${seconds.toFixed(1)}s` : formatDuration(seconds)}`;
}
