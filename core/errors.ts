/**
 * One base class for every error the project raises on purpose, and the one place that maps an
 * error to a command's exit code and message:
 *
 *   usage    2  a command line that cannot be run as written (unknown option, environment, agent)
 *   input    2  a file or config that is not valid (it names the file, line or field)
 *   failure  1  something went wrong while running (a corrupt cache file, a diverged model, a bug)
 *
 * Errors that are not ProrecErrors are bugs: exit 1 with their stack.
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
