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

/** Bars (mean per agent) with error bars (the 95% bootstrap interval). */
export function barChartSpec(data: readonly BarDatum[]): Record<string, unknown> {
  return {
    width: Math.max(150, 46 * data.length),
    height: 150,
    data: { values: data.map((d) => ({ ...d })) },
    encoding: { x: { field: 'agent', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30, labelLimit: 120 } } },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8', width: { band: 0.7 } }, encoding: { y: { field: 'mean', type: 'quantitative', title: null } } },
      { mark: { type: 'rule', color: '#222', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { mark: { type: 'tick', color: '#222', thickness: 1.5, width: 10 }, encoding: { y: { field: 'lo', type: 'quantitative' } } },
      { mark: { type: 'tick', color: '#222', thickness: 1.5, width: 10 }, encoding: { y: { field: 'hi', type: 'quantitative' } } },
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

/** Learning curves: the mean over seeds per agent, with a band from the lowest to the highest seed. */
export function curveChartSpec(data: readonly CurveDatum[]): Record<string, unknown> {
  const color = { field: 'agent', type: 'nominal', title: 'agent', scale: { scheme: 'tableau10' } };
  return {
    width: 320,
    height: 170,
    data: { values: data.map((d) => ({ ...d })) },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'step' } },
    layer: [
      { mark: { type: 'area', opacity: 0.18 }, encoding: { y: { field: 'lo', type: 'quantitative', title: null }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', strokeWidth: 2 }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
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

/** A metric@K against K: one line per agent and aggregate (solid: max over candidates; dashed: mean). */
export function atKChartSpec(data: readonly AtKDatum[]): Record<string, unknown> {
  return {
    width: 220,
    height: 150,
    data: { values: data.map((d) => ({ ...d })) },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'k', type: 'ordinal', title: 'K', axis: { labelAngle: 0 } },
      y: { field: 'mean', type: 'quantitative', title: null },
      color: { field: 'agent', type: 'nominal', title: 'agent', scale: { scheme: 'tableau10' } },
      strokeDash: { field: 'over', type: 'nominal', title: 'over candidates', sort: ['max', 'mean'], legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolStrokeColor: '#333' } },
      detail: { field: 'over' },
    },
  };
}
