/**
 * Downloading the public source files into the cache, safely:
 * - each file is downloaded to `<name>.part` and renamed into place only after its size and
 *   SHA-256 (and MD5, where the publisher gives one) match the values recorded in registry.ts;
 * - an interrupted download resumes from the partial file with an HTTP Range request (and restarts
 *   from zero when the server ignores the range), within one run (a few retries) and across runs;
 * - a file with no recorded checksum is refused unless the caller allows unverified downloads;
 *   then its SHA-256 is printed and stored next to it, so the run can be reproduced and checked;
 * - zip archives are extracted into a temporary folder that replaces nothing until every entry is
 *   out; entries whose paths would leave the target folder (`../`, absolute paths) or that are
 *   symbolic links are refused, and nothing is written.
 * Progress: a bar with ETA (cli-progress) on a terminal, plain lines otherwise.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import yauzl from 'yauzl';
import { writeFileAtomic } from './cache.ts';
import { tempName } from '../core/io.ts';
import { FetchError } from './errors.ts';
import type { FetchFile } from './registry.ts';

export interface FetchOptions {
  /** Accept files whose SHA-256 is not recorded (their digest is printed and stored). */
  readonly allowUnverified?: boolean;
  /** Replaces the scheme, host and folder of every URL (a mirror holding the same file names). */
  readonly baseUrl?: string;
  /** Attempts per file within one run (resuming each time). Default 4. */
  readonly attempts?: number;
  /** Socket inactivity timeout in ms. Default 60 s. */
  readonly timeoutMs?: number;
  /** Where progress goes. A TTY gets a bar; anything else gets plain lines through `log`. */
  readonly stream?: NodeJS.WriteStream;
  readonly log?: (s: string) => void;
  /** Delay between attempts in ms. Default 1000. */
  readonly retryDelayMs?: number;
}

export interface FetchedFile {
  readonly file: string;
  readonly sha256: string;
  readonly verified: boolean;
  /** True when the file was already there and matched, so nothing was downloaded. */
  readonly reused: boolean;
  readonly extractedTo?: string;
}

