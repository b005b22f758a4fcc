/**
 * Known values of the canonical JSON (RFC 8785) and its SHA-256: result files, caches and run hashes
 * are keyed by them, so a change of its implementation (core/jcs.ts) must not change a single one.
 * The expected texts and hashes were computed with the `canonicalize` package 5.1.0, which keyed
 * them before core/jcs.ts replaced it (the two agreed on 40,000 random values, fast-check's
 * `anything` with boxed values, dates, sparse arrays and lone surrogates, when it was written).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, stableHash } from '../core/hash.ts';

const KNOWN: [unknown, string, string][] = [
  [
    { b: 2, a: 1, c: { z: [3, { y: null, x: true }], '€': 'é', '\u0080': 'x', '😀': '\u2028' } },
    '{"a":1,"b":2,"c":{"z":[3,{"x":true,"y":null}],"\u0080":"x","€":"é","😀":"\u2028"}}',
    'f8b3681413055f3a81e6013039d9222410e36f7d14485321d7a390654d8e4ee1',
  ],
  [
    [1e21, 1e-7, -0, 0.1 + 0.2, 333333333.3333333, 5e-324, -1.7976931348623157e308, 123456789012345680000],
    '[1e+21,1e-7,0,0.30000000000000004,333333333.3333333,5e-324,-1.7976931348623157e+308,123456789012345680000]',
    'fbc93ed8ff4f04c9b7ae11579c41e14838580876dbce8e96742d178429922a7c',
  ],
  [
    { s: 'tab\tquote"backslash\\ctrl\u0001 emoji😀', e: [], o: {}, u: undefined, n: null },
    '{"e":[],"n":null,"o":{},"s":"tab\\tquote\\"backslash\\\\ctrl\\u0001 emoji😀"}',
    '278cde767f77788e72b0f253ab3209c92251455a6740996e954d83a6b8f9e204',
  ],
  [
    { schemaVersion: 4, envId: 'synthetic-v0', agentConfig: { pathLength: 3 }, seed: 1, ks: [1, 5, 10], trainEpochs: null },
    '{"agentConfig":{"pathLength":3},"envId":"synthetic-v0","ks":[1,5,10],"schemaVersion":4,"seed":1,"trainEpochs":null}',
    'bdc6269840d7ba42b387e8766f09eebd3187a4b89de5bb23623d292d0ab68013',
  ],
  [
    // eslint-disable-next-line no-sparse-arrays
    [1, undefined, () => 1, , 'x', Symbol('s')],
    '[1,null,null,null,"x",null]',
    '8e0e8297d8a95fa0a4096f790e3b4a947145aab7bd7f8d4694baf7edfe7c942a',
  ],
  [
    { d: new Date(0), b: new Number(2), t: new String('t'), f: () => 1, s: Symbol('x'), n: { toJSON: () => undefined } },
    '{"b":2,"d":"1970-01-01T00:00:00.000Z","t":"t"}',
    'a69c0ce9e12ac9823757eb42e7feddac73323c23e66393b6833a160258c451e6',
  ],
];

test('canonical JSON and stableHash keep their known values (RFC 8785: key order, numbers, escapes)', () => {
  for (const [value, text, hash] of KNOWN) {
    assert.equal(canonicalJson(value), text);
    assert.equal(stableHash(value), hash);
  }
});

test('values without a JSON form are refused: NaN, ±Infinity, cycles, lone surrogates', () => {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (const bad of [NaN, Infinity, { a: -Infinity }, cycle, '\ud800', { k: 'x\udc00' }]) assert.throws(() => canonicalJson(bad));
});
