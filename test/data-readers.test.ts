/**
 * Readers of the raw public formats and RecBole atomic files, on small fixtures shaped like the
 * real files; the Python-literal parser; and errors on malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadDataset, DataFormatError } from '../data/index.ts';
import { parsePyLiteral, PyLiteralError } from '../data/pyliteral.ts';
import { findRawFiles, readRaw } from '../data/raw.ts';
import { parseTokenSeq } from '../data/recbole.ts';
import { splitDelimited } from '../data/text.ts';
import { SPLITS, type Dataset } from '../data/dataset.ts';
import { syntheticLog, writeAmazon, writeMovieLens, writeRecBole, writeSteam } from './fixtures/data/synthetic-logs.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'prorec-data-readers-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const quiet = () => {};
let n = 0;
const dirs = () => {
  const d = path.join(tmp, String(n++));
  return { data: path.join(d, 'data'), cache: path.join(d, 'cache') };
};

// ---------------------------------------------------------------- Python literals

test('parsePyLiteral: Python 2 dict lines as in the Steam files', () => {
  const v = parsePyLiteral(
    `{u'username': u'Chaos Syren', 'hours': 0.1, u'product_id': u'725280', u'date': u'2017-12-17', u'text': u'It\\'s \\u00e9t\\xe9 "fine"\\n', 'early_access': False, 'found_funny': None, 'x': (1, 2,), 's': {1}, 'n': -1.5e3, 'l': 10L, 'cat': 'a' "b"}`,
  );
  assert.deepEqual(v, {
    username: 'Chaos Syren',
    hours: 0.1,
    product_id: '725280',
    date: '2017-12-17',
    text: 'It\'s été "fine"\n',
    early_access: false,
    found_funny: null,
    x: [1, 2],
    s: [1],
    n: -1500,
    l: 10,
    cat: 'ab',
  });
  assert.deepEqual(parsePyLiteral(`[r'a\\d', b'\\x41', '\\101', 'unknown \\q']`), ['a\\d', 'A', 'A', 'unknown \\q']);
  assert.deepEqual(parsePyLiteral('{}'), {});
});

test('parsePyLiteral: errors give the column and what was expected', () => {
  assert.throws(
    () => parsePyLiteral("{'a': 1 'b': 2}"),
    (e: unknown) => e instanceof PyLiteralError && e.column === 9 && /expected ',' or '}' in a dict/.test(e.message),
  );
  assert.throws(() => parsePyLiteral("{'a': 'unterminated}"), /expected the closing '/);
  assert.throws(() => parsePyLiteral('{"a": true}'), /expected a Python literal/); // JSON's lower-case true is not Python
  assert.throws(() => parsePyLiteral("{'a': 1} trailing"), /expected the end of the literal/);
});

test('CSV splitting and RecBole token sequences', () => {
  assert.deepEqual(splitDelimited('11,"American President, The (1995)",Comedy Drama', ','), ['11', 'American President, The (1995)', 'Comedy Drama']);
  assert.deepEqual(splitDelimited('1,"say ""hi""",x', ','), ['1', 'say "hi"', 'x']);
  assert.equal(splitDelimited('1,"open', ','), null);
  assert.deepEqual(splitDelimited('a\t\tb', '\t'), ['a', '', 'b']);
  assert.deepEqual(parseTokenSeq("['Action', 'Free to Play']"), ['Action', 'Free to Play']);
  assert.deepEqual(parseTokenSeq("Animation Children's Comedy"), ['Animation', "Children's", 'Comedy']);
  assert.deepEqual(parseTokenSeq(''), []);
  assert.equal(parseTokenSeq("['open"), null);
});

// ---------------------------------------------------------------- each raw format

const LOG = syntheticLog();

/** Sequences of all splits as title lists, sorted: comparable across formats whose ids differ. */
function titleSequences(ds: Dataset): string[] {
  return SPLITS.flatMap((s) => ds.sequences[s].map((seq) => seq.map((i) => ds.items.titles[i].replace('Movie, The', 'Movie')).join('|'))).sort();
}

test('MovieLens-1M raw: ratings.dat + movies.dat (Latin-1), in the folder the archive unpacks to', async () => {
  const { data, cache } = dirs();
  writeMovieLens(path.join(data, 'ml-1m'), LOG);
  const ds = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet });
  assert.equal(ds.meta.source, 'raw:ml-1m');
  const cafe = ds.items.rawIds.indexOf('8'); // item 7: a Latin-1 title
  assert.equal(ds.items.titles[cafe], 'Café 7 (1995)');
  assert.deepEqual(ds.items.attributes[cafe].map((a) => ds.items.attributeNames[a]).sort(), [...LOG.items[7].genres].sort());
  const total = SPLITS.reduce((a, s) => a + ds.sequences[s].reduce((b, q) => b + q.length, 0), 0);
  assert.ok(total > 0 && total <= LOG.sequences.reduce((a, s) => a + s.length, 0));
  assert.ok(ds.cases.train.length > 0 && ds.cases.test.length > 0);
  assert.ok(ds.meta.notes.some((x) => /5-core filtering/.test(x)));
});

