/**
 * Progress for long work: a bar with ETA on a terminal (cli-progress), plain lines otherwise
 * (CI, pipes), at most one line every `plainEverySeconds`.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the amount done (of `total`) with an optional short message. */
  update(done: number, message?: string): void;
  stop(): void;
}

/**
 * `initial`: the amount already done when this bar starts (a resumed job), so that the ETA comes
 * from the rate of this session's work only.
 */
export function progress(label: string, total: number, opts: { stream?: NodeJS.WriteStream; plainEverySeconds?: number; enabled?: boolean; initial?: number } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.enabled === false) return { update() {}, stop() {} };
  if (stream.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {message}`, stream, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, opts.initial ?? 0, { message: '' });
    return {
      update: (done, message = '') => bar.update(done, { message }),
      stop: () => bar.stop(),
    };
  }
  const every = (opts.plainEverySeconds ?? 10) * 1000;
  const start = Date.now();
  let last = 0;
  const initial = opts.initial ?? 0;
  let lastDone = initial;
  let printed = -1;
  const line = (done: number, message?: string) => {
    const elapsed = (Date.now() - start) / 1000;
    printed = done;
    const eta = done > initial ? (elapsed * (total - done)) / (done - initial) : NaN;
    stream.write(`${label}: ${done}/${total} (${((100 * done) / total).toFixed(0)}%) elapsed ${elapsed.toFixed(0)}s${Number.isFinite(eta) ? ` eta ${eta.toFixed(0)}s` : ''}${message ? ` ${message}` : ''}\n`);
  };
  return {
    update(done, message) {
      lastDone = done;
      if (Date.now() - last >= every) {
        last = Date.now();
        line(done, message);
      }
    },
    stop() {
      if (printed !== lastDone) line(lastDone);
    },
  };
}
