/**
 * CSV files of the report (RFC 4180: comma-separated, double quotes around fields that need
 * them, header row). Non-finite numbers are written as NaN, Infinity, -Infinity; a field with no
 * value (a series without a band, a run without a metric) is empty.
 */
import type { TaskPlacement } from '../../experiments/placement.js';
import type { ClaimPart, Plot, RunRecord } from '../../experiments/preset.js';

function field(v: string | number | boolean): string {
  const s = String(v); // String(NaN) = "NaN", String(Infinity) = "Infinity"
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rows(lines: (string | number | boolean)[][]): string {
  return lines.map((l) => l.map(field).join(',')).join('\n') + '\n';
}

/**
 * One row per point: series, <xLabel>, <yLabel> (long format, so series may have different x).
 * Where any series has a band (an interval around its line), two more columns, `band lower` and
 * `band upper`, hold it; they are empty for the series without one.
 */
export function plotCsv(plot: Plot): string {
  const banded = plot.series.some((s) => s.band !== undefined);
  const header = ['series', plot.xLabel, plot.yLabel, ...(banded ? ['band lower', 'band upper'] : [])];
  const lines: (string | number)[][] = [header];
  for (const s of plot.series) {
    for (let i = 0; i < s.x.length; i++) {
      const band = banded ? [s.band?.lower[i] ?? '', s.band?.upper[i] ?? ''] : [];
      lines.push([s.label, s.x[i]!, s.y[i]!, ...band]);
    }
  }
  return rows(lines);
}

/** One row per run: id, diverged, every config key (config.*), every metric (metric.*). */
export function runsCsv(runs: readonly RunRecord[]): string {
  const configKeys = [...new Set(runs.flatMap((r) => Object.keys(r.config)))];
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
  const header = ['id', 'diverged', ...configKeys.map((k) => `config.${k}`), ...metricKeys.map((k) => `metric.${k}`)];
  const lines: (string | number | boolean)[][] = [header];
  for (const r of runs) {
    const config = configKeys.map((k) => r.config[k] ?? '');
    lines.push([r.id, r.diverged, ...config, ...metricKeys.map((k) => r.metrics[k] ?? '')]);
  }
  return rows(lines);
}

/**
 * One row per claim part, in the report table's order: id, claim, effect label, effect, the
 * interval's lower and upper ends, p, α, n, verdict, test and detail — the table as data.
 */
export function claimsCsv(parts: readonly ClaimPart[]): string {
  const header = ['id', 'claim', 'effect label', 'effect', 'interval lower', 'interval upper', 'p', 'alpha', 'n'];
  const lines: (string | number)[][] = [[...header, 'verdict', 'test', 'detail']];
  for (const c of parts) {
    lines.push([c.id, c.claim, c.effectLabel, c.effect, c.interval[0], c.interval[1], c.p, c.alpha, c.n]);
    lines[lines.length - 1]!.push(c.verdict, c.test, c.detail);
  }
  return rows(lines);
}

/**
 * One row per task, in task order: where it ran (results.json's `placement`, placement.ts) —
 * task, key, via, host, pid, thread, job, attempts, resumed. Thread, job and attempts are empty
 * where not known (a thread pool's thread; job and attempts off the queue).
 */
export function placementCsv(placement: readonly TaskPlacement[]): string {
  const lines: (string | number | boolean)[][] = [
    ['task', 'key', 'via', 'host', 'pid', 'thread', 'job', 'attempts', 'resumed'],
  ];
  for (const p of placement) {
    const known = [p.thread ?? '', p.job ?? '', p.attempts ?? ''];
    lines.push([p.task, p.key, p.via, p.host, p.pid, ...known, p.resumed === true]);
  }
  return rows(lines);
}