export async function hashFile(file: string, algorithm: 'sha256' | 'md5'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

function mirrorUrl(spec: FetchFile, baseUrl?: string): string {
  if (!baseUrl) return spec.url;
  return `${baseUrl.replace(/\/+$/, '')}/${spec.mirrorPath ?? path.posix.basename(new URL(spec.url).pathname)}`;
}

// ---------------------------------------------------------------- progress

interface Progress {
  start(total: number | undefined, already: number): void;
  update(bytes: number): void;
  stop(): void;
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

function makeProgress(label: string, opts: FetchOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const log = opts.log ?? ((s: string) => stream.write(`${s}\n`));
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {done}/{size} MB | ETA {eta_formatted}`,
        stream,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let total = 0;
    return {
      start(t, already) {
        total = t ?? 0;
        bar.start(total || 1, already, { done: mb(already), size: t ? mb(t) : '?' });
      },
      update(bytes) {
        bar.update(total ? bytes : 0, { done: mb(bytes) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  // Not a terminal: a line every 10% (or every 50 MB when the size is unknown) and at the end.
  let total: number | undefined;
  let next = 0;
  let startedAt = 0;
  let startBytes = 0;
  return {
    start(t, already) {
      total = t;
      startedAt = Date.now();
      startBytes = already;
      next = already;
      log(`${label}: ${already > 0 ? `resuming at ${mb(already)} MB` : 'starting'}${t ? ` of ${mb(t)} MB` : ''}`);
    },
    update(bytes) {
      if (bytes < next) return;
      const step = total ? Math.max(total / 10, 1) : 50 * 1048576;
      next = bytes + step;
      const elapsed = (Date.now() - startedAt) / 1000;
      const rate = elapsed > 0 ? (bytes - startBytes) / elapsed : 0;
      const eta = total && rate > 0 ? ` ETA ${Math.ceil((total - bytes) / rate)} s` : '';
      log(`${label}: ${mb(bytes)}${total ? `/${mb(total)}` : ''} MB${total ? ` (${Math.floor((100 * bytes) / total)}%)` : ''}${eta}`);
    },
    stop() {},
  };
}

// ---------------------------------------------------------------- HTTP

interface Response {
  readonly res: http.IncomingMessage;
  readonly url: string;
}

function request(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!lib) return reject(new FetchError(`${url}: unsupported protocol ${u.protocol}`));
    const req = lib.get(u, { headers: { 'user-agent': 'prorec-gym-data-fetch', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new FetchError(`${url}: too many redirects`));
        const next = new URL(res.headers.location, u).toString();
        request(next, headers, timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new FetchError(`${url}: no data for ${timeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}

/**
 * One attempt to bring `part` to the complete file, resuming from its current size.
 * Returns when the server has sent everything it announced; throws on a dropped connection
 * (the bytes received so far stay in `part` for the next attempt).
 */
async function downloadOnce(url: string, part: string, expectedSize: number | undefined, progress: Progress, timeoutMs: number): Promise<void> {
  let have = existsSync(part) ? statSync(part).size : 0;
  if (expectedSize !== undefined && have > expectedSize) {
    rmSync(part, { force: true });
    have = 0;
  }
  if (expectedSize !== undefined && have === expectedSize) return;
  const { res } = await request(url, have > 0 ? { range: `bytes=${have}-` } : {}, timeoutMs);
  const status = res.statusCode ?? 0;
  let append = false;
  let total: number | undefined;
  if (status === 206) {
    // Content-Range: bytes START-END/TOTAL. Only append when the server resumed where we are.
    const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.resume();
      rmSync(part, { force: true });
      throw new FetchError(`${url}: the server resumed at the wrong offset (${res.headers['content-range']}); restarting`);
    }
    append = true;
    total = m[3] === '*' ? undefined : Number(m[3]);
  } else if (status === 200) {
    // The server ignored the range (or there was none): start over.
    have = 0;
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) && len > 0 ? len : undefined;
  } else if (status === 416 && have > 0) {
    // Range not satisfiable: the partial file is already complete (or wrong; verification decides).
    res.resume();
    return;
  } else {
    res.resume();
    // Client errors will not go away on retry; server errors (5xx) may.
    throw new FetchError(`${url}: HTTP ${status}${status === 404 ? ' (not found: the file may have moved)' : ''}`, status >= 500);
  }
  total ??= expectedSize;
  if (expectedSize !== undefined && total !== undefined && total !== expectedSize) {
    res.resume();
    throw new FetchError(`${url}: the server announces ${total} bytes, expected ${expectedSize}`, false);
  }
  progress.start(total, have);
  let received = have;
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    progress.update(received);
  });
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  try {
    await pipeline(res, out);
  } finally {
    progress.stop();
  }
  // A connection closed early without an error still leaves us short: treat it as dropped.
  if (total !== undefined && received < total) throw new FetchError(`${url}: connection closed after ${received} of ${total} bytes`);
  if (!res.complete) throw new FetchError(`${url}: connection closed before the end of the body`);
}

