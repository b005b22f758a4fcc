/**
 * `fetch` against a local HTTP server (this machine cannot reach the real hosts): a good archive
 * (downloaded, verified, extracted, then loadable from the cache), a corrupt one (checksum
 * mismatch), a truncated one (connection dropped mid-body, then resumed with a Range request),
 * one with a `../` entry, and files without a recorded checksum.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadDataset, FetchError } from '../data/index.ts';
import { rawCacheDir } from '../data/cache.ts';
import { extractZip, fetchAll, fetchFile, safeEntryPath } from '../data/fetch.ts';
import { runCli } from '../data/cli.ts';
import type { FetchFile } from '../data/registry.ts';
import { makeZip } from './fixtures/data/zip.ts';
import { syntheticLog, writeMovieLens } from './fixtures/data/synthetic-logs.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-data-fetch-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// The archive GroupLens ships: an ml-1m/ folder with ratings.dat and movies.dat.
const mlDir = path.join(tmp, 'ml-src');
writeMovieLens(mlDir, syntheticLog(3, 30));
const GOOD = makeZip(
  [
    { name: 'ml-1m/' },
    { name: 'ml-1m/ratings.dat', data: readFileSync(path.join(mlDir, 'ratings.dat')) },
    { name: 'ml-1m/movies.dat', data: readFileSync(path.join(mlDir, 'movies.dat')) },
    { name: 'ml-1m/README', data: 'test archive' },
  ],
  { deflate: true },
);
const CORRUPT = Buffer.from(GOOD);
CORRUPT[CORRUPT.length >> 1] ^= 0xff;
const SLIP = makeZip([
  { name: 'ok.txt', data: 'fine' },
  { name: '../evil.txt', data: 'escaped' },
]);
const LINK = makeZip([{ name: 'link', data: '/etc/passwd', mode: 0o120777 }]);

const requests: { path: string; range?: string }[] = [];
let server: http.Server;
let base = '';
let truncatedServed = 0;

function serveRange(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
  const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length });
  res.end(body);
}

before(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push({ path: url, ...(req.headers.range ? { range: req.headers.range } : {}) });
    if (url === '/good/ml-1m.zip') return serveRange(req, res, GOOD);
    if (url === '/corrupt/ml-1m.zip') return serveRange(req, res, CORRUPT);
    if (url === '/slip/evil.zip') return serveRange(req, res, SLIP);
    if (url === '/link/link.zip') return serveRange(req, res, LINK);
    if (url === '/redirect/ml-1m.zip') return res.writeHead(302, { location: '/good/ml-1m.zip' }).end();
    if (url === '/norange/ml-1m.zip') {
      res.writeHead(200, { 'content-length': GOOD.length });
      return res.end(GOOD);
    }
    if (url === '/truncated/ml-1m.zip') {
      if (req.headers.range) return serveRange(req, res, GOOD);
      // The first time: announce the whole file, send 40% of it, drop the connection.
      truncatedServed++;
      res.writeHead(200, { 'content-length': GOOD.length });
      res.write(GOOD.subarray(0, Math.floor(GOOD.length * 0.4)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const spec = (url: string, body: Buffer, extra: Partial<FetchFile> = {}): FetchFile => ({
  url,
  fileName: path.posix.basename(url),
  sha256: sha256(body),
  checksumSource: 'computed by the test',
  size: body.length,
  extract: 'zip',
  ...extra,
});
let n = 0;
const cacheDir = () => path.join(tmp, `cache-${n++}`);
function collect(): { lines: string[]; log: (s: string) => void } {
  const lines: string[] = [];
  return { lines, log: (s) => lines.push(s) };
}

test('a good archive: downloaded, verified, extracted atomically, then loadDataset finds it in the cache', async () => {
  const cache = cacheDir();
  const dir = rawCacheDir(cache, 'ml-1m');
  const { lines, log } = collect();
  const [got] = await fetchAll([spec(`${base}/good/ml-1m.zip`, GOOD)], dir, { log, retryDelayMs: 10 });
  assert.equal(got.sha256, sha256(GOOD));
  assert.ok(got.verified && !got.reused);
  assert.ok(existsSync(path.join(dir, 'ml-1m', 'ratings.dat')));
  assert.deepEqual(readdirSync(dir).sort(), ['ml-1m', 'ml-1m.zip'], 'no .part file and no temporary folder left');
  assert.ok(
    lines.some((l) => /ml-1m\.zip: starting of 0\.0 MB|ml-1m\.zip: starting/.test(l)),
    'plain progress lines when not on a terminal',
  );
  assert.ok(lines.some((l) => /verified \(SHA-256/.test(l)));
  const saved = process.env.PRORL_DATA_DIR;
  delete process.env.PRORL_DATA_DIR;
  try {
    const ds = await loadDataset('ml-1m', { cacheDir: cache, log: () => {} });
    assert.equal(ds.meta.source, 'raw:ml-1m');
    assert.ok(ds.cases.train.length > 0);
  } finally {
    if (saved !== undefined) process.env.PRORL_DATA_DIR = saved;
  }
  // A second fetch re-verifies the file in place and downloads nothing.
  const before = requests.length;
  const [again] = await fetchAll([spec(`${base}/good/ml-1m.zip`, GOOD)], dir, { log });
  assert.ok(again.reused);
  assert.equal(requests.length, before);
});

test('a corrupt download (checksum mismatch) is refused and discarded', async () => {
  const dir = rawCacheDir(cacheDir(), 'ml-1m');
  const { log } = collect();
  await assert.rejects(fetchFile(spec(`${base}/corrupt/ml-1m.zip`, GOOD), dir, { log, retryDelayMs: 10 }), (e: unknown) => {
    assert.ok(e instanceof FetchError);
    assert.match(e.message, new RegExp(`ml-1m\\.zip: verification failed \\(SHA-256 ${sha256(CORRUPT)}, expected ${sha256(GOOD)}\\)`));
    return true;
  });
  assert.deepEqual(readdirSync(dir), [], 'neither the file nor its partial download is kept');
});

test('a dropped connection is resumed with an HTTP Range request', async () => {
  const dir = rawCacheDir(cacheDir(), 'ml-1m');
  const { lines, log } = collect();
  const first = requests.length;
  const [got] = await fetchFile(spec(`${base}/truncated/ml-1m.zip`, GOOD), dir, { log, retryDelayMs: 10 }).then((x) => [x]);
  assert.equal(got.sha256, sha256(GOOD));
  assert.equal(truncatedServed, 1);
  const mine = requests.slice(first).filter((r) => r.path === '/truncated/ml-1m.zip');
  assert.equal(mine.length, 2);
  assert.equal(mine[0].range, undefined);
  assert.equal(mine[1].range, `bytes=${Math.floor(GOOD.length * 0.4)}-`);
  assert.ok(lines.some((l) => /attempt 1 of 4 failed .*bytes kept, resuming/.test(l)));
  assert.ok(lines.some((l) => /resuming at/.test(l)));
  assert.ok(existsSync(path.join(dir, 'ml-1m', 'movies.dat')));
});

test('a partial file from an earlier run is resumed; a server that ignores Range restarts cleanly', async () => {
  const dir = rawCacheDir(cacheDir(), 'ml-1m');
  mkdirSync(dir, { recursive: true });
  const cut = Math.floor(GOOD.length / 3);
  writeFileSync(path.join(dir, 'ml-1m.zip.part'), GOOD.subarray(0, cut));
  const first = requests.length;
  await fetchFile(spec(`${base}/good/ml-1m.zip`, GOOD), dir, { log: () => {} });
  assert.equal(requests.slice(first)[0].range, `bytes=${cut}-`);
  // Garbage in the partial file and a server without Range support: the 200 answer replaces it.
  const dir2 = rawCacheDir(cacheDir(), 'ml-1m');
  mkdirSync(dir2, { recursive: true });
  writeFileSync(path.join(dir2, 'ml-1m.zip.part'), Buffer.alloc(cut, 7));
  const got = await fetchFile(spec(`${base}/norange/ml-1m.zip`, GOOD), dir2, { log: () => {} });
  assert.equal(got.sha256, sha256(GOOD));
});

test('redirects are followed; HTTP errors and wrong sizes fail without pointless retries', async () => {
  await fetchFile({ ...spec(`${base}/redirect/ml-1m.zip`, GOOD) }, rawCacheDir(cacheDir(), 'ml-1m'), { log: () => {} });
  const { lines, log } = collect();
  await assert.rejects(fetchFile(spec(`${base}/gone/ml-1m.zip`, GOOD), rawCacheDir(cacheDir(), 'x'), { log, retryDelayMs: 10 }), /HTTP 404 \(not found/);
  assert.ok(!lines.some((l) => /attempt 2/.test(l)));
  await assert.rejects(
    fetchFile(spec(`${base}/good/ml-1m.zip`, GOOD, { size: GOOD.length + 1 }), rawCacheDir(cacheDir(), 'x'), { log: () => {}, retryDelayMs: 10 }),
    /announces \d+ bytes, expected \d+/,
  );
});

test("an archive entry that would leave the target folder ('../') is refused and nothing is written", async () => {
  const root = path.join(tmp, 'slip-root');
  const dir = path.join(root, 'raw', 'x');
  await assert.rejects(fetchFile(spec(`${base}/slip/evil.zip`, SLIP), dir, { log: () => {} }), (e: unknown) => {
    assert.ok(e instanceof FetchError);
    assert.match(e.message, /evil\.zip: refused archive/);
    assert.match(e.message, /\.\.\/evil\.txt/);
    return true;
  });
  assert.ok(!existsSync(path.join(root, 'raw', 'evil.txt')));
  assert.ok(!existsSync(path.join(dir, 'ok.txt')), 'entries before the bad one are not left behind either');
  assert.deepEqual(readdirSync(dir), ['evil.zip'], 'no temporary extraction folder left');
  await assert.rejects(
    fetchFile(spec(`${base}/link/link.zip`, LINK), path.join(root, 'l'), { log: () => {} }),
    /refused archive: entry "link" is a symbolic link/,
  );
  // The path check itself, for names yauzl would let through on other platforms.
  const r = path.join(tmp, 'r');
  assert.equal(safeEntryPath(r, 'a/../../b'), null);
  assert.equal(safeEntryPath(r, '/etc/passwd'), null);
  assert.equal(safeEntryPath(r, 'C:/x'), null);
  assert.equal(safeEntryPath(r, '..\\x'), null);
  assert.equal(safeEntryPath(r, 'ml-1m/ratings.dat'), path.join(r, 'ml-1m', 'ratings.dat'));
  await assert.rejects(extractZip(path.join(tmp, 'no-such.zip'), path.join(tmp, 'nz')), /refused archive/);
});

test('no recorded checksum: refused unless allowed; when allowed, the digest is printed and stored', async () => {
  const dir = rawCacheDir(cacheDir(), 'steam');
  const unverified = spec(`${base}/good/ml-1m.zip`, GOOD, { sha256: null, size: undefined, extract: undefined, checksumSource: 'none found' });
  await assert.rejects(fetchAll([unverified], dir, { log: () => {} }), /Refusing an unverified download; rerun with --allow-unverified/);
  assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, 'refused before downloading anything');
  const { lines, log } = collect();
  const [got] = await fetchAll([unverified], dir, { allowUnverified: true, log });
  assert.ok(!got.verified);
  assert.equal(readFileSync(path.join(dir, 'ml-1m.zip.sha256'), 'utf8'), `${sha256(GOOD)}  ml-1m.zip\n`);
  assert.ok(lines.some((l) => l.includes(`UNVERIFIED download (no recorded checksum); its SHA-256 is ${sha256(GOOD)}`)));
});

test('on a terminal, progress is a cli-progress bar with an ETA', async () => {
  const out = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean };
  let text = '';
  (out as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
  Object.assign(out, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true });
  await fetchFile(spec(`${base}/good/ml-1m.zip`, GOOD), rawCacheDir(cacheDir(), 'ml-1m'), { stream: out, log: () => {} });
  assert.match(text, /ml-1m\.zip \[.*\] 100% \| [\d.]+\/[\d.]+ MB \| ETA/);
});

test('CLI: fetch through a mirror checks the recorded checksum (a wrong file fails, exit 1); unknown names exit 2', async () => {
  const cache = cacheDir();
  let stderr = '';
  const io = { out: () => {}, err: (s: string) => (stderr += s) };
  process.env.PRORL_FETCH_BASE_URL = `${base}/good`;
  try {
    // The test archive is not the real ml-1m.zip: its size and SHA-256 differ from the recorded ones.
    assert.equal(await runCli(['fetch', 'ml-1m', '--cache-dir', cache], io), 1);
  } finally {
    delete process.env.PRORL_FETCH_BASE_URL;
  }
  assert.match(stderr, /announces \d+ bytes, expected 5917549/);
  assert.equal(existsSync(rawCacheDir(cache, 'ml-1m')), false, 'a failed fetch leaves no empty folder behind');
  assert.equal(await runCli(['fetch', 'steam', '--cache-dir', cache], io), 1);
  assert.match(stderr, /no SHA-256 is recorded for steam_reviews\.json\.gz, steam_games\.json\.gz/);
  assert.equal(await runCli(['fetch', 'movielens'], io), 2);
  assert.match(stderr, /unknown dataset 'movielens'; known datasets: ml-1m, steam, books/);
});
