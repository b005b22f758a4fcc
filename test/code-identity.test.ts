/**
 * Cache keys and dataset hashes depend on what the code does, not on where or as what it was loaded:
 * - a dataset's hash (which names it to simulator checkpoints, the shipped ones included) carries the
 *   builders' committed identity, not a hash of their files on disk (TypeScript in a checkout,
 *   JavaScript in the package); what the builders produce from the fixtures is pinned under that
 *   identity, so a change of output without a new identity fails here;
 * - on the release snapshot, the datasets hash to the values the shipped simulators were trained on;
 * - every source fingerprint the code takes is computed by the build (scripts/source-fingerprints.ts);
 * - a shipped checkpoint that exists but does not match says which key differed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { stableHash } from '../core/hash.ts';
import { BUILDER_IDENTITY, codeFingerprint, inputHashes } from '../data/cache.ts';
import type { Dataset } from '../data/dataset.ts';
import { loadDataset } from '../data/index.ts';
import { findReleaseFiles, releaseInputFiles } from '../data/release.ts';
import { explainPretrainedMiss, readPretrainedManifest } from '../simulators/pretrained.ts';
import { resolveConfigs } from '../simulators/train.ts';
import { FINGERPRINTED_MODULES } from '../scripts/source-fingerprints.ts';
import { writeRelease } from './fixtures/data/release.ts';
import { syntheticLog, writeMovieLens, writeRecBole } from './fixtures/data/synthetic-logs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'prorec-code-identity-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** What a build produced, without its hash (which carries the identity itself). */
function contentDigest(ds: Dataset): string {
  const { hash: _hash, ...meta } = ds.meta;
  const { count, rawIds, titles, attributes, attributeNames, semanticIds } = ds.items;
  return stableHash({
    name: ds.name,
    items: { count, rawIds, titles, attributes, attributeNames, semanticIds: semanticIds ?? null },
    sequences: ds.sequences,
    cases: ds.cases,
    simulatorSequences: ds.simulatorSequences,
    meta,
  });
}

/**
 * What the builders produce from the fixtures, by builder identity. When this test fails because the
 * builders now produce something else, give BUILDER_IDENTITY (data/cache.ts) a new value and add its
 * digests here: datasets built by other code then get other hashes, and simulators trained on the old
 * ones (shipped ones too) are not loaded for them.
 */
const PRODUCED: Record<string, Record<string, string>> = {
  '134d524fa60fad06': {
    release: '4c35d5afb5d456313ed65630dc00b73798c6b89133cc84366f0139ccb74c2c62',
    raw: 'b58b0774045b75a0ad6d6c4a71327ff6881d0cad03836e88e66fd8496c0fc6b0',
    recbole: 'b0a0ebf964feb872243793a574c041ea4bd195c0f4ed057f9dad912db8add8d2',
  },
};

test('what the builders produce from the fixtures is pinned under their identity (data/cache.ts BUILDER_IDENTITY)', async () => {
  const quiet = () => {};
  const build = async (kind: string, write: (dir: string) => void) => {
    const data = path.join(tmp, kind, 'data');
    write(data);
    return contentDigest(await loadDataset('ml-1m', { dataDir: data, cacheDir: path.join(tmp, kind, 'cache'), useCache: false, log: quiet }));
  };
  const log = syntheticLog();
  const produced = {
    release: await build('release', (d) => writeRelease(d, 'ml-1m')),
    raw: await build('raw', (d) => writeMovieLens(path.join(d, 'ml-1m'), log)),
    recbole: await build('recbole', (d) => writeRecBole(d, 'ml-1m-sas', log)),
  };
  assert.ok(PRODUCED[BUILDER_IDENTITY], `no digests pinned for BUILDER_IDENTITY ${BUILDER_IDENTITY}: add them (${JSON.stringify(produced)})`);
  assert.deepEqual(produced, PRODUCED[BUILDER_IDENTITY], `the builders produce other datasets than under identity ${BUILDER_IDENTITY}: see PRODUCED`);
});

test("a dataset's hash does not depend on the builders' code fingerprint; the compiled cache's key does", () => {
  const data = path.join(tmp, 'hash');
  writeRelease(data, 'ml-1m');
  const files = releaseInputFiles(findReleaseFiles(data, 'ml-1m')!);
  const parts = { name: 'ml-1m', kind: 'release', files, options: { seed: 0 } };
  const { identity, cacheKey } = inputHashes(parts);
  // The identity is a function of the inputs and BUILDER_IDENTITY only; the cache key adds the code.
  assert.equal(identity, 'a8987bee7ddb1ce7', "the same in a checkout and in the package, whatever the builders' files");
  assert.equal(cacheKey, stableHash({ identity, code: codeFingerprint() }).slice(0, 16));
  assert.notEqual(identity, cacheKey);
});

const snapshot = process.env.PRORL_SNAPSHOT_DIR ?? path.resolve(ROOT, '../shared/datasets/prorl-snapshot');
test(
  'on the release snapshot, each dataset hashes to the value its shipped simulators were trained on',
  { skip: existsSync(snapshot) ? false : `no ../shared/datasets/prorl-snapshot (looked in ${snapshot}); set PRORL_SNAPSHOT_DIR` },
  () => {
    const shipped = new Map(readPretrainedManifest().checkpoints.map((c) => [c.dataset, c.datasetHash]));
    assert.equal(shipped.size, 3);
    for (const [name, hash] of shipped) {
      const files = releaseInputFiles(findReleaseFiles(snapshot, name as 'ml-1m')!);
      assert.equal(inputHashes({ name, kind: 'release', files, options: { seed: 0 } }).identity, hash, name);
    }
  },
);

test('every module that takes a source fingerprint is one the build computes it for (scripts/source-fingerprints.ts)', () => {
  const callers: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts') && rel !== 'core/hash.ts' && /sourceFingerprint\(/.test(readFileSync(path.join(ROOT, rel), 'utf8'))) callers.push(rel);
    }
  };
  for (const dir of ['core', 'compute', 'data', 'simulators', 'envs', 'agents', 'results', 'benchmarks', 'reports', 'bin']) walk(dir);
  assert.deepEqual(callers.sort(), [...FINGERPRINTED_MODULES].sort());
});

test('a shipped checkpoint that exists but does not match: the message says which key differed', () => {
  const { config, train } = resolveConfigs('sasrec', { hidden: 16 }, {}, 'ml-1m');
  const dataset = { name: 'ml-1m', meta: { hash: '0123456789abcdef' } } as unknown as Dataset;
  const why = explainPretrainedMiss({ file: 'whatever.simckpt', dataset, model: 'sasrec', config, train, seed: 1 });
  assert.ok(why !== null);
  assert.match(why, /ml-1m-sasrec-seed1-\S+\.simckpt is shipped for ml-1m\/sasrec/);
  assert.match(why, /dataset hash b1c8cdd8144bd74c shipped, 0123456789abcdef here/);
  assert.match(why, /config\.hidden \d+ shipped, 16 here/);
  assert.doesNotMatch(why, /train\./, 'the training settings are the same');
  assert.equal(explainPretrainedMiss({ file: 'x.simckpt', dataset: { ...dataset, name: 'nope' }, model: 'sasrec', config, train, seed: 1 }), null);
});
