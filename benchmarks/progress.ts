/**
 * Progress of a suite: on a terminal, a bar with ETA for the suite and one per run in flight
 * (one per worker); otherwise (CI, pipes) plain lines: one per finished run with the suite's
 * progress and ETA, and at most one line every `plainEverySeconds` per run in flight.
 */
import cliProgress from 'cli-progress';
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
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export function suiteProgress(label: string, total: number, opts: SuiteProgressOptions = {}): SuiteProgress {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled !== false;
  const write = opts.write ?? ((line: string) => void stream.write(`${line}\n`));
  if (!enabled) return { start() {}, update() {}, finish() {}, log: write, stop() {} };
  const started = Date.now();
  let finished = 0;

  if (!opts.plain && stream.isTTY && !process.env.CI) {
    // forceRedraw: cli-progress redraws a bar only when its text changed, so after a log line (which
    // shifts the bars down one line) an unchanged bar would stay hidden under the next one.
    const multi = new cliProgress.MultiBar(
      { stream, hideCursor: true, clearOnComplete: false, etaBuffer: 50, forceRedraw: true, format: '{name} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {message}' },
      cliProgress.Presets.shades_classic,
    );
    const suiteBar = multi.create(total, 0, { name: `suite ${label}`.padEnd(32), message: '' });
    const bars = new Map<number, { bar: cliProgress.SingleBar; what: string; phase: RunPhase | null }>();
    let lastDraw = 0;
    return {
      start(slot, what) {
        let b = bars.get(slot);
        if (!b) {
          b = { bar: multi.create(1, 0, { name: '', message: '' }), what, phase: null };
          bars.set(slot, b);
        }
        b.what = what;
        b.phase = null;
        b.bar.setTotal(1);
        b.bar.update(0, { name: `  ${what}`.slice(0, 32).padEnd(32), message: 'starting' });
      },
      update(slot, phase, done, t, message) {
        const b = bars.get(slot);
        if (!b) return;
        if (b.phase !== phase) {
          // A new phase restarts the bar, so its ETA is the phase's.
          b.phase = phase;
          b.bar.start(t, 0, { name: `  ${b.what}`.slice(0, 32).padEnd(32), message: phase });
        }
        b.bar.update(done, { message: message ? `${phase}: ${message}` : phase });
        // A run in this thread keeps the event loop busy, so the bars' timer rarely fires: draw now
        // and then from here.
        if (Date.now() - lastDraw > 200) {
          lastDraw = Date.now();
          multi.update();
        }
      },
      finish(slot, what, outcome) {
        finished += 1;
        suiteBar.update(finished, { message: `${what} ${outcome}` });
        const b = bars.get(slot);
        if (b) b.bar.update(b.bar.getTotal(), { message: outcome });
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
  const lastLine = new Map<number, number>();
  const runStart = new Map<number, number>();
  return {
    start(slot) {
      runStart.set(slot, Date.now());
      lastLine.set(slot, Date.now());
    },
    update(slot, phase, done, t, message) {
      const now = Date.now();
      if (now - (lastLine.get(slot) ?? 0) < every) return;
      lastLine.set(slot, now);
      const elapsed = (now - (runStart.get(slot) ?? started)) / 1000;
      const eta = done > 0 ? (elapsed * (t - done)) / done : NaN;
      write(`  [worker ${slot}] ${phase} ${done}/${t} elapsed ${fmtSeconds(elapsed)}${done > 0 ? ` eta ${fmtSeconds(eta)} (phase)` : ''}${message ? ` ${message}` : ''}`);
    },
    finish(slot, what, outcome) {
      finished += 1;
      const elapsed = (Date.now() - started) / 1000;
      const eta = (elapsed * (total - finished)) / finished;
      const took = runStart.has(slot) ? ` in ${fmtSeconds((Date.now() - runStart.get(slot)!) / 1000)}` : '';
      write(`suite ${label}: ${finished}/${total} (${((100 * finished) / total).toFixed(0)}%) elapsed ${fmtSeconds(elapsed)} eta ${fmtSeconds(eta)}: ${what} ${outcome}${outcome === 'done' ? took : ''}`);
    },
    log: write,
    stop() {},
  };
}
