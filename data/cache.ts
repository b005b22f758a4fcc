/**
 * The compiled-dataset cache: a built dataset is stored as one compact file keyed by a hash of its
 * inputs (file contents, options, builder version), so the next load of the same inputs reads one
 * file instead of parsing and stitching again. Writes go to a temporary file renamed into place, so
 * a crash or a failed build never leaves a half-written entry behind.
 *
 * File layout: a magic line, the header length and the sha256 of header and body (checked on read:
 * a mismatch is a corrupt entry, rebuilt with a warning), a JSON header (validated on read), then
 * little-endian Int32 arrays for every numeric table.
 */
import { ProrecError } from '../core/errors.ts';
import { createHash } from 'node:crypto';
import { sourceFingerprint, stableHash } from '../core/hash.ts';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { Case, Dataset, Split } from './dataset.ts';
import { HISTORY_LENGTH, SPLITS, itemCounts } from './dataset.ts';
import { validate } from '../core/validate.ts';
import { writeFileAtomic as writeFileAtomicCore } from '../core/io.ts';

/** Bump when the builders change what they produce: old cache entries then stop matching. */
export const BUILD_VERSION = 2;

/**
 * The identity of what the builders produce, part of every dataset's hash (`Dataset.meta.hash`: the
 * name simulator checkpoints, the shipped ones included, and runs know a dataset by). A committed
 * value, not a hash of the builders' files as they lie on disk: those differ between a checkout
 * (TypeScript) and the installed package (compiled JavaScript), and change with every edit that leaves
 * the output alone; either orphaned the shipped simulators. Change it (to any new value) when the
 * builders produce other datasets from the same files: test/data-identity.test.ts pins what they build
 * from its fixtures under this value and fails until it is changed. This one is the source fingerprint
 * of the builders that built the shipped simulators' data.
 */
export const BUILDER_IDENTITY = '134d524fa60fad06';

/** The modules whose code decides what a build produces. */
const BUILDER_MODULES = ['build', 'cache', 'items', 'log', 'pyliteral', 'raw', 'recbole', 'release', 'simulator-logs', 'stitch', 'text'];

/**
 * A hash of the builders' source (core/hash.ts `sourceFingerprint`: the TypeScript sources' in the
 * built package too), part of every compiled-dataset cache key: several people edit this code, and a
 * cache entry built by yesterday's code must not be served after today's change, even when nobody
 * remembered to change BUILDER_IDENTITY.
 */
export function codeFingerprint(): string {
  return sourceFingerprint([new URL('./', import.meta.url)], BUILDER_MODULES).slice(0, 16);
}

// Version 2: the length line carries the sha256 of header and body (`<header length> <sha256>`).
const MAGIC = 'PRORECGYM-DATASET-2\n';

/** The cache folder: `opts.cacheDir`, else `PRORL_CACHE_DIR`, else `~/.cache/prorec-gym`. */
export function resolveCacheDir(cacheDir?: string): string {
  return path.resolve(cacheDir ?? process.env.PRORL_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'prorec-gym'));
}

export function rawCacheDir(cacheDir: string, name: string): string {
  return path.join(cacheDir, 'raw', name);
}

export function compiledPath(cacheDir: string, name: string, hash: string): string {
  return path.join(cacheDir, 'compiled', `${name}-${hash}.dataset`);
}

/** Files at most this large are hashed by content; larger ones (raw dumps of GBs) by size and mtime. */
export const CONTENT_HASH_LIMIT = 256 * 1024 * 1024;

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(n === buf.length ? buf : buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * The hashes of a build's inputs (file contents, options, name and kind): `identity`, the dataset's
 * hash (`Dataset.meta.hash`, with BUILDER_IDENTITY: the same wherever the code runs), and `cacheKey`,
 * the compiled cache entry's name (with the builders' code fingerprint as well).
 */
export function inputHashes(parts: { name: string; kind: string; files: readonly string[]; options: Record<string, unknown> }): {
  identity: string;
  cacheKey: string;
} {
  const files = parts.files.map((f) => {
    const st = statSync(f);
    return st.size <= CONTENT_HASH_LIMIT
      ? { name: path.basename(f), size: st.size, sha256: sha256File(f) }
      : { name: path.basename(f), size: st.size, mtimeMs: Math.round(st.mtimeMs) };
  });
  const inputs = { v: BUILD_VERSION, name: parts.name, kind: parts.kind, options: parts.options, files };
  const identity = stableHash({ ...inputs, code: BUILDER_IDENTITY }).slice(0, 16);
  return { identity, cacheKey: stableHash({ identity, code: codeFingerprint() }).slice(0, 16) };
}

/**
 * Writes `data` to `file` through a temporary file in the same folder (a name unique per thread and
 * call), flushed to the disk, and a rename; a failed write names the file and folder (core/io.ts).
 */
export function writeFileAtomic(file: string, data: Buffer | Uint8Array | string): void {
  writeFileAtomicCore(file, data, { fsync: true });
}

