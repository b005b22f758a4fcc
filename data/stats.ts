/** Summary statistics of a dataset, and a plain-text table of them. */
import type { Dataset, Split } from './dataset.ts';
import { SPLITS } from './dataset.ts';

export interface SplitStats {
  /** Distinct user ids among the cases (null when the source has no user ids for this split). */
  readonly users: number | null;
  readonly sequences: number;
  readonly interactions: number;
  readonly cases: number;
  /** Path length (intermediate items, target excluded) -> number of cases; cases without a path are not counted. */
  readonly pathLengths: Readonly<Record<string, number>>;
  readonly meanPathLength: number | null;
  /** Cases whose history repeats an item. */
  readonly historiesWithRepeats: number;
}

export interface DatasetStats {
  readonly name: string;
  readonly source: string;
  readonly hash: string;
  readonly items: number;
  readonly attributes: number;
  /** Share of items with at least one attribute. */
  readonly itemAttributeCoverage: number;
  /** Share of the distinct items used by cases (history, path, target) with at least one attribute. */
  readonly caseItemAttributeCoverage: number;
  readonly itemsWithSemanticIds: number | null;
  readonly trainInteractions: number;
  /** Interactions the user simulators learn from, and which (DatasetMeta.simulatorData). */
  readonly simulatorInteractions: number;
  readonly simulatorSequences: number;
  readonly simulatorData: string;
  readonly splits: Readonly<Record<Split, SplitStats>>;
}

export function datasetStats(ds: Dataset): DatasetStats {
  const splits = {} as Record<Split, SplitStats>;
  const usedItems = new Set<number>();
  for (const split of SPLITS) {
    const cases = ds.cases[split];
    const users = new Set<string>();
    let withUser = 0;
    const pathLengths: Record<string, number> = {};
    let pathTotal = 0;
    let pathCount = 0;
    let repeats = 0;
    for (const c of cases) {
      if (c.user !== undefined) {
        users.add(c.user);
        withUser++;
      }
      if (c.path) {
        pathLengths[c.path.length] = (pathLengths[c.path.length] ?? 0) + 1;
        pathTotal += c.path.length;
        pathCount++;
        for (const i of c.path) usedItems.add(i);
      }
      for (const i of c.history) usedItems.add(i);
      usedItems.add(c.target);
      if (new Set(c.history).size < c.history.length) repeats++;
    }
    splits[split] = {
      users: withUser > 0 ? users.size : null,
      sequences: ds.sequences[split].length,
      interactions: ds.sequences[split].reduce((a, s) => a + s.length, 0),
      cases: cases.length,
      pathLengths,
      meanPathLength: pathCount > 0 ? pathTotal / pathCount : null,
      historiesWithRepeats: repeats,
    };
  }
  const withAttr = ds.items.attributes.filter((a) => a.length > 0).length;
  let usedWithAttr = 0;
  for (const i of usedItems) if (ds.items.attributes[i].length > 0) usedWithAttr++;
  return {
    name: ds.name,
    source: ds.meta.source,
    hash: ds.meta.hash,
    items: ds.items.count,
    attributes: ds.items.attributeNames.length,
    itemAttributeCoverage: ds.items.count > 0 ? withAttr / ds.items.count : 0,
    caseItemAttributeCoverage: usedItems.size > 0 ? usedWithAttr / usedItems.size : 0,
    itemsWithSemanticIds: ds.items.semanticIds ? ds.items.semanticIds.filter((s) => s.length > 0).length : null,
    trainInteractions: ds.meta.trainInteractions,
    simulatorInteractions: ds.meta.simulatorInteractions,
    simulatorSequences: ds.simulatorSequences.length,
    simulatorData: ds.meta.simulatorData,
    splits,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

/** A plain-text report: a summary, a per-split table and the path-length distribution. */
export function formatStats(s: DatasetStats): string {
  const lines: string[] = [];
  lines.push(`${s.name}  (source ${s.source}, hash ${s.hash})`);
  lines.push(
    `items ${s.items.toLocaleString('en-US')}, attributes ${s.attributes}, items with attributes ${pct(s.itemAttributeCoverage)}, case items with attributes ${pct(s.caseItemAttributeCoverage)}` +
      (s.itemsWithSemanticIds !== null ? `, items with semantic ids ${s.itemsWithSemanticIds.toLocaleString('en-US')}` : ''),
  );
  lines.push(`agent training interactions (train sequences): ${s.trainInteractions.toLocaleString('en-US')}`);
  lines.push(
    `simulator interactions: ${s.simulatorInteractions.toLocaleString('en-US')} in ${s.simulatorSequences.toLocaleString('en-US')} sequences (${s.simulatorData})`,
  );
  lines.push('');
  const fmt = (n: number | null) => (n === null ? 'n/a' : n.toLocaleString('en-US'));
  lines.push(
    table([
      ['split', 'users', 'sequences', 'interactions', 'cases', 'mean path', 'repeat hist.'],
      ...SPLITS.map((sp) => {
        const x = s.splits[sp];
        return [
          sp,
          fmt(x.users),
          fmt(x.sequences),
          fmt(x.interactions),
          fmt(x.cases),
          x.meanPathLength === null ? 'n/a' : x.meanPathLength.toFixed(2),
          fmt(x.historiesWithRepeats),
        ];
      }),
    ]),
  );
  lines.push('');
  const lengths = [...new Set(SPLITS.flatMap((sp) => Object.keys(s.splits[sp].pathLengths).map(Number)))].sort((a, b) => a - b);
  if (lengths.length > 0) {
    lines.push('path length (items between history and target) -> cases');
    lines.push(table([['split', ...lengths.map(String)], ...SPLITS.map((sp) => [sp, ...lengths.map((l) => fmt(s.splits[sp].pathLengths[l] ?? 0))])]));
  }
  return lines.join('\n');
}