/** Downloads one file into `dir` (resume, verify, rename), extracting it when it is an archive. */
export async function fetchFile(spec: FetchFile, dir: string, opts: FetchOptions = {}): Promise<FetchedFile> {
  const log = opts.log ?? ((s: string) => (opts.stream ?? process.stderr).write(`${s}\n`));
  const url = mirrorUrl(spec, opts.baseUrl);
  const target = path.join(dir, spec.fileName);
  const part = `${target}.part`;
  if (spec.sha256 === null && !opts.allowUnverified)
    throw new FetchError(
      `${spec.fileName}: no SHA-256 is recorded for ${spec.url} (${spec.checksumSource}). ` +
        'Refusing an unverified download; rerun with --allow-unverified to accept it (its SHA-256 will be printed and stored next to it).',
    );
  // fileName may name a sub-folder (the release keeps one folder per dataset).
  mkdirSync(path.dirname(target), { recursive: true });

  const verify = async (file: string): Promise<{ ok: boolean; sha256: string; why?: string }> => {
    const size = statSync(file).size;
    if (spec.size !== undefined && size !== spec.size) return { ok: false, sha256: '', why: `size ${size}, expected ${spec.size}` };
    const sha256 = await hashFile(file, 'sha256');
    if (spec.sha256 !== null && sha256 !== spec.sha256) return { ok: false, sha256, why: `SHA-256 ${sha256}, expected ${spec.sha256}` };
    if (spec.md5) {
      const md5 = await hashFile(file, 'md5');
      if (md5 !== spec.md5) return { ok: false, sha256, why: `MD5 ${md5}, expected ${spec.md5}` };
    }
    return { ok: true, sha256 };
  };

  let reused = false;
  let sha256 = '';
  if (existsSync(target)) {
    const v = await verify(target);
    if (v.ok) {
      reused = true;
      sha256 = v.sha256;
      log(`${spec.fileName}: already downloaded and verified`);
    } else {
      log(`${spec.fileName}: the file in the cache does not match (${v.why}); downloading again`);
      rmSync(target, { force: true });
    }
  }
  if (!reused) {
    const attempts = opts.attempts ?? 4;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await downloadOnce(url, part, spec.size, makeProgress(spec.fileName, { ...opts, log }), opts.timeoutMs ?? 60_000);
        lastError = undefined;
        break;
      } catch (e) {
        lastError = e;
        const have = existsSync(part) ? statSync(part).size : 0;
        if (e instanceof FetchError && !e.retryable) {
          log(`${spec.fileName}: ${e.message}`);
          throw new FetchError(`${spec.fileName}: download failed (${e.message})`, false);
        }
        log(
          `${spec.fileName}: attempt ${attempt} of ${attempts} failed (${(e as Error).message}); ${have} bytes kept${attempt < attempts ? ', resuming' : ''}`,
        );
        if (attempt < attempts) await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 1000));
      }
    }
    if (lastError) {
      if (isUnreachable(lastError) && !existsSync(part)) throw new HostUnreachableError(spec.fileName, url, target, lastError);
      throw new FetchError(`${spec.fileName}: download failed after ${attempts} attempts; run fetch again to resume (${(lastError as Error).message})`);
    }
    const v = await verify(part);
    if (!v.ok) {
      // A corrupt file must not be resumed from, nor mistaken for a good one.
      rmSync(part, { force: true });
      throw new FetchError(`${spec.fileName}: verification failed (${v.why}); the download was discarded`);
    }
    sha256 = v.sha256;
    renameSync(part, target);
    if (spec.sha256 === null) {
      writeFileAtomic(`${target}.sha256`, `${sha256}  ${spec.fileName}\n`);
      log(`${spec.fileName}: UNVERIFIED download (no recorded checksum); its SHA-256 is ${sha256} (stored in ${spec.fileName}.sha256)`);
    } else log(`${spec.fileName}: verified (SHA-256 ${sha256})`);
  }
  let extractedTo: string | undefined;
  if (spec.extract === 'zip') {
    extractedTo = await extractZip(target, dir);
    log(`${spec.fileName}: extracted into ${extractedTo}`);
  }
  return { file: target, sha256, verified: spec.sha256 !== null, reused, ...(extractedTo ? { extractedTo } : {}) };
}

// ---------------------------------------------------------------- zip

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** The path inside `root` that `entryName` denotes, or null when it would leave `root`. */
export function safeEntryPath(root: string, entryName: string): string | null {
  const name = entryName.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..')) return null;
  const resolved = path.resolve(root, name);
  const rel = path.relative(root, resolved);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return rel === '' ? resolved : null;
  return resolved;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    // strictFileNames: a backslash in a name is an error, not a silent path separator.
    yauzl.open(file, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, zip) => (err ? reject(err) : resolve(zip!))),
  );
}

/**
 * Extracts `zipFile` into `dir`. Everything goes to a temporary folder first; the entries are moved
 * into `dir` only when all of them were extracted, so a refused or damaged archive writes nothing.
 */
