/**
 * Readers for the raw public files, as their publishers distribute them:
 * - MovieLens-1M (GroupLens): `ratings.dat` (UserID::MovieID::Rating::Timestamp) and `movies.dat`
 *   (MovieID::Title::Genres, genres separated by '|'), Latin-1 encoded.
 * - Steam (McAuley lab): `steam_reviews.json.gz` (v2; one Python dict literal per line, with
 *   username, product_id, date) or `australian_user_reviews.json.gz` (v1; one dict per user with a
 *   list of reviews), plus `steam_games.json.gz` (id, app_name/title, genres, tags) for metadata.
 * - Amazon Review Data 2018, Books: `Books.json.gz` (JSON lines: reviewerID, asin, unixReviewTime)
 *   or the ratings-only `Books.csv` (item,user,rating,timestamp), plus `meta_Books.json.gz`
 *   (JSON lines: asin, title, category).
 * Every reader names the file and line of anything malformed and says what it expected.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DatasetName } from './registry.ts';
import { DataFormatError, preview } from './errors.ts';
import { InteractionLog } from './log.ts';
import { parsePyLiteral, PyLiteralError, type PyValue } from './pyliteral.ts';
import { forEachLine, splitDelimited } from './text.ts';

/** The raw files found for one dataset. */
export interface RawFiles {
  readonly dir: string;
  /** Interaction file(s). */
  readonly interactions: string;
  /** Item metadata file, when present. */
  readonly items?: string;
  /** Which variant of the source the files are. */
  readonly variant: 'ml-1m' | 'steam-v2' | 'steam-v1' | 'amazon-json' | 'amazon-csv';
}

function firstFile(dirs: readonly string[], names: readonly string[]): string | undefined {
  for (const d of dirs)
    for (const n of names) {
      const f = path.join(d, n);
      if (existsSync(f) && statSync(f).isFile()) return f;
    }
  return undefined;
}

/** Interaction files `findRawFiles` looks for, per dataset, in the order it tries them. */
const RAW_INTERACTION_FILES: Readonly<Record<DatasetName, { readonly subfolders: readonly string[]; readonly variants: readonly (readonly string[])[] }>> = {
  'ml-1m': { subfolders: ['ml-1m'], variants: [['ratings.dat']] },
  steam: {
    subfolders: ['steam'],
    variants: [
      ['steam_reviews.json.gz', 'steam_reviews.json'],
      ['australian_user_reviews.json.gz', 'australian_user_reviews.json'],
    ],
  },
  books: {
    subfolders: ['books', 'Books'],
    variants: [
      ['Books.json.gz', 'Books.json', 'Books_5.json.gz', 'Books_5.json'],
      ['Books.csv', 'ratings_Books.csv'],
    ],
  },
};

/** Every interaction file `findRawFiles(dir, name)` looks for (paths, in the order tried): for messages naming them. */
export function rawFileCandidates(dir: string, name: DatasetName): string[] {
  const spec = RAW_INTERACTION_FILES[name];
  const dirs = [dir, ...spec.subfolders.map((s) => path.join(dir, s))];
  return spec.variants.flatMap((names) => dirs.flatMap((d) => names.map((n) => path.join(d, n))));
}

/** Finds the raw files of `name` in `dir` (or in the sub-folder an archive unpacks to). */
export function findRawFiles(dir: string, name: DatasetName): RawFiles | null {
  const spec = RAW_INTERACTION_FILES[name];
  const dirs = [dir, ...spec.subfolders.map((s) => path.join(dir, s))];
  if (name === 'ml-1m') {
    const ratings = firstFile(dirs, spec.variants[0]);
    if (!ratings) return null;
    const movies = firstFile([path.dirname(ratings)], ['movies.dat']);
    return { dir: path.dirname(ratings), interactions: ratings, ...(movies ? { items: movies } : {}), variant: 'ml-1m' };
  }
  if (name === 'steam') {
    const games = firstFile(dirs, ['steam_games.json.gz', 'steam_games.json']);
    const v2 = firstFile(dirs, spec.variants[0]);
    if (v2) return { dir: path.dirname(v2), interactions: v2, ...(games ? { items: games } : {}), variant: 'steam-v2' };
    const v1 = firstFile(dirs, spec.variants[1]);
    if (v1) return { dir: path.dirname(v1), interactions: v1, ...(games ? { items: games } : {}), variant: 'steam-v1' };
    return null;
  }
  const meta = firstFile(dirs, ['meta_Books.json.gz', 'meta_Books.json']);
  const json = firstFile(dirs, spec.variants[0]);
  if (json) return { dir: path.dirname(json), interactions: json, ...(meta ? { items: meta } : {}), variant: 'amazon-json' };
  const csv = firstFile(dirs, spec.variants[1]);
  if (csv) return { dir: path.dirname(csv), interactions: csv, ...(meta ? { items: meta } : {}), variant: 'amazon-csv' };
  return null;
}

