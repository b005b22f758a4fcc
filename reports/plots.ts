/**
 * Plots for reports: Vega-Lite specs compiled to Vega and rendered to SVG in Node by `vega`'s
 * headless View (`renderer: 'none'`, `toSVG()`), so a report is one file with inline SVG and no
 * script. Vega escapes the text it writes into SVG; `assertSafeSvg` checks the output anyway
 * before it goes into a page.
 */
import * as vega from 'vega';
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

/** Throws when an SVG has anything that could run or load: scripts, event handlers, foreign objects, external references. */
export function assertSafeSvg(svg: string): void {
  if (!svg.startsWith('<svg')) throw new Error('plot: not an SVG');
  const bad = /<script|<foreignObject|\son[a-z]+\s*=|javascript:|(?:href|src)\s*=\s*["'](?!#|data:)/i.exec(svg);
  if (bad) throw new Error(`plot: unsafe SVG content (${bad[0]})`);
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
 * Bars (mean per agent) with error bars (the 95% bootstrap interval) and the mean written above
 * each bar, so a zero-height bar still shows its value. When every value is zero the y scale is
 * [0, 1] (not a degenerate [0, 0] with a "0.000000" tick).
 */
export function barChartSpec(data: readonly BarDatum[]): Record<string, unknown> {
  const allZero = data.every((d) => d.mean === 0 && d.lo === 0 && d.hi === 0);
  const y = { type: 'quantitative', title: null, axis: { format: NUMBER_FORMAT }, ...(allZero ? { scale: { domain: [0, 1] } } : {}) };
  return {
    width: Math.max(150, 46 * data.length),
    height: 150,
    data: { values: data.map((d) => ({ ...d, top: Math.max(d.mean, d.hi ?? d.mean) })) },
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
  return {
    width: 380,
    height: 260,
    data: { values: data.map((d) => ({ ...d })) },
    layer: [
      { mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { x: { field: 'xlo', ...x }, x2: { field: 'xhi' }, y: { field: 'y', ...y }, color } },
      { mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { y: { field: 'ylo', ...y }, y2: { field: 'yhi' }, x: { field: 'x', ...x }, color } },
      { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, color } },
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
