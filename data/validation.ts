/**
 * Schema validation of data files: the shared `validate()` with messages that say "record 12" rather
 * than "12" when the file is an array of records.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { validate, ValidationError } from '../core/validate.ts';
import { DataFormatError } from './errors.ts';

/** Validates `value` (read from `file`) against `schema`; errors become DataFormatErrors naming the record. */
export function validateFile<S extends TSchema>(schema: S, value: unknown, file: string, expected: string): Static<S> {
  try {
    return validate(schema, value, file);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    const problems = e.problems
      .slice(0, 5)
      .map((p) => p.replace(/^(\d+)(\.|:)/, (_, n: string, sep: string) => `record ${n}${sep === '.' ? ', field ' : ':'}`));
    const more = e.problems.length > 5 ? ` (and ${e.problems.length - 5} more)` : '';
    throw new DataFormatError(file, '', expected, problems.join('; ') + more);
  }
}
