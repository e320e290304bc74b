/**
 * Progress of `gradscope run` on stderr: an in-place bar with ETA when stderr is a terminal,
 * plain lines otherwise (at most one per 10 % per preset, so logs stay short), nothing when
 * quiet. It only formats RunEvents; the runner decides what happens.
 */
import type { RunEvent } from '../../experiments/runner.js';

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
  columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A bar line such as "[2/3] demo-sgd [#######-------] 50% 3s ETA 3s  seed 2, lr 0.1". */
export function barLine(event: Extract<RunEvent, { kind: 'progress' }>, width = 24): string {
  const filled = Math.round(event.fraction * width);
  const eta = event.fraction > 0 ? (event.elapsedSeconds * (1 - event.fraction)) / event.fraction : Number.NaN;
  return `[${event.index + 1}/${event.total}] ${event.preset} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(event.fraction * 100)).padStart(3)}% ${formatDuration(event.elapsedSeconds)} ETA ${formatDuration(eta)}  ${event.message}`;
}

export function progressReporter(sink: ProgressSink, options: { quiet?: boolean } = {}): (event: RunEvent) => void {
  if (options.quiet) return () => {};
  const tty = sink.isTTY === true;
  let lastDecile = -1;
  let barShown = false;
  const clearBar = () => {
    if (barShown) sink.write('\r\x1b[2K');
    barShown = false;
  };
  return (event) => {
    const tag = `[${event.index + 1}/${event.total}] ${event.preset}`;
    switch (event.kind) {
      case 'start':
        lastDecile = -1;
        sink.write(`${tag}: running (size ${event.size}, seeds ${event.seeds.join(',')})\n`);
        return;
      case 'skip':
        sink.write(`${tag}: skipped — complete results already in ${event.path}\n`);
        return;
      case 'progress': {
        if (tty) {
          const line = barLine(event);
          const cols = sink.columns ?? 100;
          sink.write(`\r\x1b[2K${line.length > cols - 1 ? line.slice(0, cols - 1) : line}`);
          barShown = true;
          return;
        }
        const decile = Math.floor(event.fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          sink.write(`${tag}: ${decile * 10}% after ${formatDuration(event.elapsedSeconds)} (${event.message})\n`);
        }
        return;
      }
      case 'done':
        clearBar();
        sink.write(`${tag}: ${event.verdict} in ${formatDuration(event.seconds)} → ${event.path}\n`);
        return;
    }
  };
}
