/**
 * Reading text files as the sources distribute them: plain or gzip-compressed (detected by the
 * gzip magic bytes, not the name, since users often gunzip a file and keep its name or the
 * reverse), UTF-8 or Latin-1 (MovieLens-1M's .dat files are ISO-8859-1).
 */
import { createReadStream, openSync, readSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { createGunzip, gunzipSync } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { DataFormatError } from './errors.ts';

export type TextEncoding = 'utf8' | 'latin1';

/** True when the file starts with the gzip magic bytes. */
export function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** The whole file as text (gunzipped when needed). */
export function readText(file: string, encoding: TextEncoding = 'utf8'): string {
  let bytes: Buffer = readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataFormatError(file, '', 'a complete gzip stream', `a damaged one (${(e as Error).message})`);
    }
  }
  let text = bytes.toString(encoding);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not content
  return text;
}

/**
 * Parses a whole JSON file; a syntax error names the file, line and column (JSON.parse itself only
 * gives a character offset).
 */
export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const col = pos - before.lastIndexOf('\n');
      where = `line ${line}, column ${col}`;
    }
    throw new DataFormatError(file, where, 'valid JSON', msg.replace(/^.*?: /, ''));
  }
}

/**
 * Calls `onLine(text, lineNumber)` for each line (1-based; trailing '\r' removed, empty lines
 * skipped). Streams, so files far larger than memory are fine.
 */
export async function forEachLine(file: string, onLine: (line: string, lineNumber: number) => void, encoding: TextEncoding = 'utf8'): Promise<number> {
  if (!existsSync(file)) throw new DataFormatError(file, '', 'a readable file', 'nothing');
  const gz = isGzip(file);
  const raw = createReadStream(file);
  let stream: Readable = raw;
  if (gz) {
    const gunzip = createGunzip();
    raw.on('error', (e) => gunzip.destroy(e));
    stream = raw.pipe(gunzip);
  }
  stream.setEncoding(encoding);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  let count = 0;
  try {
    for await (const line of lines) {
      n++;
      if (n === 1 && line.charCodeAt(0) === 0xfeff) {
        const rest = line.slice(1);
        if (rest.length > 0) {
          onLine(rest, n);
          count++;
        }
        continue;
      }
      if (line.length === 0) continue;
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line, n);
      count++;
    }
  } catch (e) {
    if (e instanceof DataFormatError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (gz && (err.code === 'Z_BUF_ERROR' || err.code === 'Z_DATA_ERROR' || /unexpected end of file/i.test(err.message)))
      throw new DataFormatError(file, `after line ${n}`, 'a complete gzip stream', `a damaged or truncated one (${err.message})`);
    throw e;
  } finally {
    lines.close();
    stream.destroy();
    raw.destroy();
  }
  return count;
}

/**
 * Splits one CSV line (RFC 4180 quoting: fields in double quotes may hold the delimiter, and "" is
 * an escaped quote). Returns null when a quoted field is not closed on this line.
 */
export function splitDelimited(line: string, delimiter: string): string[] | null {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let i = 0;
  let field = '';
  while (i <= line.length) {
    if (line[i] === '"' && field === '') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      // Anything between the closing quote and the delimiter is kept, as most readers do.
      while (i < line.length && line.slice(i, i + delimiter.length) !== delimiter) field += line[i++];
    } else {
      while (i < line.length && line.slice(i, i + delimiter.length) !== delimiter) field += line[i++];
    }
    out.push(field);
    field = '';
    if (i >= line.length) break;
    i += delimiter.length;
    if (i === line.length) {
      out.push('');
      break;
    }
  }
  return out;
}