export async function extractZip(zipFile: string, dir: string): Promise<string> {
  const tmp = tempName(path.join(dir, `.extract-${path.basename(zipFile)}`)); // unique per thread and call (core/io.ts)
  mkdirSync(tmp, { recursive: true });
  try {
    let zip: yauzl.ZipFile;
    try {
      zip = await openZip(zipFile);
    } catch (e) {
      throw new FetchError(`${zipFile}: refused archive (${(e as Error).message})`);
    }
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        zip.close();
        reject(e instanceof FetchError ? e : new FetchError(`${zipFile}: refused archive (${e.message})`));
      };
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        const dest = safeEntryPath(tmp, entry.fileName);
        if (!dest)
          return fail(new FetchError(`${zipFile}: refused archive: entry ${JSON.stringify(entry.fileName)} would be written outside the target folder`));
        if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK)
          return fail(new FetchError(`${zipFile}: refused archive: entry ${JSON.stringify(entry.fileName)} is a symbolic link`));
        if (entry.fileName.endsWith('/')) {
          mkdirSync(dest, { recursive: true });
          zip.readEntry();
          return;
        }
        mkdirSync(path.dirname(dest), { recursive: true });
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return fail(err ?? new Error('no stream'));
          pipeline(stream, createWriteStream(dest)).then(() => zip.readEntry(), fail);
        });
      });
      zip.readEntry();
    });
    // Every entry is out: move the top-level entries into place, replacing older copies.
    for (const name of readdirSync(tmp)) {
      const final = path.join(dir, name);
      rmSync(final, { recursive: true, force: true });
      renameSync(path.join(tmp, name), final);
    }
    return dir;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Downloads every file of a dataset into `dir`. */
export async function fetchAll(files: readonly FetchFile[], dir: string, opts: FetchOptions = {}): Promise<FetchedFile[]> {
  // The folders this fetch creates: removed again when it fails having written nothing into them.
  const created: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) created.push(d);
  // Refuse up front when any file lacks a checksum, before spending bandwidth on the others.
  const unverified = files.filter((f) => f.sha256 === null);
  if (unverified.length > 0 && !opts.allowUnverified)
    throw new FetchError(
      `no SHA-256 is recorded for ${unverified.map((f) => f.fileName).join(', ')} (${unverified[0].checksumSource}). ` +
        'Refusing an unverified download; rerun with --allow-unverified to accept it (each SHA-256 will be printed and stored next to its file).',
    );
  const out: FetchedFile[] = [];
  try {
    for (const f of files) out.push(await fetchFile(f, dir, opts));
  } catch (e) {
    if (created.length > 0 && holdsNoFile(created[0])) rmSync(created.at(-1)!, { recursive: true, force: true });
    throw e;
  }
  return out;
}

/** True when `dir` holds no file at any depth (only empty folders, or nothing). */
function holdsNoFile(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).every((e) => e.isDirectory() && holdsNoFile(path.join(dir, e.name)));
}

/** Network error codes that mean the host cannot be reached from here at all (no name resolution, no route, refused). */
const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN']);

/** Whether `e` (or its cause) says that the host cannot be reached from this machine. */
export function isUnreachable(e: unknown): boolean {
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 5; x = x.cause as typeof x, depth++)
    if (typeof x.code === 'string' && UNREACHABLE_CODES.has(x.code)) return true;
  return false;
}

/** Every attempt failed before any byte arrived because this machine cannot reach the host. */
export class HostUnreachableError extends FetchError {
  readonly host: string;
  constructor(fileName: string, url: string, target: string, cause: unknown) {
    const host = new URL(url).host;
    super(
      `${fileName}: this machine cannot reach ${host} (${(cause as { code?: string }).code ?? (cause as Error).message}). ` +
        `Alternatives: download ${url} on a machine that can and copy it to ${target} (fetch then verifies it and goes on), ` +
        'or name a mirror holding the same file names with --base-url or PRORL_FETCH_BASE_URL',
      false,
    );
    this.host = host;
  }
}
