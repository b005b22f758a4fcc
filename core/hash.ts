/**
 * The one canonical serialisation behind every cache key and every hash in the project: RFC 8785,
 * the JSON Canonicalization Scheme (object keys sorted at every depth, numbers as ECMAScript prints
 * them, no whitespace), implemented by the `canonicalize` package. Two values that are equal as
 * JSON give the same text, whatever the order their keys were written in and however deep they nest;
 * `undefined` members are dropped as JSON.stringify drops them. NaN and ±Infinity are refused (they
 * have no JSON form), so a key can never silently collapse two different values.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';

/** The canonical JSON text of `value` (RFC 8785). Throws on NaN, ±Infinity, cycles and lone surrogates. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error(`canonicalJson: ${typeof value} has no JSON form`);
  return text;
}

/** SHA-256 (hex, 64 characters) of the canonical JSON of `value`. */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

const fingerprints = new Map<string, string>();

/**
 * SHA-256 (hex) of the source files (`.ts`, `.js`, `.mjs` and `.c`, not `.d.ts`) directly inside `dirs`, by name
 * and content, in a fixed order: the identity of the code a cached artefact was computed by, so a
 * cache keyed by it is not reused after that code changes. Computed once per set of folders.
 * @throws Error when a folder cannot be read.
 */
export function sourceFingerprint(dirs: readonly URL[]): string {
  const key = dirs.map((d) => d.href).join('\n');
  let hex = fingerprints.get(key);
  if (hex === undefined) {
    const hash = createHash('sha256');
    for (const dir of dirs) {
      const names = readdirSync(dir)
        .filter((n) => /\.(ts|js|mjs|c)$/.test(n) && !n.endsWith('.d.ts'))
        .sort();
      for (const name of names) hash.update(`${name}\n`).update(readFileSync(new URL(name, dir)));
    }
    fingerprints.set(key, (hex = hash.digest('hex')));
  }
  return hex;
}
