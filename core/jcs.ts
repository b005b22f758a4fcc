/**
 * RFC 8785, the JSON Canonicalization Scheme: object keys sorted by UTF-16 code units at every
 * depth, numbers and strings as ECMAScript's JSON.stringify prints them, no whitespace. The same
 * text, value for value, as the `canonicalize` package (5.1.0) that keyed the project's caches and
 * result files before; kept here so that no dependency's engine range or module format stands
 * between the package and Node 20.19 (test/hash-known.test.ts holds known values).
 *
 * Like JSON.stringify: `toJSON` is called, boxed primitives are unboxed, `undefined`, functions
 * and symbols are dropped from objects and become `null` in arrays. Unlike it, NaN, ±Infinity,
 * lone surrogates and cycles throw (no value may collapse into another's key), as do BigInts.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The canonical JSON text of `value`, or undefined when it has none (undefined, a function, a symbol). */
export function canonicalize(value: unknown): string | undefined {
  return serialize(value, new Set());
}

function serialize(input: unknown, seen: Set<object>): string | undefined {
  let value = input;
  const wrappers: object[] = [];
  try {
    while (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      if (seen.has(value)) throw new Error('Circular reference detected');
      seen.add(value);
      wrappers.push(value);
      value = (value as { toJSON(): unknown }).toJSON();
    }
    if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
    switch (typeof value) {
      case 'number':
        if (Number.isNaN(value)) throw new Error('NaN is not allowed');
        if (!Number.isFinite(value)) throw new Error('Infinity is not allowed');
        return JSON.stringify(value);
      case 'string':
        if (LONE_SURROGATE.test(value)) throw new Error('Lone surrogate is not allowed');
        return JSON.stringify(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      case 'object':
        break;
      default:
        return undefined; // undefined, functions, symbols
    }
    if (value === null) return 'null';
    if (seen.has(value)) throw new Error('Circular reference detected');
    seen.add(value);
    try {
      if (Array.isArray(value)) return `[${Array.from(value as unknown[], (v) => serialize(v, seen) ?? 'null').join(',')}]`; // holes are null
      const parts: string[] = [];
      for (const key of Object.keys(value).sort()) {
        const text = serialize((value as Record<string, unknown>)[key], seen);
        if (text === undefined) continue;
        if (LONE_SURROGATE.test(key)) throw new Error('Lone surrogate is not allowed');
        parts.push(`${JSON.stringify(key)}:${text}`);
      }
      return `{${parts.join(',')}}`;
    } finally {
      seen.delete(value);
    }
  } finally {
    for (const w of wrappers) seen.delete(w);
  }
}
