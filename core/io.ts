/**
 * File output that never leaves a half-written file: write to a temporary file, then rename.
 *
 * - The temporary name is unique per call (process id, thread id and 8 random bytes), so two
 *   threads of one process writing the same file in the same millisecond never share one.
 * - A write that fails (a full disk, a read-only folder) says which file and folder it was writing:
 *   Node's ENOSPC from a write names no path. The error is a `WriteError` with the system `code`.
 * - JSON never gets a NaN or ±Infinity turned into `null` behind the validator's back:
 *   `writeJsonAtomic` refuses a value holding one, naming the file and the field.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { ProrecError } from './errors.ts';

/** A file could not be written; names the file and its folder and keeps the system error's code (ENOSPC, EROFS, ...). */
export class WriteError extends ProrecError {
  readonly kind = 'failure';
  readonly code: string | undefined;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | null)?.code;
    const why = code === 'ENOSPC' ? 'no space left on the device' : code === 'EDQUOT' ? 'disk quota exceeded' : ((cause as Error)?.message ?? String(cause));
    super(`could not write ${file} (in folder ${path.dirname(path.resolve(file))}): ${why}${code && !why.startsWith(code) ? ` [${code}]` : ''}`, { cause });
    this.code = code;
  }
}

/** A JSON value holds a number JSON cannot represent (NaN, ±Infinity). */
export class NonFiniteError extends ProrecError {
  readonly kind = 'failure';
  constructor(
    readonly where: string,
    readonly fields: readonly string[],
  ) {
    super(`${where}: not finite: ${fields.join(', ')} (JSON has no NaN or Infinity; they would be written as null)`);
  }
}

/** The fields of `value` (dotted paths, at most `limit`) holding NaN or ±Infinity. */
export function nonFiniteFields(value: unknown, limit = 5): string[] {
  const out: string[] = [];
  const walk = (v: unknown, at: string): void => {
    if (out.length >= limit) return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) out.push(`${at || '(root)'} = ${v}`);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, at ? `${at}.${i}` : String(i)));
    } else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return;
      for (const [k, x] of Object.entries(v)) walk(x, at ? `${at}.${k}` : k);
    }
  };
  walk(value, '');
  return out;
}

/** A temporary name next to `file`, unique per call even across the threads of one process. */
export function tempName(file: string): string {
  return `${file}.${process.pid}-${threadId}-${randomBytes(8).toString('hex')}.tmp`;
}

/** Writes `data` to `file` through a temporary file in the same folder and a rename; `fsync` flushes it to the disk first. */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: { fsync?: boolean } = {}): void {
  const tmp = tempName(file);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      if (opts.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new WriteError(file, e);
  }
}

/** Throws a NonFiniteError naming `where` and the fields when `value` holds NaN or ±Infinity. */
export function assertFinite(where: string, value: unknown): void {
  const bad = nonFiniteFields(value);
  if (bad.length) throw new NonFiniteError(where, bad);
}

/** Writes `value` as JSON; refuses (NonFiniteError naming the file and fields) a value holding NaN or ±Infinity. */
export function writeJsonAtomic(file: string, value: unknown): void {
  assertFinite(file, value);
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