test('every raw format and RecBole give the same sequences for the same log', async () => {
  const built: Record<string, Dataset> = {};
  {
    const { data, cache } = dirs();
    writeMovieLens(data, LOG);
    built.movielens = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet });
  }
  {
    const { data, cache } = dirs();
    writeSteam(data, LOG);
    built.steam = await loadDataset('steam', { dataDir: data, cacheDir: cache, log: quiet });
    assert.equal(built.steam.meta.source, 'raw:steam-v2');
  }
  {
    const { data, cache } = dirs();
    writeSteam(data, LOG, { gzip: false });
    built.steamPlain = await loadDataset('steam', { dataDir: data, cacheDir: cache, log: quiet });
  }
  {
    const { data, cache } = dirs();
    writeAmazon(data, LOG);
    built.amazon = await loadDataset('books', { dataDir: data, cacheDir: cache, log: quiet });
    assert.equal(built.amazon.meta.source, 'raw:amazon-json');
    // HTML entities in categories are decoded; the root category "Books" is not an attribute.
    assert.ok(built.amazon.items.attributeNames.includes('Action & Adventure'));
    assert.ok(built.amazon.items.attributeNames.includes("Children's"));
    assert.ok(!built.amazon.items.attributeNames.includes('Books'));
  }
  {
    const { data, cache } = dirs();
    writeAmazon(data, LOG, { csvOnly: true });
    built.amazonCsv = await loadDataset('books', { dataDir: data, cacheDir: cache, log: quiet });
    assert.equal(built.amazonCsv.meta.source, 'raw:amazon-csv');
  }
  {
    const { data, cache } = dirs();
    writeRecBole(data, 'ml-1m-sas', LOG);
    built.recbole = await loadDataset('ml-1m', { dataDir: data, cacheDir: cache, log: quiet });
    assert.equal(built.recbole.meta.source, 'recbole:ml-1m-sas');
    assert.ok(
      built.recbole.items.titles.some((t) => t.startsWith('Movie, The')),
      'quoted CSV titles with commas',
    );
  }
  const reference = titleSequences(built.movielens);
  assert.ok(reference.length > 10);
  for (const [name, ds] of Object.entries(built)) {
    assert.deepEqual(titleSequences(ds), reference, `${name} reads the same sequences`);
    assert.equal(ds.items.count, built.movielens.items.count, name);
  }
});

test('Steam v1 (australian_user_reviews): one dict per user with a list of reviews and "Posted" dates', async () => {
  const { data, cache } = dirs();
  mkdirSync(data, { recursive: true });
  const games: string[] = [];
  const users: string[] = [];
  for (let i = 0; i < 8; i++) games.push(`{u'id': u'${100 + i}', u'app_name': u'G${i}', u'genres': [u'Action']}`);
  for (let u = 0; u < 8; u++) {
    const reviews = Array.from(
      { length: 14 },
      (_, t) =>
        `{u'funny': u'', u'posted': u'Posted ${['January', 'March', 'June'][t % 3]} ${1 + t}, ${2011 + (t >> 1)}.', u'item_id': u'${100 + ((u + t) % 8)}', u'helpful': u'No ratings yet', u'recommend': True, u'review': u'ok'}`,
    );
    users.push(`{u'user_id': u'7656119${u}', u'user_url': u'http://steamcommunity.com/id/x${u}', u'reviews': [${reviews.join(', ')}]}`);
  }
  writeFileSync(path.join(data, 'australian_user_reviews.json.gz'), gzipSync(Buffer.from(users.join('\n'))));
  writeFileSync(path.join(data, 'steam_games.json.gz'), gzipSync(Buffer.from(games.join('\n'))));
  const ds = await loadDataset('steam', { dataDir: data, cacheDir: cache, log: quiet });
  assert.equal(ds.meta.source, 'raw:steam-v1');
  assert.equal(
    SPLITS.reduce((a, s) => a + ds.sequences[s].length, 0),
    8,
  );
  assert.ok(ds.cases.train.length > 0, 'all games share a genre: coherent runs exist');
});

// ---------------------------------------------------------------- malformed input

