/**
 * CSV files of the report (RFC 4180: comma-separated, double quotes around fields that need
 * them, header row). Non-finite numbers are written as NaN, Infinity, -Infinity.
 */
import type { Plot, RunRecord } from '../../experiments/preset.js';

function field(v: string | number | boolean): string {
  const s = String(v); // String(NaN) = "NaN", String(Infinity) = "Infinity"
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rows(lines: (string | number | boolean)[][]): string {
  return lines.map((l) => l.map(field).join(',')).join('\n') + '\n';
}

/** One row per point: series, <xLabel>, <yLabel> (long format, so series may have different x). */
export function plotCsv(plot: Plot): string {
  const lines: (string | number)[][] = [['series', plot.xLabel, plot.yLabel]];
  for (const s of plot.series) for (let i = 0; i < s.x.length; i++) lines.push([s.label, s.x[i]!, s.y[i]!]);
  return rows(lines);
}

/** One row per run: id, diverged, every config key (config.*), every metric (metric.*). */
export function runsCsv(runs: readonly RunRecord[]): string {
  const configKeys = [...new Set(runs.flatMap((r) => Object.keys(r.config)))];
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
  const lines: (string | number | boolean)[][] = [['id', 'diverged', ...configKeys.map((k) => `config.${k}`), ...metricKeys.map((k) => `metric.${k}`)]];
  for (const r of runs) {
    lines.push([r.id, r.diverged, ...configKeys.map((k) => r.config[k] ?? ''), ...metricKeys.map((k) => r.metrics[k] ?? '')]);
  }
  return rows(lines);
}
