/**
 * Small SVG plots with labelled axes (no plotting library: the page stays light and static).
 * Line plots (optionally log-scaled y) and bar plots; every plot has a title, axis labels,
 * tick values, a legend and a text description for screen readers.
 */

const SVG = 'http://www.w3.org/2000/svg';
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
  color?: string;
  /** Draw points only (no line). */
  points?: boolean;
  dashed?: boolean;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Vertical marker lines (e.g. epoch boundaries). */
  vLines?: number[];
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

function frame(options: PlotOptions, xDomain: [number, number], yDomain: [number, number]) {
  const width = options.width ?? 520;
  const height = options.height ?? 300;
  const m = { left: 64, right: 16, top: 30, bottom: 46 };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'plot' });
  svg.append(el('title', {}, options.title));
  const log = options.logY ?? false;
  const ty = (v: number) => (log ? Math.log10(Math.max(v, 1e-300)) : v);
  const [y0, y1] = log ? [Math.log10(yDomain[0]), Math.log10(yDomain[1])] : yDomain;
  const sx = (v: number) => m.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0] || 1)) * (width - m.left - m.right);
  const sy = (v: number) => height - m.bottom - ((ty(v) - y0) / (y1 - y0 || 1)) * (height - m.top - m.bottom);
  svg.append(el('text', { x: width / 2, y: 18, 'text-anchor': 'middle', class: 'plot-title' }, options.title));
  svg.append(el('line', { x1: m.left, y1: height - m.bottom, x2: width - m.right, y2: height - m.bottom, class: 'axis' }));
  svg.append(el('line', { x1: m.left, y1: m.top, x2: m.left, y2: height - m.bottom, class: 'axis' }));
  for (const t of ticks(xDomain[0], xDomain[1])) {
    svg.append(el('line', { x1: sx(t), y1: height - m.bottom, x2: sx(t), y2: height - m.bottom + 4, class: 'axis' }));
    svg.append(el('text', { x: sx(t), y: height - m.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, formatTick(t)));
  }
  const yTicks = log ? ticks(Math.floor(y0), Math.ceil(y1)).filter((e) => Number.isInteger(e) && e >= y0 - 1e-9 && e <= y1 + 1e-9).map((e) => 10 ** e) : ticks(yDomain[0], yDomain[1]);
  for (const t of yTicks) {
    svg.append(el('line', { x1: m.left - 4, y1: sy(t), x2: width - m.right, y2: sy(t), class: 'grid' }));
    svg.append(el('text', { x: m.left - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, formatTick(t)));
  }
  svg.append(el('text', { x: (m.left + width - m.right) / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label' }, options.xLabel));
  svg.append(el('text', { x: 14, y: (m.top + height - m.bottom) / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 14 ${(m.top + height - m.bottom) / 2})` }, options.yLabel + (log ? ' (log scale)' : '')));
  for (const v of options.vLines ?? []) svg.append(el('line', { x1: sx(v), y1: m.top, x2: sx(v), y2: height - m.bottom, class: 'vline' }));
  return { svg, sx, sy, width, m };
}

function legend(svg: SVGSVGElement, names: { name: string; color: string }[], width: number, left: number): void {
  let x = left + 8;
  const g = el('g', { class: 'legend' });
  for (const { name, color } of names) {
    g.append(el('rect', { x, y: 26, width: 10, height: 10, fill: color }));
    g.append(el('text', { x: x + 14, y: 35, class: 'tick' }, name));
    x += 22 + name.length * 6.2;
    if (x > width - 40) break;
  }
  svg.append(g);
}

function extent(values: number[], log: boolean): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (log) return [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo > 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
}

export function linePlot(series: Series[], options: PlotOptions): SVGSVGElement {
  const log = options.logY ?? false;
  const xs = series.flatMap((s) => [...s.x]);
  const ys = series.flatMap((s) => [...s.y]);
  const { svg, sx, sy, width, m } = frame(options, [Math.min(...xs), Math.max(...xs)], extent(ys, log));
  series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length]!;
    const pts = s.x.map((x, i) => [x, s.y[i]!] as const).filter(([, y]) => Number.isFinite(y) && (!log || y > 0));
    if (!s.points && pts.length > 1) {
      const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      svg.append(el('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.8, ...(s.dashed ? { 'stroke-dasharray': '5 3' } : {}) }));
    }
    if (s.points || pts.length <= 30) for (const [x, y] of pts) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: 3, fill: color }));
  });
  legend(svg, series.map((s, k) => ({ name: s.name, color: s.color ?? COLORS[k % COLORS.length]! })), width, m.left);
  return svg;
}

export function barPlot(groups: { name: string; values: readonly number[]; color?: string }[], labels: readonly string[], options: PlotOptions): SVGSVGElement {
  const all = groups.flatMap((g) => [...g.values]);
  const hi = Math.max(...all, 0) * 1.08 || 1;
  const { svg, sy, width, m } = frame({ ...options }, [0, 1], [0, hi]);
  // The x axis is categorical: replace the numeric ticks.
  svg.querySelectorAll('text.tick').forEach((t) => {
    if (Number(t.getAttribute('y')) > (options.height ?? 300) - m.bottom) t.remove();
  });
  const inner = width - m.left - m.right;
  const slot = inner / labels.length;
  const bar = (slot * 0.8) / groups.length;
  labels.forEach((label, i) => {
    groups.forEach((g, k) => {
      const v = g.values[i]!;
      const x = m.left + i * slot + slot * 0.1 + k * bar;
      svg.append(el('rect', { x, y: sy(v), width: bar - 1, height: Math.max(0, sy(0) - sy(v)), fill: g.color ?? COLORS[k % COLORS.length]! }));
    });
    svg.append(el('text', { x: m.left + (i + 0.5) * slot, y: (options.height ?? 300) - m.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, label));
  });
  legend(svg, groups.map((g, k) => ({ name: g.name, color: g.color ?? COLORS[k % COLORS.length]! })), width, m.left);
  return svg;
}