const ArrayRef = Type.Object({ offset: Type.Integer({ minimum: 0 }), length: Type.Integer({ minimum: 0 }) });
const SplitRecord = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Object({ train: t, valid: t, test: t });
const Header = Type.Object({
  name: Type.String(),
  meta: Type.Object({
    source: Type.String(),
    trainInteractions: Type.Integer({ minimum: 0 }),
    simulatorInteractions: Type.Integer({ minimum: 0 }),
    simulatorData: Type.String(),
    hash: Type.String(),
    notes: Type.Array(Type.String()),
  }),
  /** Records dropped for unknown items; a strict load refuses an entry built with any. */
  droppedRecords: Type.Integer({ minimum: 0 }),
  items: Type.Object({
    count: Type.Integer({ minimum: 0 }),
    rawIds: Type.Array(Type.String()),
    titles: Type.Array(Type.String()),
    attributeNames: Type.Array(Type.String()),
    hasSemanticIds: Type.Boolean(),
  }),
  caseUsers: SplitRecord(Type.Array(Type.Union([Type.String(), Type.Null()]))),
  arrays: Type.Record(Type.String(), ArrayRef),
});
type Header = Static<typeof Header>;

/** Packs a list of int lists as offsets (n+1) and values. */
function packLists(lists: readonly (readonly number[])[]): { offsets: Int32Array; values: Int32Array } {
  const offsets = new Int32Array(lists.length + 1);
  let total = 0;
  lists.forEach((l, i) => {
    total += l.length;
    offsets[i + 1] = total;
  });
  const values = new Int32Array(total);
  lists.forEach((l, i) => values.set(l, offsets[i]));
  return { offsets, values };
}

/** A plain-array copy of a typed-array range (Array.from on typed arrays is several times slower). */
function slice(values: Int32Array, from: number, to: number): number[] {
  const out: number[] = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = values[i];
  return out;
}

function unpackLists(offsets: Int32Array, values: Int32Array): number[][] {
  const out: number[][] = new Array(offsets.length - 1);
  for (let i = 0; i + 1 < offsets.length; i++) out[i] = slice(values, offsets[i], offsets[i + 1]);
  return out;
}

