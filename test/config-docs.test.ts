/**
 * docs/agent-configs.md is generated from the agents' config schemas (benchmarks/config-docs.ts):
 * the committed page is exactly what they give, so a field, default or description changed in a
 * schema without `npm run docs:config` fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import '../agents/index.ts';
import { configDocsMain, writeConfigDocs } from '../benchmarks/config-docs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

test("the committed agent-config page is what the agents' schemas give", async () => {
  const { changed } = await writeConfigDocs(ROOT, { check: true });
  assert.equal(changed, false, 'run npm run docs:config');
});

test('docs:config --check exits 0 on the committed page; an unknown argument is a usage error (exit 2)', async () => {
  let err = '';
  assert.equal(await configDocsMain(['--check'], (t) => (err += t)), 0, err);
  assert.equal(await configDocsMain(['--bogus'], (t) => (err += t)), 2);
  assert.match(err, /unknown argument --bogus/);
});
