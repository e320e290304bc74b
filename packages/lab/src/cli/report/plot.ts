/**
 * A report plot as SVG: the Plot becomes a layered Vega-Lite chart (labelled axes, one legend from
 * the series labels, log scales where the preset asks) compiled to Vega and rendered headless in
 * Node (`renderer: 'none'` + `toSVG()`: no canvas, no DOM, no network — the data is inline).
 *
 * Up to four layers, drawn in this order so that lines and marks sit on top of the shading:
 * - **area** and **rule**: the `band` of each line series (e.g. the 95 % t-interval of a mean over
 *   seeds), shaded in the series' colour; the band of a 'points' series, as error bars (one rule
 *   per x);
 * - **line**: series of style 'line' (the default), their points joined in x order, with point
 *   marks while the series are short enough for marks to be told apart;
 * - **point**: series of style 'points' (per-seed values), as unjoined hollow marks — seeds are
 *   never joined by a line.
 *
 * Non-finite values (NaN marks a diverged run) and, on a log axis, non-positive values are left
 * out rather than drawn. A plot has at most MAX_SERIES_PER_PLOT = 10 series (the runner refuses
 * more), so the palette's ten colours always tell the series apart.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Plot, Series } from '../../experiments/preset.js';

/** Vega-Lite's default categorical scheme: series i of a plot is drawn in colour i. */
export const PALETTE: readonly string[] = vega.scheme('tableau10') as string[];

/** Beyond this many points in one series, line series are drawn without point marks. */
const MARKED_POINTS_UP_TO = 40;

/** How opaque a band's shading is (light enough that the lines and marks on top stay legible). */
const BAND_OPACITY = 0.2;

interface Row {
  series: string;
  x: number;
  y: number;
}

interface BandRow {
  series: string;
  x: number;
  lower: number;
  upper: number;
}

/** The rows a series contributes to its layers, with what an axis cannot show left out. */
function rowsOf(plot: Plot, s: Series): { points: Row[]; band: BandRow[] } {
  const shown = (v: number, log: boolean | undefined) => Number.isFinite(v) && (!log || v > 0);
  const points: Row[] = [];
  const band: BandRow[] = [];
  for (let i = 0; i < s.x.length; i++) {
    const x = s.x[i]!;
    if (!shown(x, plot.xLog)) continue;
    if (shown(s.y[i]!, plot.yLog)) points.push({ series: s.label, x, y: s.y[i]! });
    const lower = s.band?.lower[i];
    const upper = s.band?.upper[i];
    if (lower !== undefined && upper !== undefined && shown(lower, plot.yLog) && shown(upper, plot.yLog)) {
      band.push({ series: s.label, x, lower, upper });
    }
  }
  return { points, band };
}

/** The Vega-Lite specification of a plot (exported for the tests). */
export function plotSpec(plot: Plot): TopLevelSpec {
  const lines: Row[] = [];
  const marks: Row[] = [];
  const areas: BandRow[] = [];
  const bars: BandRow[] = [];
  for (const s of plot.series) {
    const { points, band } = rowsOf(plot, s);
    (s.style === 'points' ? marks : lines).push(...points);
    (s.style === 'points' ? bars : areas).push(...band);
  }
  const labels = [...new Set(plot.series.map((s) => s.label))];
  // The same domain in every layer, so a series keeps its colour whichever layers it appears in.
  const color = { field: 'series', type: 'nominal', title: 'series', sort: labels, scale: { domain: labels } } as const;
  const xScale = plot.xLog ? { type: 'log' } : { zero: false };
  const x = { field: 'x', type: 'quantitative', title: plot.xLabel, scale: xScale } as const;
  const yScale = plot.yLog ? { type: 'log' } : { zero: false };
  const y = { field: 'y', type: 'quantitative', title: plot.yLabel, scale: yScale } as const;
  const interval = {
    x,
    y: { field: 'lower', type: 'quantitative', title: plot.yLabel, scale: yScale },
    y2: { field: 'upper' },
    color,
  } as const;
  const lineSeries = plot.series.filter((s) => s.style !== 'points');
  const marked = Math.max(0, ...lineSeries.map((s) => s.x.length)) <= MARKED_POINTS_UP_TO;
  const layers = [
    // A line's band is shaded; a point's interval is an error bar (points have no neighbours to join).
    { data: { values: areas }, mark: { type: 'area', fillOpacity: BAND_OPACITY }, encoding: interval },
    { data: { values: bars }, mark: { type: 'rule' }, encoding: interval },
    {
      data: { values: lines },
      mark: { type: 'line', point: marked },
      encoding: { x, y, color, order: { field: 'x', type: 'quantitative' } },
    },
    {
      data: { values: marks },
      mark: { type: 'point', filled: false, size: 40 },
      encoding: { x, y, color },
    },
  ].filter((layer) => layer.data.values.length > 0);
  return {
    title: plot.title,
    width: 520,
    height: 300,
    background: 'white',
    // A plot with nothing to draw (every value NaN) still gets its axes and title.
    layer: layers.length > 0 ? layers : [{ data: { values: [] }, mark: { type: 'point' }, encoding: { x, y } }],
    config: { font: 'sans-serif', legend: { labelLimit: 480 } },
  } as TopLevelSpec;
}

/** The plot rendered to an SVG string (headless: no canvas, no DOM). */
export async function plotSvg(plot: Plot): Promise<string> {
  const view = new vega.View(vega.parse(compile(plotSpec(plot)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
