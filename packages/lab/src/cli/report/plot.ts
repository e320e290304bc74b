/**
 * A report plot as SVG: the Plot becomes a Vega-Lite line chart (labelled axes, a legend from
 * the series labels, log scales where the preset asks) compiled to Vega and rendered headless
 * in Node (`renderer: 'none'` + `toSVG()`: no canvas, no DOM, no network — the data is inline).
 * Non-finite values (NaN marks a diverged run) and, on a log axis, non-positive values are left
 * out of the line rather than drawn.
 *
 * A plot with more series than the palette has colours would draw two series alike, so then
 * every series gets its own (colour, style) pair: series i takes colour i mod 10 and style
 * ⌊i / 10⌋ — a point shape where the line shows its points (the legend then shows the shapes),
 * a dash pattern otherwise (the legend then shows line segments). Up to 10 × 8 = 80 series are
 * told apart this way; lines are dashed in both cases.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Plot } from '../../experiments/preset.js';

/** Vega-Lite's default categorical scheme, the colours a nominal series is given. */
export const PALETTE: readonly string[] = vega.scheme('tableau10') as string[];
/** Dash patterns (on, off in px), solid first; used once the colours run out. */
export const DASHES: readonly (readonly number[])[] = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [12, 4], [2, 4], [8, 2, 2, 2, 2, 2], [4, 6]];
/** Point shapes, circle first (Vega-Lite's default point), for plots that show their points. */
export const SHAPES: readonly string[] = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down', 'triangle-right', 'triangle-left'];

/** How series i is drawn when the series outnumber the palette (see the file comment). */
export function seriesStyle(i: number): { color: string; dash: number[]; shape: string } {
  const k = Math.floor(i / PALETTE.length);
  return { color: PALETTE[i % PALETTE.length]!, dash: [...DASHES[k % DASHES.length]!], shape: SHAPES[k % SHAPES.length]! };
}

export function plotSpec(plot: Plot): TopLevelSpec {
  const values: { series: string; x: number; y: number }[] = [];
  for (const s of plot.series) {
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i]!;
      const y = s.y[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if ((plot.xLog && x <= 0) || (plot.yLog && y <= 0)) continue;
      values.push({ series: s.label, x, y });
    }
  }
  const manyPoints = Math.max(0, ...plot.series.map((s) => s.x.length)) > 40;
  const labels = [...new Set(plot.series.map((s) => s.label))];
  const series = { field: 'series', type: 'nominal', title: 'series', sort: labels } as const;
  // Within the palette the colours alone tell the series apart and the spec stays as it was.
  const styled = labels.length > PALETTE.length;
  const styles = labels.map((_, i) => seriesStyle(i));
  const scale = <T>(range: T[]) => ({ domain: labels, range });
  return {
    title: plot.title,
    width: 520,
    height: 300,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: !manyPoints, clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: plot.xLabel, scale: plot.xLog ? { type: 'log' } : { zero: false } },
      y: { field: 'y', type: 'quantitative', title: plot.yLabel, scale: plot.yLog ? { type: 'log' } : { zero: false } },
      color: styled ? { ...series, scale: scale(styles.map((s) => s.color)) } : { ...series },
      ...(styled ? { strokeDash: { ...series, scale: scale(styles.map((s) => s.dash)) } } : {}),
      // A line mark drops a shape encoding (with a warning) unless its points are drawn.
      ...(styled && !manyPoints ? { shape: { ...series, scale: scale(styles.map((s) => s.shape)) } } : {}),
      order: { field: 'x', type: 'quantitative' },
    },
    // Longer legend strokes where the legend shows dash patterns, so a pattern is visible.
    config: { font: 'sans-serif', legend: { labelLimit: 480, ...(styled && manyPoints ? { symbolSize: 400 } : {}) } },
  };
}

export async function plotSvg(plot: Plot): Promise<string> {
  const view = new vega.View(vega.parse(compile(plotSpec(plot)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
