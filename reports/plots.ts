/**
 * Plots for reports: Vega-Lite specs compiled to Vega and rendered to SVG in Node by `vega`'s
 * headless View (`renderer: 'none'`, `toSVG()`), so a report is one file with inline SVG and no
 * script. Vega escapes the text it writes into SVG; `assertSafeSvg` checks the output anyway
 * before it goes into a page.
 */
import * as vega from 'vega';
import { ProrecError } from '../core/errors.ts';
import * as vl from 'vega-lite';

const CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 13, anchor: 'start', fontWeight: 600 },
};

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = vl.compile({ config: CONFIG, ...spec } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    assertSafeSvg(svg);
    return svg;
  } finally {
    view.finalize();
  }
}

/** An unsafe plot: a bug of the renderer (Vega escapes the text it writes), never shown. */
export class UnsafeSvgError extends ProrecError {
  readonly kind = 'failure';
}

/** Elements that can run code or embed other documents. */
const UNSAFE_ELEMENTS = new Set(['script', 'foreignobject', 'iframe', 'object', 'embed', 'handler', 'listener', 'set', 'animate']);
/** One start or end tag: name, then attributes with double-, single- or unquoted values. */
const TAG = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[^\s=/>"']+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*(\/?)>/y;
const ATTRIBUTE = /([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g;

/**
 * Throws when an SVG's markup has anything that could run or load: scripts and other active
 * elements, event-handler attributes, external references (href/src other than `#…` or `data:`),
 * `javascript:` URLs, or a `<` that does not start a well-formed tag (comments, CDATA, processing
 * instructions). It reads the markup, tag by tag and attribute by attribute: text and attribute
 * values are escaped data, so a label such as `tuned onpolicy=yes` or `<script>` shown as text is
 * fine.
 */
export function assertSafeSvg(svg: string): void {
  if (!svg.startsWith('<svg')) throw new UnsafeSvgError('plot: not an SVG');
  for (let at = svg.indexOf('<'); at >= 0; at = svg.indexOf('<', at + 1)) {
    TAG.lastIndex = at;
    const tag = TAG.exec(svg);
    if (!tag) throw new UnsafeSvgError(`plot: unsafe SVG content (markup that is not a plain tag: ${JSON.stringify(svg.slice(at, at + 40))})`);
    const name = tag[2].toLowerCase();
    if (UNSAFE_ELEMENTS.has(name.replace(/^.*:/, ''))) throw new UnsafeSvgError(`plot: unsafe SVG content (<${tag[2]}>)`);
    for (const a of tag[3].matchAll(ATTRIBUTE)) {
      const attr = a[1].toLowerCase();
      const value = decodeEntities((a[2] ?? '').replace(/^["']|["']$/g, '')).trim();
      if (attr.startsWith('on')) throw new UnsafeSvgError(`plot: unsafe SVG content (event handler ${a[1]} on <${tag[2]}>)`);
      if (/^\s*(?:javascript|vbscript):/i.test(value)) throw new UnsafeSvgError(`plot: unsafe SVG content (${a[1]}=${JSON.stringify(value)})`);
      if (/(?:^|:)(?:href|src)$/.test(attr) && !(value.startsWith('#') || value.startsWith('data:')))
        throw new UnsafeSvgError(`plot: unsafe SVG content (external reference ${a[1]}=${JSON.stringify(value)})`);
      if (attr === 'style' && /url\(\s*["']?(?!#|data:)/i.test(value)) throw new UnsafeSvgError(`plot: unsafe SVG content (external url() in style)`);
    }
    at += tag[0].length - 1;
  }
}

/** Character references decoded, so that an escaped `javascript:` in a URL attribute is seen. */
function decodeEntities(s: string): string {
  return s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(\w+));/gi, (m, dec: string | undefined, hex: string | undefined, named: string | undefined) => {
    const code = dec ? Number(dec) : hex ? parseInt(hex, 16) : -1;
    if (dec || hex) return code <= 0x10ffff ? String.fromCodePoint(code) : m;
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", colon: ':', tab: '\t', newline: '\n' } as Record<string, string>)[named!.toLowerCase()] ?? m;
  });
}

export interface BarDatum {
  agent: string;
  mean: number;
  /** The interval's ends; null (no error bar) with one seed. */
  lo: number | null;
  hi: number | null;
}

/** Axis labels: up to 4 significant digits, no trailing zeros ("0", "0.25", "1200", not "0.000000"). */
const NUMBER_FORMAT = '.4~g';

/**
 * Bars (mean per agent) with error bars (the 95% t-interval over seeds) and the mean written above
 * each bar, so a zero-height bar still shows its value. When every value is zero the y scale is
 * [0, 1] (not a degenerate [0, 0] with a "0.000000" tick).
 */
export function barChartSpec(data: readonly BarDatum[]): Record<string, unknown> {
  const allZero = data.every((d) => d.mean === 0 && d.lo === 0 && d.hi === 0);
  const y = { type: 'quantitative', title: null, axis: { format: NUMBER_FORMAT }, ...(allZero ? { scale: { domain: [0, 1] } } : {}) };
  return {
    width: Math.max(150, 54 * data.length), // room for each value label (e.g. "−0.0164") beside its neighbours'
    height: 150,
    // The value sits above the zero line, the bar and its whisker (a negative bar's label would overlap it).
    data: { values: data.map((d) => ({ ...d, top: Math.max(0, d.mean, d.hi ?? d.mean) })) },
    encoding: { x: { field: 'agent', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30, labelLimit: 120 } } },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8', width: { band: 0.7 } }, encoding: { y: { field: 'mean', ...y } } },
      { mark: { type: 'rule', color: '#222', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { mark: { type: 'tick', color: '#222', thickness: 1.5, width: 10 }, encoding: { y: { field: 'lo', type: 'quantitative' } } },
      { mark: { type: 'tick', color: '#222', thickness: 1.5, width: 10 }, encoding: { y: { field: 'hi', type: 'quantitative' } } },
      {
        mark: { type: 'text', dy: -7, fontSize: 10, color: '#333' },
        encoding: { y: { field: 'top', type: 'quantitative' }, text: { field: 'mean', type: 'quantitative', format: '.3~g' } },
      },
    ],
  };
}

export interface CurveDatum {
  agent: string;
  step: number;
  mean: number;
  lo: number;
  hi: number;
}

/** Learning curves: the mean over seeds per agent (line with points), with a band from the lowest to the highest seed. */
export function curveChartSpec(data: readonly CurveDatum[], opts: { yTitle?: string | null } = {}): Record<string, unknown> {
  // One legend for both layers, drawn as line swatches in full colour (not the bands' pale circles).
  const color = {
    field: 'agent',
    type: 'nominal',
    title: 'agent',
    scale: { scheme: 'tableau10' },
    legend: { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 200, symbolOpacity: 1 },
  };
  return {
    width: 320,
    height: 170,
    data: { values: data.map((d) => ({ ...d })) },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'step', axis: { format: NUMBER_FORMAT, tickMinStep: 1 } } },
    layer: [
      {
        mark: { type: 'area', opacity: 0.18 },
        encoding: { y: { field: 'lo', type: 'quantitative', title: opts.yTitle ?? null, axis: { format: NUMBER_FORMAT } }, y2: { field: 'hi' }, color },
      },
      { mark: { type: 'line', strokeWidth: 2, point: { size: 18 } }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
    ],
  };
}

export interface TradeoffDatum {
  agent: string;
  /** How the row is drawn: the folder's own agent, a reference row, an oracle (reads the reward simulator). */
  kind: 'agent' | 'reference' | 'oracle';
  /** CTR: mean and 95% interval over seeds (null ends: one seed, no interval drawn). */
  x: number;
  xlo: number | null;
  xhi: number | null;
  /** IoI: mean and 95% interval over seeds. */
  y: number;
  ylo: number | null;
  yhi: number | null;
}

/**
 * The feasibility / effectiveness trade-off: one point per agent at (mean CTR, mean IoI) with the
 * 95% intervals of both as error bars, and the agent's name beside its point.
 */
export function tradeoffChartSpec(data: readonly TradeoffDatum[], titles: { x: string; y: string }): Record<string, unknown> {
  const x = { type: 'quantitative', title: titles.x, scale: { zero: false, padding: 16 }, axis: { format: NUMBER_FORMAT } };
  const y = { type: 'quantitative', title: titles.y, scale: { zero: false, padding: 16 }, axis: { format: NUMBER_FORMAT } };
  const color = { field: 'agent', type: 'nominal', legend: null, scale: { scheme: 'tableau10' } };
  const kinds = ['agent', 'reference', 'oracle'];
  const shape = {
    field: 'kind',
    type: 'nominal',
    title: null,
    scale: { domain: kinds, range: ['circle', 'square', 'diamond'] },
    legend: {
      orient: 'bottom',
      direction: 'horizontal',
      labelExpr: "datum.label === 'agent' ? 'this folder' : datum.label === 'reference' ? 'reference row' : 'oracle'",
    },
  };
  return {
    width: 380,
    height: 260,
    data: { values: data },
    layer: [
      { mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { x: { field: 'xlo', ...x }, x2: { field: 'xhi' }, y: { field: 'y', ...y }, color } },
      { mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { y: { field: 'ylo', ...y }, y2: { field: 'yhi' }, x: { field: 'x', ...x }, color } },
      { mark: { type: 'point', filled: true, size: 70 }, encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, color, shape } },
      {
        mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 10 },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, text: { field: 'agent' }, color },
      },
    ],
  };
}

export interface AtKDatum {
  agent: string;
  k: number;
  /** 'max' or 'mean' over the first K candidates. */
  over: string;
  mean: number;
}

/**
 * A metric@K against K: one line per agent and aggregate (solid: max over candidates; dashed:
 * mean). Both legends draw line swatches: the agents' in their colour, the aggregates' with their
 * dash pattern.
 */
export function atKChartSpec(data: readonly AtKDatum[]): Record<string, unknown> {
  return {
    width: 220,
    height: 150,
    data: { values: data.map((d) => ({ ...d })) },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'k', type: 'ordinal', title: 'K', axis: { labelAngle: 0 } },
      y: { field: 'mean', type: 'quantitative', title: null, axis: { format: NUMBER_FORMAT } },
      color: {
        field: 'agent',
        type: 'nominal',
        title: 'agent',
        scale: { scheme: 'tableau10' },
        legend: { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 200 },
      },
      strokeDash: {
        field: 'over',
        type: 'nominal',
        title: 'over candidates',
        sort: ['max', 'mean'],
        scale: {
          domain: ['max', 'mean'],
          range: [
            [1, 0],
            [5, 3],
          ],
        },
        // The symbols' stroke colour must be set through `encode`: symbolStrokeColor leaves these
        // line symbols with no stroke at all (measured: fill="black", no stroke attribute).
        legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300, encode: { symbols: { update: { stroke: { value: '#333' } } } } },
      },
      detail: { field: 'over' },
    },
  };
}