async function expectFormatError(write: (dir: string) => void, name: 'ml-1m' | 'steam' | 'books', pattern: RegExp) {
  const { data, cache } = dirs();
  mkdirSync(data, { recursive: true });
  write(data);
  await assert.rejects(loadDataset(name, { dataDir: data, cacheDir: cache, log: quiet }), (e: unknown) => {
    assert.ok(e instanceof DataFormatError, `a DataFormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('malformed raw lines: the error names the file, the line and what was expected', async () => {
  await expectFormatError(
    (d) => {
      writeMovieLens(d, LOG);
      writeFileSync(path.join(d, 'ratings.dat'), '1::2::5::978300760\n1::3::5\n');
    },
    'ml-1m',
    /ratings\.dat, line 2: expected UserID::MovieID::Rating::Timestamp \(integers\), found "1::3::5"/,
  );
  await expectFormatError(
    (d) => {
      writeSteam(d, LOG);
      writeFileSync(
        path.join(d, 'steam_reviews.json.gz'),
        gzipSync(Buffer.from("{u'username': u'a', u'product_id': u'1', u'date': u'2017-01-01'}\n{u'username': u'b', u'hours': 1 u'date': u'2017-01-02'}\n")),
      );
    },
    'steam',
    /steam_reviews\.json\.gz, line 2, column 33: expected a review \(a Python dict literal\): ',' or '}' in a dict/,
  );
  await expectFormatError(
    (d) => {
      writeSteam(d, LOG);
      writeFileSync(path.join(d, 'steam_reviews.json.gz'), gzipSync(Buffer.from("{u'username': u'a', u'product_id': u'1'}\n")));
    },
    'steam',
    /line 1: expected a review dict with 'username', 'product_id' and 'date'/,
  );
  await expectFormatError(
    (d) => {
      writeAmazon(d, LOG);
      writeFileSync(
        path.join(d, 'Books.json.gz'),
        gzipSync(Buffer.from('{"reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n{"reviewerID": "A1", "asin": \n')),
      );
    },
    'books',
    /Books\.json\.gz, line 2: expected a JSON object per line, found invalid JSON/,
  );
  await expectFormatError(
    (d) => {
      writeAmazon(d, LOG);
      writeFileSync(path.join(d, 'Books.json.gz'), gzipSync(Buffer.from('{"reviewerID": "A1", "asin": 7, "unixReviewTime": 1}\n')));
    },
    'books',
    /line 1: expected a review with string reviewerID, string asin and numeric unixReviewTime/,
  );
  await expectFormatError(
    (d) => {
      writeAmazon(d, LOG);
      // A truncated download: a gzip stream cut in the middle.
      const gz = gzipSync(Buffer.from('{"reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n'.repeat(2000)));
      writeFileSync(path.join(d, 'Books.json.gz'), gz.subarray(0, gz.length - 40));
    },
    'books',
    /Books\.json\.gz, after line \d+: expected a complete gzip stream/,
  );
});

test('malformed RecBole files: header, field count and token_seq errors name the line', async () => {
  const write = (d: string, inter: string, item?: string) => {
    mkdirSync(path.join(d, 'ml-1m-sas'), { recursive: true });
    writeFileSync(path.join(d, 'ml-1m-sas', 'ml-1m-sas.inter'), inter);
    if (item !== undefined) writeFileSync(path.join(d, 'ml-1m-sas', 'ml-1m-sas.item'), item);
  };
  await expectFormatError((d) => write(d, 'user_id\titem_id:token\n1\t2\n'), 'ml-1m', /ml-1m-sas\.inter, line 1 \(header\): expected columns 'name:type'/);
  await expectFormatError(
    (d) => write(d, 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\t5\n1\t3\n'),
    'ml-1m',
    /ml-1m-sas\.inter, line 3: expected 3 tab-separated fields \(user_id, item_id, timestamp\), found 2 fields/,
  );
  await expectFormatError(
    (d) => write(d, 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\tsoon\n'),
    'ml-1m',
    /line 2: expected a numeric timestamp, found "soon"/,
  );
  await expectFormatError(
    (d) => write(d, 'user_id:token\titem_id:token\n1\t2\n', "item_id:token\tgenres:token_seq\n2\t['Action'\n"),
    'ml-1m',
    /ml-1m-sas\.item, line 2: expected a token_seq/,
  );
});

test('findRawFiles reports the variant it found; readRaw keeps Steam repeats', async () => {
  const d = path.join(tmp, 'repeat');
  mkdirSync(d, { recursive: true });
  writeFileSync(
    path.join(d, 'steam_reviews.json'),
    [
      "{u'username': u'a', u'product_id': u'10', u'date': u'2017-01-01'}",
      "{u'username': u'a', u'product_id': u'10', u'date': u'2017-01-05'}",
      "{u'username': u'a', u'product_id': u'20', u'date': u'2017-01-03'}",
    ].join('\n'),
  );
  const files = findRawFiles(d, 'steam')!;
  assert.equal(files.variant, 'steam-v2');
  const { log } = await readRaw(files);
  assert.equal(log.length, 3);
  assert.deepEqual(
    [0, 1, 2].map((r) => log.items[log.item(r)]),
    ['10', '10', '20'],
  );
});
