/**
 * A report plot as SVG: the Plot becomes a Vega-Lite line chart (labelled axes, a legend from
 * the series labels, log scales where the preset asks) compiled to Vega and rendered headless
 * in Node (`renderer: 'none'` + `toSVG()`: no canvas, no DOM, no network — the data is inline).
 * Non-finite values (NaN marks a diverged run) and, on a log axis, non-positive values are left
 * out of the line rather than drawn.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Plot } from '../../experiments/preset.js';

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
      color: { field: 'series', type: 'nominal', title: 'series', sort: plot.series.map((s) => s.label) },
      order: { field: 'x', type: 'quantitative' },
    },
    config: { font: 'sans-serif', legend: { labelLimit: 480 } },
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
