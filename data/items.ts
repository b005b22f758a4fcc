/**
 * Helpers shared by every reader for building the canonical item table and checking that records
 * only refer to known items.
 */
import type { Case, ItemTable } from './dataset.ts';
import { HISTORY_LENGTH } from './dataset.ts';
import { ConfigError } from '../core/errors.ts';

/** A growing item table keyed by the source's item id. */
export class ItemTableBuilder {
  private readonly index = new Map<string, number>();
  readonly rawIds: string[] = [];
  readonly titles: string[] = [];
  readonly attributes: number[][] = [];
  private readonly attributeIndex = new Map<string, number>();
  readonly attributeNames: string[] = [];

  /** The dense id of `rawId`, adding the item when new. */
  add(rawId: string, title = '', attributeNames: readonly string[] = []): number {
    let id = this.index.get(rawId);
    if (id === undefined) {
      id = this.rawIds.length;
      this.index.set(rawId, id);
      this.rawIds.push(rawId);
      this.titles.push(title);
      this.attributes.push([]);
    } else if (title && !this.titles[id]) this.titles[id] = title;
    if (attributeNames.length > 0) {
      const ids = new Set(this.attributes[id]);
      for (const name of attributeNames) ids.add(this.attribute(name));
      this.attributes[id] = [...ids].sort((a, b) => a - b);
    }
    return id;
  }

  /** The id of an attribute name, adding it when new. */
  attribute(name: string): number {
    let a = this.attributeIndex.get(name);
    if (a === undefined) {
      a = this.attributeNames.length;
      this.attributeIndex.set(name, a);
      this.attributeNames.push(name);
    }
    return a;
  }

  get(rawId: string): number | undefined {
    return this.index.get(rawId);
  }

  get count(): number {
    return this.rawIds.length;
  }

  build(semanticIds?: readonly (readonly number[])[]): ItemTable {
    return {
      count: this.rawIds.length,
      rawIds: this.rawIds,
      titles: this.titles,
      attributes: this.attributes,
      attributeNames: this.attributeNames,
      ...(semanticIds ? { semanticIds } : {}),
    };
  }
}

/** Sorted, de-duplicated copy. */
export function sortedUnique(xs: Iterable<number>): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** Counts records dropped because they named unknown items, by kind, for the report. */
export class MissingItemReport {
  private readonly counts = new Map<string, { records: number; ids: Set<string> }>();

  note(kind: string, missingIds: readonly string[]): void {
    let c = this.counts.get(kind);
    if (!c) this.counts.set(kind, (c = { records: 0, ids: new Set() }));
    c.records++;
    for (const id of missingIds) if (c.ids.size < 1_000_000) c.ids.add(id);
  }

  get total(): number {
    let t = 0;
    for (const c of this.counts.values()) t += c.records;
    return t;
  }

  /** One line per kind, e.g. "test cases: 3 records dropped, 2 distinct unknown item ids (e.g. 17, 99)". */
  lines(): string[] {
    return [...this.counts].map(([kind, c]) => {
      const sample = [...c.ids].slice(0, 5).join(', ');
      return `${kind}: ${c.records} record(s) dropped, ${c.ids.size} distinct unknown item id(s) (e.g. ${sample})`;
    });
  }
}

/** Throws unless every case has a full history and in-range ids (a guard on every reader's output). */
export function checkCases(cases: readonly Case[], numItems: number, what: string): void {
  cases.forEach((c, i) => {
    if (c.history.length !== HISTORY_LENGTH) throw new ConfigError(`${what} case ${i}: history has ${c.history.length} items, expected ${HISTORY_LENGTH}`);
    for (const x of [...c.history, c.target, ...(c.path ?? [])])
      if (!(Number.isInteger(x) && x >= 0 && x < numItems)) throw new ConfigError(`${what} case ${i}: item ${x} out of range [0, ${numItems})`);
  });
}
