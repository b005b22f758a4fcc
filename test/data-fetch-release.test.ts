/**
 * `npm run data -- fetch prorl-release` against a local HTTP server that serves the release files
 * with the layout of the pinned repository's `datasets/` folder (this machine cannot reach GitHub),
 * into a clean cache, with the release snapshot hidden (PRORL_SNAPSHOT_DIR points at an empty
 * folder): every file is downloaded and checked against its recorded SHA-256, a dropped connection
 * is resumed, and afterwards ml-1m loads from the cache with the paper's 6,928 test cases. A file
 * whose bytes differ from the pinned ones is refused. Skips where the snapshot (the server's source
 * of bytes) is absent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { snapshotDir } from '../data/paths.ts';
import { PRORL_RELEASE, PRORL_RELEASE_FILES, listDatasets, loadDataset } from '../data/index.ts';
import { rawCacheDir } from '../data/cache.ts';
import { runCli } from '../data/cli.ts';

const source = snapshotDir();
const skip = existsSync(path.join(source, 'ml-1m', 'ml-1m.test')) ? false : `the ProRL release snapshot is not at ${source} (set PRORL_SNAPSHOT_DIR)`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-fetch-release-'));
const cacheDir = path.join(tmp, 'cache');
const emptySnapshot = path.join(tmp, 'no-snapshot');
const DROPPED = 'Steam/Steam.datamaps';
const TAMPERED = 'Books/Books.test';

let server: http.Server;
let base = '';
const requests: { path: string; range?: string }[] = [];
let dropped = 0;

function serve(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length });
  res.end(body);
}

before(async () => {
  if (skip) return;
  mkdirSync(emptySnapshot, { recursive: true });
  process.env.PRORL_SNAPSHOT_DIR = emptySnapshot;
  delete process.env.PRORL_DATA_DIR;
  delete process.env.PRORL_FETCH_BASE_URL;
  server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    requests.push({ path: url, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const good = /^\/datasets\/(.+)$/.exec(url);
    const bad = /^\/tampered\/(.+)$/.exec(url);
    const rel = (good ?? bad)?.[1];
    if (!rel || rel.includes('..') || !existsSync(path.join(source, rel))) return res.writeHead(404).end();
    let body = readFileSync(path.join(source, rel));
    if (bad && rel === TAMPERED) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0x01;
    }
    if (good && rel === DROPPED && !req.headers.range && dropped === 0) {
      // The first time: announce the whole file, send a third of it, drop the connection.
      dropped++;
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, Math.floor(body.length / 3)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    serve(req, res, body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return runCli(argv, { out: (s) => (out += s), err: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

test(
  'fetch prorl-release: every pinned file downloaded and verified (a dropped one resumed); then ml-1m loads from the cache with the paper test cases',
  { skip },
  async () => {
    assert.equal(listDatasets({ cacheDir }).find((d) => d.name === 'ml-1m')?.source, null, 'nothing is visible before the fetch');
    const r = await cli(['fetch', PRORL_RELEASE.name, '--cache-dir', cacheDir, '--base-url', `${base}/datasets`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.split('\n').filter((l) => l.includes('sha256')).length, PRORL_RELEASE_FILES.length);
    assert.equal(dropped, 1);
    assert.ok(
      requests.some((q) => q.path === `/datasets/${DROPPED}` && q.range),
      'the dropped download was resumed with a Range request',
    );
    assert.match(r.err, new RegExp(`${PRORL_RELEASE.commit}`));
    const dir = rawCacheDir(cacheDir, PRORL_RELEASE.name);
    for (const f of PRORL_RELEASE_FILES) assert.ok(existsSync(path.join(dir, f.fileName)), f.fileName);

    const ml = listDatasets({ cacheDir }).find((d) => d.name === 'ml-1m')!;
    assert.deepEqual(ml.source && { kind: ml.source.kind, via: ml.source.via }, { kind: 'release', via: `cache (${PRORL_RELEASE.name})` });
    const ds = await loadDataset('ml-1m', { cacheDir });
    assert.equal(ds.meta.source, 'prorl-release:ml-1m');
    assert.equal(ds.cases.test.length, 6928);

    // A second fetch finds every file in place and downloads nothing.
    const before = requests.length;
    const again = await cli(['fetch', PRORL_RELEASE.name, '--cache-dir', cacheDir, '--base-url', `${base}/datasets`]);
    assert.equal(again.code, 0, again.err);
    assert.equal(requests.length, before);
    assert.equal(again.err.match(/already downloaded and verified/g)?.length, PRORL_RELEASE_FILES.length);
  },
);

test('fetch prorl-release refuses a file whose bytes differ from the pinned ones (exit 1, nothing kept)', { skip }, async () => {
  const fresh = path.join(tmp, 'cache-tampered');
  const r = await cli(['fetch', PRORL_RELEASE.name, '--cache-dir', fresh, '--base-url', `${base}/tampered`]);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${TAMPERED.replace('/', '\\/')}: verification failed \\(SHA-256`));
  const dir = rawCacheDir(fresh, PRORL_RELEASE.name);
  assert.ok(!existsSync(path.join(dir, TAMPERED)) && !existsSync(path.join(dir, `${TAMPERED}.part`)));
  // A damaged file already in the cache is noticed and downloaded again.
  writeFileSync(path.join(rawCacheDir(cacheDir, PRORL_RELEASE.name), 'ml-1m', 'ml-1m.val'), 'not the release');
  const again = await cli(['fetch', PRORL_RELEASE.name, '--cache-dir', cacheDir, '--base-url', `${base}/datasets`]);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /ml-1m\/ml-1m.val: the file in the cache does not match/);
});
