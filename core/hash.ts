/**
 * The one canonical serialisation behind every cache key and every hash in the project: RFC 8785,
 * the JSON Canonicalization Scheme (object keys sorted at every depth, numbers as ECMAScript prints
 * them, no whitespace), implemented in `jcs.ts`. Two values that are equal as
 * JSON give the same text, whatever the order their keys were written in and however deep they nest;
 * `undefined` members are dropped as JSON.stringify drops them. NaN and ±Infinity are refused (they
 * have no JSON form), so a key can never silently collapse two different values.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { canonicalize } from './jcs.ts';
import { readJsonFile, validate } from './validate.ts';

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
 * The source fingerprints of the package as built (`scripts/build.mjs` writes them beside this
 * module, computed from the TypeScript sources): built code keys its caches exactly as the sources it
 * was compiled from do, not by its own compiled files (other bytes, other extension).
 */
export const BUILT_FINGERPRINTS_FILE = 'source-fingerprints.json';
const builtFile = new URL(`./${BUILT_FINGERPRINTS_FILE}`, import.meta.url);
let built: Readonly<Record<string, string>> | null | undefined;

/** The fingerprints computed by the build (null when this is not a built package). */
function builtFingerprints(): Readonly<Record<string, string>> | null {
  if (built === undefined) {
    if (!existsSync(builtFile)) built = null;
    else {
      const file = fileURLToPath(builtFile);
      built = validate(Type.Record(Type.String(), Type.String({ pattern: '^[0-9a-f]{64}$' })), readJsonFile(file), file);
    }
  }
  return built;
}

/** Where `dirs` are relative to the package root (this module's parent folder): the same in the sources and in the build. */
function fingerprintKey(dirs: readonly URL[], names: readonly string[] | undefined): string {
  const root = fileURLToPath(new URL('../', import.meta.url));
  return canonicalJson({ dirs: dirs.map((d) => path.relative(root, fileURLToPath(d)).split(path.sep).join('/')), names: names ?? null });
}

/**
 * SHA-256 (hex) of the source files (`.ts`, `.js`, `.mjs` and `.c`, not `.d.ts`) directly inside `dirs`
 * (only those named `names`, without extension, when given), by name and content, in a fixed order:
 * the identity of the code a cached artefact was computed by, so a cache keyed by it is not reused
 * after that code changes. Computed once per set of folders. In the built package it is the value the
 * build computed from the TypeScript sources (`BUILT_FINGERPRINTS_FILE`), so a cache key is the same
 * wherever the code runs from; a set the build did not compute is hashed from the files at hand.
 * @throws Error when a folder cannot be read.
 */
export function sourceFingerprint(dirs: readonly URL[], names?: readonly string[]): string {
  const key = fingerprintKey(dirs, names);
  let hex = fingerprints.get(key) ?? builtFingerprints()?.[key];
  if (hex === undefined) {
    const hash = createHash('sha256');
    for (const dir of dirs) {
      const files = readdirSync(dir)
        .filter((n) => /\.(ts|js|mjs|c)$/.test(n) && !n.endsWith('.d.ts'))
        .filter((n) => names === undefined || names.includes(n.replace(/\.[^.]+$/, '')))
        .sort();
      for (const name of files) hash.update(`${name}\n`).update(readFileSync(new URL(name, dir)));
    }
    hex = hash.digest('hex');
  }
  fingerprints.set(key, hex);
  return hex;
}

/** Every fingerprint `sourceFingerprint` returned in this process, by key: what the build stores. */
export function sourceFingerprintsComputed(): Record<string, string> {
  return Object.fromEntries([...fingerprints].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