export function rawInputFiles(files: RawFiles): string[] {
  return [files.interactions, ...(files.items ? [files.items] : [])];
}

export interface RawRead {
  readonly log: InteractionLog;
  readonly notes: string[];
}

type Progress = (s: string) => void;

function progressEvery(log: Progress | undefined, file: string) {
  let next = 1_000_000;
  return (n: number) => {
    if (log && n >= next) {
      log(`  ${path.basename(file)}: ${n.toLocaleString('en-US')} lines`);
      next += 1_000_000;
    }
  };
}

/** Reads the raw files into an interaction log with item metadata. */
export async function readRaw(files: RawFiles, log?: Progress): Promise<RawRead> {
  switch (files.variant) {
    case 'ml-1m':
      return readMovieLens(files, log);
    case 'steam-v2':
    case 'steam-v1':
      return readSteam(files, log);
    default:
      return readAmazon(files, log);
  }
}

// ---------------------------------------------------------------- MovieLens-1M

async function readMovieLens(files: RawFiles, progress?: Progress): Promise<RawRead> {
  const log = new InteractionLog();
  const tick = progressEvery(progress, files.interactions);
  await forEachLine(
    files.interactions,
    (line, n) => {
      const f = line.split('::');
      if (f.length !== 4 || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1]) || !/^-?\d+(\.\d+)?$/.test(f[2]) || !/^\d+$/.test(f[3]))
        throw new DataFormatError(files.interactions, `line ${n}`, 'UserID::MovieID::Rating::Timestamp (integers)', preview(line));
      log.add(f[0], f[1], Number(f[3]));
      tick(n);
    },
    'latin1',
  );
  const notes = [`raw MovieLens-1M: ${path.basename(files.interactions)} (every rating is an interaction, whatever its value)`];
  if (files.items) {
    await forEachLine(
      files.items,
      (line, n) => {
        const f = line.split('::');
        if (f.length !== 3 || !/^\d+$/.test(f[0])) throw new DataFormatError(files.items!, `line ${n}`, 'MovieID::Title::Genres', preview(line));
        log.addMeta(f[0], f[1], f[2] === '' ? [] : f[2].split('|'));
      },
      'latin1',
    );
    notes.push(`titles and genres from ${path.basename(files.items)}`);
  } else notes.push('no movies.dat: items have no titles or genres, so no coherent runs and no cases');
  return { log, notes };
}

// ---------------------------------------------------------------- Steam

function pyLine(file: string, line: string, n: number, what: string): PyValue {
  try {
    return parsePyLiteral(line);
  } catch (e) {
    if (e instanceof PyLiteralError)
      throw new DataFormatError(file, `line ${n}, column ${e.column}`, `${what} (a Python dict literal): ${e.expected}`, e.found);
    throw e;
  }
}

function asDict(v: PyValue): Record<string, PyValue> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
}

function idString(v: PyValue | undefined): string | null {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return null;
}

const MONTHS: Record<string, number> = {
  january: 0,
  february: 1,
  march: 2,
  april: 3,
  may: 4,
  june: 5,
  july: 6,
  august: 7,
  september: 8,
  october: 9,
  november: 10,
  december: 11,
};

/** v1 review dates look like "Posted November 5, 2011." or, for the crawl's own year, "Posted July 15." */
function parsePosted(s: string): number {
  const m = /^Posted\s+([A-Za-z]+)\s+(\d{1,2})(?:,\s*(\d{4}))?\.?$/.exec(s.trim());
  if (!m || !(m[1].toLowerCase() in MONTHS) || !m[3]) return Number.NaN;
  return Date.UTC(Number(m[3]), MONTHS[m[1].toLowerCase()], Number(m[2]));
}

