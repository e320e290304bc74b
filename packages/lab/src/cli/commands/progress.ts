/**
 * Progress of `gradscope run` on stderr: an in-place bar with ETA when stderr is a terminal
 * (drawn by the cli-progress package), plain lines otherwise (at most one per 10 % per preset,
 * so logs stay short), nothing when quiet. It only formats RunEvents; the runner decides what
 * happens.
 */
import { SingleBar } from 'cli-progress';
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

/** Receives the runner's events; `stop` removes a bar still drawn (call it when a run fails). */
export interface ProgressReporter {
  (event: RunEvent): void;
  stop(): void;
}

const BAR_STEPS = 1000;

function terminalBar(sink: ProgressSink, tag: string): SingleBar {
  const bar = new SingleBar({
    stream: sink as NodeJS.WritableStream,
    format: `${tag} [{bar}] {percentage}% {duration_formatted} ETA {eta_formatted}  {message}`,
    barCompleteChar: '#',
    barIncompleteChar: '-',
    barsize: 24,
    hideCursor: false,
    clearOnComplete: true,
    // A preset computes synchronously, so the bar is redrawn from update(), not from a timer.
    synchronousUpdate: true,
    etaBuffer: 50,
  });
  bar.start(BAR_STEPS, 0, { message: 'starting' });
  return bar;
}

export function progressReporter(sink: ProgressSink, options: { quiet?: boolean } = {}): ProgressReporter {
  if (options.quiet) return Object.assign(() => {}, { stop() {} });
  const tty = sink.isTTY === true;
  let lastDecile = -1;
  let bar: SingleBar | undefined;
  const clearBar = () => {
    bar?.stop();
    bar = undefined;
  };
  const report = (event: RunEvent) => {
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
          bar ??= terminalBar(sink, tag);
          bar.update(Math.round(event.fraction * BAR_STEPS), { message: event.message });
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
  return Object.assign(report, { stop: clearBar });
}