export function serializeDataset(ds: Dataset, droppedRecords: number): Buffer {
  const arrays: Record<string, Int32Array> = {};
  const attrs = packLists(ds.items.attributes);
  arrays.attrOffsets = attrs.offsets;
  arrays.attrValues = attrs.values;
  if (ds.items.semanticIds) {
    const sem = packLists(ds.items.semanticIds);
    arrays.semOffsets = sem.offsets;
    arrays.semValues = sem.values;
  }
  const sim = packLists(ds.simulatorSequences);
  arrays.simSeqOffsets = sim.offsets;
  arrays.simSeqValues = sim.values;
  for (const split of SPLITS) {
    const seq = packLists(ds.sequences[split]);
    arrays[`${split}.seqOffsets`] = seq.offsets;
    arrays[`${split}.seqValues`] = seq.values;
    const cs = ds.cases[split];
    const hist = new Int32Array(cs.length * HISTORY_LENGTH);
    cs.forEach((c, i) => hist.set(c.history, i * HISTORY_LENGTH));
    arrays[`${split}.histories`] = hist;
    arrays[`${split}.targets`] = Int32Array.from(cs.map((c) => c.target));
    // -1 marks a case without a path (distinct from an empty path).
    arrays[`${split}.pathLengths`] = Int32Array.from(cs.map((c) => (c.path ? c.path.length : -1)));
    arrays[`${split}.pathValues`] = packLists(cs.map((c) => c.path ?? [])).values;
  }
  const refs: Record<string, { offset: number; length: number }> = {};
  let offset = 0;
  for (const [k, a] of Object.entries(arrays)) {
    refs[k] = { offset, length: a.length };
    offset += a.length * 4;
  }
  const header: Header = {
    name: ds.name,
    meta: {
      source: ds.meta.source,
      trainInteractions: ds.meta.trainInteractions,
      simulatorInteractions: ds.meta.simulatorInteractions,
      simulatorData: ds.meta.simulatorData,
      hash: ds.meta.hash,
      notes: [...ds.meta.notes],
    },
    droppedRecords,
    items: {
      count: ds.items.count,
      rawIds: [...ds.items.rawIds],
      titles: [...ds.items.titles],
      attributeNames: [...ds.items.attributeNames],
      hasSemanticIds: ds.items.semanticIds !== undefined,
    },
    caseUsers: {
      train: ds.cases.train.map((c) => c.user ?? null),
      valid: ds.cases.valid.map((c) => c.user ?? null),
      test: ds.cases.test.map((c) => c.user ?? null),
    },
    arrays: refs,
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const body = Buffer.alloc(offset);
  for (const [k, a] of Object.entries(arrays)) {
    const view = new DataView(body.buffer, body.byteOffset + refs[k].offset, a.length * 4);
    for (let i = 0; i < a.length; i++) view.setInt32(i * 4, a[i], true);
  }
  const lengthLine = Buffer.from(`${headerBytes.length} ${contentChecksum(headerBytes, body)}\n`);
  return Buffer.concat([Buffer.from(MAGIC), lengthLine, headerBytes, body]);
}

/** sha256 of an entry's header and body: an entry edited or damaged after it was written is not served. */
function contentChecksum(header: Uint8Array, body: Uint8Array): string {
  return createHash('sha256').update(header).update(body).digest('hex');
}

export class CorruptCacheError extends ProrecError {
  readonly kind = 'failure';
  constructor(file: string, why: string) {
    super(`${file}: not a usable cache entry (${why.replace(/\s*\n\s*/g, '; ')})`);
  }
}

export function deserializeDataset(buf: Buffer, file: string): { dataset: Dataset; droppedRecords: number } {
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) throw new CorruptCacheError(file, 'bad magic');
  const nl = buf.indexOf(10, MAGIC.length);
  const [lengthText, checksum] = buf.subarray(MAGIC.length, nl).toString().split(' ');
  const headerLength = Number(lengthText);
  if (nl < 0 || !Number.isInteger(headerLength) || headerLength < 0) throw new CorruptCacheError(file, 'bad header length');
  const headerStart = nl + 1;
  const bodyStart = headerStart + headerLength;
  if (bodyStart > buf.length || checksum !== contentChecksum(buf.subarray(headerStart, bodyStart), buf.subarray(bodyStart)))
    throw new CorruptCacheError(file, 'content checksum mismatch: the entry was changed after it was written');
  let header: Header;
  try {
    header = validate(Header, JSON.parse(buf.subarray(headerStart, bodyStart).toString()), file);
  } catch (e) {
    throw new CorruptCacheError(file, (e as Error).message);
  }
  const bodyLength = buf.length - bodyStart;
  // One aligned copy of the body lets every table be a typed-array view (the file is little-endian,
  // like every platform Node runs on; a big-endian host takes the slow, portable path).
  const body = new Uint8Array(bodyLength);
  body.set(buf.subarray(bodyStart));
  const littleEndian = os.endianness() === 'LE';
  const get = (k: string): Int32Array => {
    const ref = header.arrays[k];
    if (!ref || ref.offset + ref.length * 4 > bodyLength || ref.offset % 4 !== 0) throw new CorruptCacheError(file, `array ${k} missing or out of bounds`);
    if (littleEndian) return new Int32Array(body.buffer, ref.offset, ref.length);
    const out = new Int32Array(ref.length);
    const view = new DataView(body.buffer, ref.offset, ref.length * 4);
    for (let i = 0; i < ref.length; i++) out[i] = view.getInt32(i * 4, true);
    return out;
  };
  const N = header.items.count;
  const attributes = unpackLists(get('attrOffsets'), get('attrValues'));
  const semanticIds = header.items.hasSemanticIds ? unpackLists(get('semOffsets'), get('semValues')) : undefined;
  if (header.items.rawIds.length !== N || header.items.titles.length !== N || attributes.length !== N)
    throw new CorruptCacheError(file, 'item table sizes disagree');
  const sequences = {} as Record<Split, number[][]>;
  const cases = {} as Record<Split, Case[]>;
  for (const split of SPLITS) {
    sequences[split] = unpackLists(get(`${split}.seqOffsets`), get(`${split}.seqValues`));
    const hist = get(`${split}.histories`);
    const targets = get(`${split}.targets`);
    const pathLengths = get(`${split}.pathLengths`);
    const pathValues = get(`${split}.pathValues`);
    const users = header.caseUsers[split];
    if (hist.length !== targets.length * HISTORY_LENGTH || pathLengths.length !== targets.length || users.length !== targets.length)
      throw new CorruptCacheError(file, `case tables of ${split} disagree`);
    const list: Case[] = new Array(targets.length);
    let p = 0;
    for (let i = 0; i < targets.length; i++) {
      const len = pathLengths[i];
      const c: { history: number[]; target: number; path?: number[]; user?: string } = {
        history: slice(hist, i * HISTORY_LENGTH, (i + 1) * HISTORY_LENGTH),
        target: targets[i],
      };
      if (len >= 0) {
        c.path = slice(pathValues, p, p + len);
        p += len;
      }
      if (users[i] !== null) c.user = users[i]!;
      list[i] = c;
    }
    cases[split] = list;
  }
  const dataset: Dataset = {
    name: header.name,
    items: {
      count: N,
      rawIds: header.items.rawIds,
      titles: header.items.titles,
      attributes,
      attributeNames: header.items.attributeNames,
      ...(semanticIds ? { semanticIds } : {}),
    },
    sequences,
    cases,
    simulatorSequences: unpackLists(get('simSeqOffsets'), get('simSeqValues')),
    popularity: itemCounts(N, sequences.train),
    meta: header.meta,
  };
  return { dataset, droppedRecords: header.droppedRecords };
}

/** Reads a cache entry, or null when there is none; a damaged entry is removed and reported. */
export function readCacheEntry(file: string, log: (s: string) => void): { dataset: Dataset; droppedRecords: number } | null {
  if (!existsSync(file)) return null;
  try {
    return deserializeDataset(readFileSync(file), file);
  } catch (e) {
    if (!(e instanceof CorruptCacheError)) throw e;
    log(`warning: ${e.message}; rebuilding`);
    rmSync(file, { force: true });
    return null;
  }
}
