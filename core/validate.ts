/**
 * Validation of configs and files against TypeBox schemas with ajv. The schema is the one source of
 * truth, defaults included: `validate` first fills every missing field that has a `default:`
 * annotation (nested sections too, when the section itself defaults to `{}`), then ajv checks the
 * result, so the value returned is the complete config a run uses and records. Its `Static<>` type
 * is the TypeScript type. There are no hand-kept copies of defaults anywhere else. Errors name the
 * file (or source) and the field that is wrong.
 */
import { readFileSync } from 'node:fs';
import { ProrecError } from './errors.ts';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

// strictNumbers: NaN and ±Infinity are not numbers here. JSON cannot hold them (JSON.stringify writes
// null), so a value accepted in memory must be one that is written and read back unchanged; and a
// hand-edited 1e999 (read as Infinity) is refused with the field named.
// verbose: errors carry the offending value (to say "Infinity is not a finite number").
const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, strictNumbers: true, verbose: true });
const compiled = new WeakMap<TSchema, ValidateFunction>();

export class ValidationError extends ProrecError {
  readonly kind = 'input';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: invalid\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') return `${at}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'enum') return `${at}: must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  if (e.keyword === 'required') return `${at}: missing field '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'type' && typeof e.data === 'number' && !Number.isFinite(e.data)) return `${at}: ${e.data} is not a finite number`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/** How deeply configs and files may nest objects and arrays (real ones nest fewer than 10 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Throws a ValidationError naming `source` and the place when `value` nests objects or arrays more
 * than `max` levels deep. Iterative: a value nested thousands of levels deep (which JSON.parse
 * accepts) would overflow the stack of every recursive reader after it (cloning, schema checks,
 * hashing).
 */
export function checkDepth(value: unknown, source: string, max: number = MAX_JSON_DEPTH): void {
  interface Node {
    v: object;
    depth: number;
    key: string;
    up: Node | null;
  }
  if (typeof value !== 'object' || value === null) return;
  const stack: Node[] = [{ v: value, depth: 1, key: '', up: null }];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.depth > max) {
      const keys: string[] = [];
      for (let p: Node | null = n; p !== null && p.up !== null; p = p.up) keys.push(p.key);
      keys.reverse();
      const at = keys.length > 4 ? `${keys.slice(0, 4).join('.')}.…` : keys.join('.');
      throw new ValidationError(source, [`${at}: nested more than ${max} levels deep (objects and arrays)`]);
    }
    for (const [k, x] of Object.entries(n.v)) if (typeof x === 'object' && x !== null) stack.push({ v: x, depth: n.depth + 1, key: k, up: n });
  }
}

/**
 * A copy of `value` with the schema's defaults filled in (TypeBox's Value.Default), checked by ajv.
 * `value` itself is never modified. Throws a ValidationError naming `source` and each bad field.
 */
export function validate<S extends TSchema>(schema: S, value: unknown, source: string): Static<S> {
  checkDepth(value, source);
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  const filled = Value.Default(schema, value === undefined ? undefined : structuredClone(value));
  if (!fn(filled)) {
    // anyOf/union errors repeat; keep each message once.
    const problems = [...new Set((fn.errors ?? []).map(describe))];
    throw new ValidationError(source, problems);
  }
  return filled as Static<S>;
}

/**
 * The schema of *overrides* of a config: every field optional and no `default` anywhere, so that
 * validating overrides checks them without filling in values (they are merged over other layers,
 * e.g. an environment's own defaults, before the full schema fills the rest).
 */
export function Overrides<T extends TSchema>(schema: T) {
  return Type.Partial(stripDefaults(schema), { additionalProperties: false });
}

function stripDefaults<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(stripDefaults) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string | symbol, unknown> = {};
  for (const key of Reflect.ownKeys(schema)) {
    if (key === 'default') continue;
    out[key] = stripDefaults((schema as Record<string | symbol, unknown>)[key]);
  }
  return out as T;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Objects merged key by key (recursively); anything else in `over` replaces what `base` has. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** A string enum schema whose errors list the accepted values (TypeBox unions of literals do not). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** Overrides of a config type: every field optional, nested sections too (validate() fills the rest). */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The parsed JSON of `file`; a ValidationError naming the file when it is not valid JSON. */
export function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ValidationError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
}
