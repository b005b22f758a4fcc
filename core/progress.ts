/**
 * Progress for long work: a bar with ETA on a terminal (cli-progress), plain lines otherwise
 * (CI, pipes), at most one line every `plainEverySeconds`.
 *
 * ETAs come from `EtaEstimator`: the rate is measured from the first update that reports work
 * done, not from the start, so set-up time before the first step (loading data, building a model)
 * does not inflate it, and no ETA is shown until there is a rate to show. Durations print as
 * `42s`, `1m05s`, `2h03m` (`formatDuration`).
 */
import cliProgress from 'cli-progress';

/** A duration in seconds as `42s`, `1m05s` or `2h03m` (rounded to whole seconds first); '?' when not finite. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Remaining time of work measured in units done out of a total. The reference point is the first
 * update with done > 0 (work before it, e.g. set-up, is not part of the rate); the estimate is
 * null until at least `minSeconds` have passed and more work is done since the reference. A
 * decrease of `done` (a new phase reusing the bar) restarts the estimate.
 */
export class EtaEstimator {
  private ref: { t: number; done: number } | null = null;
  private last = 0;

  constructor(
    private total: number,
    private readonly now: () => number = Date.now,
    private readonly minSeconds = 1,
  ) {}

  /** Records progress; returns the estimate (seconds) or null. */
  update(done: number): number | null {
    const t = this.now();
    if (done < this.last) this.ref = null;
    this.last = done;
    if (this.ref === null) {
      if (done > 0) this.ref = { t, done };
      return null;
    }
    return this.eta(done, t);
  }

  /** Changes the total (e.g. a bar whose total grows). */
  setTotal(total: number): void {
    this.total = total;
  }

  private eta(done: number, t: number): number | null {
    if (!this.ref) return null;
    const seconds = (t - this.ref.t) / 1000;
    const units = done - this.ref.done;
    if (units <= 0 || seconds < this.minSeconds) return null;
    return Math.max(0, ((this.total - done) * seconds) / units);
  }
}

export interface Progress {
  /** Sets the amount done (of `total`) with an optional short message. */
  update(done: number, message?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  plainEverySeconds?: number;
  enabled?: boolean;
  /** Force plain lines even on a terminal (tests). */
  plain?: boolean;
  /** Where plain lines go (default: the stream). */
  write?: (line: string) => void;
  /** The amount already done when this bar starts (a resumed job): the ETA comes from this session's rate. */
  initial?: number;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

export function progress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.enabled === false) return { update() {}, stop() {} };
  const now = opts.now ?? Date.now;
  const eta = new EtaEstimator(total, now);
  if (!opts.plain && stream.isTTY && !process.env.CI) {
    // Our ETA, not cli-progress's: its estimate is 'NULL' (printed "LLs") until two updates differ.
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_text} | {message}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, opts.initial ?? 0, { message: '', eta_text: '-' });
    return {
      update: (done, message = '') => {
        const e = eta.update(done);
        bar.update(done, { message, eta_text: e === null ? '-' : formatDuration(e) });
      },
      stop: () => bar.stop(),
    };
  }
  const write = opts.write ?? ((line: string) => void stream.write(`${line}\n`));
  const every = (opts.plainEverySeconds ?? 10) * 1000;
  const start = now();
  let last = 0;
  const initial = opts.initial ?? 0;
  let lastDone = initial;
  let lastEta: number | null = null;
  let printed = -1;
  const line = (done: number, message?: string) => {
    const elapsed = (now() - start) / 1000;
    printed = done;
    write(
      `${label}: ${done}/${total} (${((100 * done) / total).toFixed(0)}%) elapsed ${formatDuration(elapsed)}${lastEta !== null && done < total ? ` eta ${formatDuration(lastEta)}` : ''}${message ? ` ${message}` : ''}`,
    );
  };
  return {
    update(done, message) {
      lastDone = done;
      lastEta = eta.update(done);
      if (now() - last >= every) {
        last = now();
        line(done, message);
      }
    },
    stop() {
      if (printed !== lastDone) line(lastDone);
    },
  };
}
