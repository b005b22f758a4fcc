/**
 * One base class for every error the project raises on purpose, and the one place that maps an
 * error to a command's exit code and message:
 *
 *   usage    2  a command line that cannot be run as written (unknown option, environment, agent)
 *   input    2  a file or config that is not valid (it names the file, line or field)
 *   failure  1  something went wrong while running (a corrupt cache file, a diverged model, a bug)
 *
 * Errors that are not ProrecErrors are bugs: exit 1 with their stack. Code states what it assumes
 * with `invariant(cond, message)`: a false one is a bug of this package (an InternalError, with its
 * stack), never something a user's input, config, file or agent can cause; those raise a ProrecError
 * (ESLint keeps a bare `throw new Error` out of the library folders).
 */
export type ErrorKind = 'usage' | 'input' | 'failure';

export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = { usage: 2, input: 2, failure: 1 };

export abstract class ProrecError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A command line that cannot be run as written. */
export class UsageError extends ProrecError {
  readonly kind = 'usage';
}

/** A config, option or file that cannot be used as given (a checkpoint of another model, a setting that contradicts another); the message names the file or field. */
export class ConfigError extends ProrecError {
  readonly kind = 'input';
}

/**
 * Code that calls this package against its contract (a step before reset, an object used after
 * dispose(), arrays of the wrong length): in practice a plug-in agent's or a script's mistake.
 */
export class ContractError extends ProrecError {
  readonly kind = 'failure';
}

/** Something went wrong while running that a user can act on (a worker thread crashed or timed out, a training diverged, a model produced non-finite scores). */
export class RunFailure extends ProrecError {
  readonly kind = 'failure';
}

/** A broken assumption of this package's own code: a bug (exit 1 with its stack). */
export class InternalError extends Error {
  constructor(message: string) {
    super(`internal error (a bug in prorec-gym): ${message}`);
    this.name = 'InternalError';
  }
}

/** Throws an InternalError when `condition` is false: for conditions no input can cause, only a bug. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InternalError(typeof message === 'function' ? message() : message);
}

/** The exit code for `e`: 2 for usage and input errors, 1 for everything else. */
export function exitCodeOf(e: unknown): number {
  return e instanceof ProrecError ? EXIT_CODES[e.kind] : 1;
}

/** What a command prints for `e`, prefixed with the command's name: the message of a ProrecError, the stack of anything else. */
export function describeError(command: string, e: unknown): string {
  const text = e instanceof ProrecError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
  const hint = e instanceof UsageError ? '\nrun with --help for the options' : '';
  return `${command}: ${text}${hint}\n`;
}
