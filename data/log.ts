/**
 * Interaction logs as the raw sources and RecBole `.inter` files give them: (user, item, time)
 * triples in file order, with ids interned so that millions of rows fit in typed arrays.
 */

/** Item metadata a reader found (title, attribute names); keyed by the source's item id. */
export interface ItemMeta {
  title: string;
  attributes: string[];
}

export class InteractionLog {
  private readonly userIndex = new Map<string, number>();
  readonly users: string[] = [];
  private readonly itemIndex = new Map<string, number>();
  readonly items: string[] = [];
  private userOf = new Int32Array(1024);
  private itemOf = new Int32Array(1024);
  private timeOf = new Float64Array(1024);
  length = 0;
  /** Item metadata by source item id (items the log never mentions may be here too). */
  readonly meta = new Map<string, ItemMeta>();

  add(user: string, item: string, time: number): void {
    let u = this.userIndex.get(user);
    if (u === undefined) {
      u = this.users.length;
      this.userIndex.set(user, u);
      this.users.push(user);
    }
    let i = this.itemIndex.get(item);
    if (i === undefined) {
      i = this.items.length;
      this.itemIndex.set(item, i);
      this.items.push(item);
    }
    if (this.length === this.userOf.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.userOf = grow(this.userOf);
      this.itemOf = grow(this.itemOf);
      this.timeOf = grow(this.timeOf);
    }
    this.userOf[this.length] = u;
    this.itemOf[this.length] = i;
    this.timeOf[this.length] = time;
    this.length++;
  }

  /** Adds (or merges, for a source that lists an item twice) metadata for an item. */
  addMeta(item: string, title: string, attributes: readonly string[]): void {
    const m = this.meta.get(item);
    if (!m) {
      this.meta.set(item, { title, attributes: [...new Set(attributes)] });
      return;
    }
    if (!m.title && title) m.title = title;
    for (const a of attributes) if (!m.attributes.includes(a)) m.attributes.push(a);
  }

  user(row: number): number {
    return this.userOf[row];
  }
  item(row: number): number {
    return this.itemOf[row];
  }
  time(row: number): number {
    return this.timeOf[row];
  }
}
