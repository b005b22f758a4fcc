import { ProrecError } from '../core/errors.ts';
/**
 * Errors the data layer raises. Each one names the file and, where it applies, the line or record,
 * and says what was expected: a user with a broken download must be able to find the bad byte.
 */

/** A file whose content does not have the expected shape. */
export class DataFormatError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly file: string,
    /** 'line 12', 'record 5', 'row 3, column genres', ... or '' when the whole file is wrong. */
    readonly where: string,
    readonly expected: string,
    readonly found?: string,
  ) {
    super(`${file}${where ? `, ${where}` : ''}: expected ${expected}` + (found !== undefined ? `, found ${found}` : ''));
  }
}

/** No source for a dataset was found in any of the places the loader looks. */
export class DataNotFoundError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly dataset: string,
    readonly looked: readonly string[],
    readonly hint: string,
  ) {
    super(`no data for '${dataset}'. Looked in:\n${looked.map((l) => `  - ${l}`).join('\n')}\n${hint}`);
  }
}

/**
 * The raw interaction logs the user simulators should learn from (`simulatorData: 'logs'`) were not
 * found: names every file looked for and how to get them.
 */
export class SimulatorLogsNotFoundError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly dataset: string,
    /** Every interaction file looked for, in the order tried. */
    readonly looked: readonly string[],
    readonly hint: string,
  ) {
    super(
      `${dataset}: simulatorData 'logs' trains the user simulators on the raw interaction logs, and none were found. Looked for:\n` +
        `${looked.map((l) => `  - ${l}`).join('\n')}\n${hint}`,
    );
  }
}

/** Cases or sequences refer to items the item table does not have (raised under `strict`). */
export class MissingItemsError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly dataset: string,
    readonly report: readonly string[],
  ) {
    super(`${dataset}: records refer to items missing from the item table (strict mode):\n${report.map((r) => `  - ${r}`).join('\n')}`);
  }
}

/** A download that failed verification or could not be completed. */
export class FetchError extends ProrecError {
  readonly kind = 'failure';
  constructor(
    message: string,
    /** False when trying again cannot help (wrong size announced, HTTP 404, bad archive). */
    readonly retryable = true,
  ) {
    super(message);
  }
}

/** A short, printable preview of a value for error messages. */
export function preview(value: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
