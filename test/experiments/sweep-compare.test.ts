/**
 * Issue 20, compareResults: two results.json files are the same run when everything but the
 * date, durationSeconds and placement (where each task ran) is equal, numbers bit for bit
 * (NaN equals NaN, −0 differs from 0); the first difference is named by its path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  IGNORED_FIELDS,
  comparePaths,
  compareResults,
  readPlacements,
} from '../../packages/lab/src/experiments/compare.js';

const base = {
  format: 'gradscope-results/1',
  preset: 'p',
  size: 'smoke',
  seeds: [1, 2],
  versions: {
    gradscope: '0.1.0',
    node: 'v20',
    engine: { backend: 'gradscope-cpu', fma: false, defaultDType: 'float32' },
  },
  date: '2026-01-01T00:00:00.000Z',
  durationSeconds: 3.5,
  complete: true,
  result: { numbers: { a: 0.1, nan: 'NaN', inf: 'Infinity', zero: 0 }, runs: [{ id: 'r', metrics: { m: 1.5 } }] },
  placement: [{ task: 't', key: 'k', via: 'local', host: 'h', pid: 1, thread: 0 }],
};
const text = (o: unknown) => JSON.stringify(o);
const edit = (f: (o: any) => void) => {
  const o = structuredClone(base) as any;
  f(o);
  return text(o);
};

describe('compareResults', () => {
  it('ignores exactly the date, the duration and the placement', () => {
    expect(IGNORED_FIELDS).toEqual(['date', 'durationSeconds', 'placement']);
    const moved = edit((o) => {
      o.date = '2027-02-02T00:00:00.000Z';
      o.durationSeconds = 99;
      o.placement = [{ task: 't', key: 'k', via: 'queue', host: 'other', pid: 7, thread: 3, job: 'j', attempts: 2 }];
    });
    expect(compareResults(text(base), moved)).toBeUndefined();
    expect(compareResults(text(base), edit((o) => delete o.placement))).toBeUndefined();
  });

  it('names the first difference by its path, numbers compared bit for bit', () => {
    // The next double above 0.1: one bit apart, and shown so.
    const against = (f: (o: any) => void) => compareResults(text(base), edit(f));
    expect(against((o) => (o.result.numbers.a = 0.1 + 2 ** -56))).toBe('result.numbers.a: 0.1 vs 0.10000000000000002');
    const sum = 0.1 + 0.2;
    expect(against((o) => (o.result.numbers.a = sum))).toBe('result.numbers.a: 0.1 vs 0.30000000000000004');
    expect(against((o) => (o.result.numbers.nan = 0))).toBe('result.numbers.nan: NaN vs 0');
    expect(against((o) => (o.result.numbers.inf = '-Infinity'))).toBe('result.numbers.inf: Infinity vs -Infinity');
    // JSON.stringify writes −0 as 0, so a −0 only appears in a text that spells it.
    const minusZero = text(base).replace('"zero":0', '"zero":-0');
    expect(compareResults(text(base), minusZero)).toBe('result.numbers.zero: 0 vs -0');
    expect(against((o) => (o.result.runs[0].metrics.m = 2))).toBe('result.runs[0].metrics.m: 1.5 vs 2');
    expect(against((o) => o.result.runs.push({ id: 's' }))).toBe('result.runs: 1 entries vs 2');
    expect(against((o) => delete o.result.numbers.a)).toBe('result.numbers.a: 0.1 vs absent');
    expect(against((o) => (o.versions.engine.fma = true))).toBe('versions.engine.fma: false vs true');
    // Only the top-level date is ignored.
    expect(against((o) => (o.result.date = 'x'))).toBe('result.date: absent vs "x"');
  });

  it('reads the placement back, and refuses a malformed one', () => {
    expect(readPlacements(text(base))).toEqual(base.placement);
    expect(readPlacements(edit((o) => delete o.placement))).toEqual([]);
    const moon = edit((o) => (o.placement[0].via = 'moon'));
    expect(() => readPlacements(moon)).toThrow(/placement\[0\] is .*expected \{task, key, via, host, pid/);
  });
});

describe('comparePaths', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gradscope-compare-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const folder = (name: string, files: Record<string, string>) => {
    for (const [preset, t] of Object.entries(files)) {
      mkdirSync(join(tmp, name, preset), { recursive: true });
      writeFileSync(join(tmp, name, preset, 'results.json'), t);
    }
    return join(tmp, name);
  };

  it('compares out folders preset by preset', () => {
    const a = folder('a', { p: text(base), q: text(base) });
    const b = folder('b', { p: edit((o) => (o.date = 'later')), q: text(base) });
    const c = folder('c', { p: text(base), q: edit((o) => (o.seeds = [1])) });
    const d = folder('d', { p: text(base) });
    expect(comparePaths(a, b)).toBeUndefined();
    expect(comparePaths(a, c)).toMatch(/q\/results\.json vs .*c\/q\/results\.json: seeds: 2 entries vs 1$/);
    expect(comparePaths(a, d)).toMatch(/^preset 'q' has results in '.*a' only$/);
    expect(comparePaths(join(a, 'p', 'results.json'), join(c, 'p', 'results.json'))).toBeUndefined();
    const mixed = () => comparePaths(a, join(a, 'p', 'results.json'));
    expect(mixed).toThrow(/must both be results\.json files or both out folders/);
    expect(() => comparePaths(a, join(tmp, 'nowhere'))).toThrow(/compare: '.*nowhere' does not exist/);
  });
});