async function readSteam(files: RawFiles, progress?: Progress): Promise<RawRead> {
  const log = new InteractionLog();
  const tick = progressEvery(progress, files.interactions);
  const notes: string[] = [];
  if (files.variant === 'steam-v2') {
    await forEachLine(files.interactions, (line, n) => {
      const rec = asDict(pyLine(files.interactions, line, n, 'a review'));
      const user = rec && idString(rec.username);
      const item = rec && idString(rec.product_id);
      const date = rec && typeof rec.date === 'string' ? Date.parse(`${rec.date}T00:00:00Z`) : Number.NaN;
      if (!rec || !user || !item || !Number.isFinite(date))
        throw new DataFormatError(files.interactions, `line ${n}`, "a review dict with 'username', 'product_id' and 'date' (YYYY-MM-DD)", preview(line));
      log.add(user, item, date);
      tick(n);
    });
    notes.push(
      `raw Steam v2 reviews: ${path.basename(files.interactions)} (each review is an interaction; users by username, as in the ProRL release; times are review dates, ties keep file order)`,
    );
  } else {
    let reviews = 0;
    await forEachLine(files.interactions, (line, n) => {
      const rec = asDict(pyLine(files.interactions, line, n, 'a user record'));
      const user = rec && idString(rec.user_id);
      if (!rec || !user || !Array.isArray(rec.reviews))
        throw new DataFormatError(files.interactions, `line ${n}`, "a user dict with 'user_id' and a 'reviews' list", preview(line));
      rec.reviews.forEach((r, k) => {
        const review = asDict(r);
        const item = review && idString(review.item_id);
        if (!review || !item) throw new DataFormatError(files.interactions, `line ${n}, review ${k}`, "a review dict with 'item_id'", preview(r));
        log.add(user, item, typeof review.posted === 'string' ? parsePosted(review.posted) : Number.NaN);
        reviews++;
      });
      tick(n);
    });
    notes.push(`raw Steam v1 reviews: ${path.basename(files.interactions)} (${reviews} reviews; dates without a year are unusable and go last)`);
  }
  if (files.items) {
    let noId = 0;
    await forEachLine(files.items, (line, n) => {
      const rec = asDict(pyLine(files.items!, line, n, 'a game'));
      if (!rec) throw new DataFormatError(files.items!, `line ${n}`, 'a game dict', preview(line));
      const id = idString(rec.id);
      // A few games in the public file have no id: nothing can refer to them.
      if (!id) {
        noId++;
        return;
      }
      const title = typeof rec.app_name === 'string' ? rec.app_name : typeof rec.title === 'string' ? rec.title : '';
      const genres = Array.isArray(rec.genres) ? rec.genres.filter((g): g is string => typeof g === 'string') : [];
      log.addMeta(id, title, genres);
    });
    notes.push(`titles and genres from ${path.basename(files.items)}${noId ? ` (${noId} games without an id skipped)` : ''}; genres are the attributes`);
  } else notes.push('no steam_games file: items have no genres, so no coherent runs and no cases');
  return { log, notes };
}

// ---------------------------------------------------------------- Amazon Books

async function readAmazon(files: RawFiles, progress?: Progress): Promise<RawRead> {
  const log = new InteractionLog();
  const tick = progressEvery(progress, files.interactions);
  const notes: string[] = [];
  if (files.variant === 'amazon-json') {
    await forEachLine(files.interactions, (line, n) => {
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        throw new DataFormatError(files.interactions, `line ${n}`, 'a JSON object per line', `invalid JSON (${(e as Error).message})`);
      }
      const r = rec as { reviewerID?: unknown; asin?: unknown; unixReviewTime?: unknown };
      if (!r || typeof r !== 'object' || typeof r.reviewerID !== 'string' || typeof r.asin !== 'string' || typeof r.unixReviewTime !== 'number')
        throw new DataFormatError(files.interactions, `line ${n}`, 'a review with string reviewerID, string asin and numeric unixReviewTime', preview(line));
      log.add(r.reviewerID, r.asin, r.unixReviewTime);
      tick(n);
    });
    notes.push(`raw Amazon 2018 reviews: ${path.basename(files.interactions)} (each review is an interaction; times are unixReviewTime, ties keep file order)`);
  } else {
    await forEachLine(files.interactions, (line, n) => {
      const f = splitDelimited(line, ',');
      if (!f || f.length !== 4 || f[0] === '' || f[1] === '' || !/^\d+(\.\d+)?$/.test(f[3]))
        throw new DataFormatError(files.interactions, `line ${n}`, 'item,user,rating,timestamp', preview(line));
      log.add(f[1], f[0], Number(f[3]));
      tick(n);
    });
    notes.push(`raw Amazon 2018 ratings-only file: ${path.basename(files.interactions)}`);
  }
  if (files.items) {
    await forEachLine(files.items, (line, n) => {
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        throw new DataFormatError(files.items!, `line ${n}`, 'a JSON object per line', `invalid JSON (${(e as Error).message})`);
      }
      const r = rec as { asin?: unknown; title?: unknown; category?: unknown };
      if (!r || typeof r !== 'object' || typeof r.asin !== 'string' || (r.category !== undefined && !Array.isArray(r.category)))
        throw new DataFormatError(files.items!, `line ${n}`, 'a product with a string asin and an optional category list', preview(line));
      const categories = ((r.category as unknown[] | undefined) ?? [])
        .filter((c): c is string => typeof c === 'string')
        .map(decodeHtml)
        // "Books" is the root of every path in this file: it says nothing about an item.
        .filter((c) => c !== '' && c !== 'Books');
      log.addMeta(r.asin, typeof r.title === 'string' ? decodeHtml(r.title) : '', categories);
    });
    notes.push(`titles and categories from ${path.basename(files.items)} (the root category "Books" dropped); categories are the attributes`);
  } else notes.push('no meta_Books file: items have no categories, so no coherent runs and no cases');
  return { log, notes };
}

function decodeHtml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(amp|lt|gt|quot|#39|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" })[e] ?? _);
}
