/**
 * Validation of configs and files against TypeBox schemas with ajv. The schema is the one source of
 * truth: its `Static<>` type is the TypeScript type, and ajv checks values read from disk or the
 * command line against it. Errors name the file (or source) and the field that is wrong.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

export class ValidationError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: invalid\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') return `${at}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'enum') return `${at}: must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  if (e.keyword === 'required') return `${at}: missing field '${(e.params as { missingProperty: string }).missingProperty}'`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/** Returns `value` typed by the schema, or throws a ValidationError naming `source` and each bad field. */
export function validate<S extends TSchema>(schema: S, value: unknown, source: string): Static<S> {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (!fn(value)) {
    // anyOf/union errors repeat; keep each message once.
    const problems = [...new Set((fn.errors ?? []).map(describe))];
    throw new ValidationError(source, problems);
  }
  return value as Static<S>;
}

/** A string enum schema whose errors list the accepted values (TypeBox unions of literals do not). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}
