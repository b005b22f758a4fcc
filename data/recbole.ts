/**
 * RecBole atomic files: `<name>.inter` (interactions) and `<name>.item` (item features), one header
 * line of `field:type` columns, then one row per line. RecBole's default separator is a tab, but the
 * ProRL release's `ml-1m-sas.item` uses commas (with CSV quoting), so the separator is read from
 * the header. `token_seq` values are space-separated tokens, or a Python list string
 * (`['Action', 'Indie']`) as in `steam-merged.item`.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DatasetName } from './registry.ts';
import { DATASETS } from './registry.ts';
import { DataFormatError, preview } from './errors.ts';
import { InteractionLog } from './log.ts';
import { parsePyLiteral } from './pyliteral.ts';
import { forEachLine, splitDelimited } from './text.ts';

export interface RecBoleFiles {
  readonly dir: string;
  readonly inter: string;
  readonly item?: string;
}

export function findRecBoleFiles(root: string, name: DatasetName): RecBoleFiles | null {
  const stem = DATASETS[name].recboleName;
  for (const dir of [path.join(root, stem), root]) {
    const inter = path.join(dir, `${stem}.inter`);
    if (!existsSync(inter) || !statSync(inter).isFile()) continue;
    const item = path.join(dir, `${stem}.item`);
    return { dir, inter, ...(existsSync(item) ? { item } : {}) };
  }
  return null;
}

export function recboleInputFiles(files: RecBoleFiles): string[] {
  return [files.inter, ...(files.item ? [files.item] : [])];
}

interface Column {
  readonly name: string;
  readonly type: string;
}

const TYPES = new Set(['token', 'token_seq', 'float', 'float_seq']);

function parseHeader(file: string, line: string): { delimiter: string; columns: Column[] } {
  const delimiter = line.includes('\t') ? '\t' : ',';
  const columns = line.split(delimiter).map((h) => {
    const m = /^\s*([^:\s]+):([a-z_]+)\s*$/.exec(h);
    if (!m || !TYPES.has(m[2]))
      throw new DataFormatError(file, 'line 1 (header)', "columns 'name:type' with type token, token_seq, float or float_seq", preview(h));
    return { name: m[1], type: m[2] };
  });
  return { delimiter, columns };
}

function findColumn(columns: readonly Column[], names: readonly string[]): number {
  for (const n of names) {
    const i = columns.findIndex((c) => c.name === n);
    if (i >= 0) return i;
  }
  return -1;
}

/** A token_seq cell: a Python list string, or space-separated tokens. */
export function parseTokenSeq(cell: string): string[] | null {
  const t = cell.trim();
  if (t === '') return [];
  if (t.startsWith('[')) {
    try {
      const v = parsePyLiteral(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
    } catch {
      /* falls through to the error below */
    }
    return null;
  }
  return t.split(/\s+/);
}

async function readTable(file: string, onRow: (cells: string[], n: number) => void, onHeader: (cols: Column[]) => void): Promise<void> {
  let header: { delimiter: string; columns: Column[] } | null = null;
  await forEachLine(file, (line, n) => {
    if (!header) {
      header = parseHeader(file, line);
      onHeader(header.columns);
      return;
    }
    const cells = splitDelimited(line, header.delimiter);
    if (!cells) throw new DataFormatError(file, `line ${n}`, 'a closing double quote on the same line', preview(line));
    if (cells.length !== header.columns.length)
      throw new DataFormatError(
        file,
        `line ${n}`,
        `${header.columns.length} ${header.delimiter === '\t' ? 'tab' : 'comma'}-separated fields (${header.columns.map((c) => c.name).join(', ')})`,
        `${cells.length} fields: ${preview(line)}`,
      );
    onRow(cells, n);
  });
  if (!header) throw new DataFormatError(file, '', 'a header line', 'an empty file');
}

export async function readRecBole(files: RecBoleFiles): Promise<{ log: InteractionLog; notes: string[] }> {
  const log = new InteractionLog();
  let userCol = -1;
  let itemCol = -1;
  let timeCol = -1;
  let itemField = '';
  await readTable(
    files.inter,
    (cells, n) => {
      const time = timeCol >= 0 ? Number(cells[timeCol]) : Number.NaN;
      if (timeCol >= 0 && (cells[timeCol] === '' || !Number.isFinite(time)))
        throw new DataFormatError(files.inter, `line ${n}`, 'a numeric timestamp', preview(cells[timeCol]));
      if (cells[userCol] === '' || cells[itemCol] === '')
        throw new DataFormatError(files.inter, `line ${n}`, 'non-empty user and item ids', preview(cells.join(' | ')));
      log.add(cells[userCol], cells[itemCol], time);
    },
    (cols) => {
      userCol = findColumn(cols, ['user_id']);
      itemCol = findColumn(cols, ['item_id', 'product_id']);
      timeCol = findColumn(cols, ['timestamp']);
      if (userCol < 0 || itemCol < 0)
        throw new DataFormatError(files.inter, 'line 1 (header)', 'a user_id column and an item_id (or product_id) column', cols.map((c) => c.name).join(', '));
      itemField = cols[itemCol].name;
    },
  );
  const notes = [`RecBole atomic files: ${path.basename(files.inter)}${timeCol < 0 ? ' (no timestamp column: file order is the time order)' : ''}`];
  if (files.item) {
    let idCol = -1;
    let titleCol = -1;
    let attrCol = -1;
    let duplicates = 0;
    const seen = new Set<string>();
    await readTable(
      files.item,
      (cells, n) => {
        const id = cells[idCol];
        if (id === '') throw new DataFormatError(files.item!, `line ${n}`, 'a non-empty item id', preview(cells.join(' | ')));
        const attrs = attrCol >= 0 ? parseTokenSeq(cells[attrCol]) : [];
        if (!attrs)
          throw new DataFormatError(files.item!, `line ${n}`, 'a token_seq (space-separated tokens or a Python list of strings)', preview(cells[attrCol]));
        if (seen.has(id)) duplicates++;
        seen.add(id);
        log.addMeta(id, titleCol >= 0 ? cells[titleCol] : '', attrs);
      },
      (cols) => {
        idCol = findColumn(cols, [itemField, 'item_id', 'product_id']);
        titleCol = findColumn(cols, ['title', 'movie_title', 'app_name', 'name']);
        attrCol = findColumn(cols, ['genres', 'genre', 'categories', 'category', 'tags', 'class']);
        if (idCol < 0) throw new DataFormatError(files.item!, 'line 1 (header)', `an item id column (${itemField})`, cols.map((c) => c.name).join(', '));
      },
    );
    notes.push(`item features from ${path.basename(files.item)}${duplicates ? ` (${duplicates} duplicate item rows merged)` : ''}`);
  } else notes.push('no .item file: items have no attributes, so no coherent runs and no cases');
  return { log, notes };
}
