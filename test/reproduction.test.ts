/**
 * docs/reproduction.md is generated (reports/reproduction.ts) from the committed result files in
 * docs/reproduction/results/ and the official log's figures: the committed page is exactly what
 * they give, and the official figures are the log's (their per-update lengths average to the
 * log's per-epoch summaries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from '../core/validate.ts';
import { OfficialLogSchema, writeReproduction } from '../reports/reproduction.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

test('the committed reproduction page and plot are what the committed result files and official figures give', async () => {
  const { changed } = await writeReproduction(ROOT, { check: true });
  assert.deepEqual(changed, [], 'run npm run reproduction');
});

test("the official figures: per-update lengths (process 0, rounded to 0.1) average to each epoch's summary within rounding", () => {
  const file = path.join(ROOT, 'docs/reproduction/official-steam.json');
  const o = validate(OfficialLogSchema, JSON.parse(readFileSync(file, 'utf8')), file);
  const W = o.settings.updatesPerEpoch;
  assert.equal(o.perUpdate.length.length, o.epochs.length * W);
  o.epochs.forEach((e, b) => {
    const part = o.perUpdate.length.slice(b * W, (b + 1) * W);
    const mean = part.reduce((a, x) => a + x, 0) / W;
    assert.ok(Math.abs(mean - e.length) < 0.05, `epoch ${e.epoch}: per-update mean ${mean} vs summary ${e.length}`);
  });
  assert.equal(o.testAfterEpoch1['ctr@1'].toFixed(3), '0.612');
});
