/**
 * Issue 20, "the report records where each task ran": results.json's `placement` is validated
 * and kept by parseResults, the page's "Where the tasks ran" counts the tasks per way and per
 * host with the retried, merged and resumed ones, placement.csv lists every task, and a file
 * without a placement (written before it existed) still reports, saying it is not recorded.
 */
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskPlacement } from '../../packages/lab/src/experiments/placement.js';
import { RESULTS_FORMAT, parseResults, stringifyResults } from '../../packages/lab/src/experiments/runner.js';
import type { ResultsFile } from '../../packages/lab/src/experiments/runner.js';
import { placementCsv } from '../../packages/lab/src/cli/report/csv.js';
import { placementSummary, reportHtml } from '../../packages/lab/src/cli/report/html.js';
import { writeReport } from '../../packages/lab/src/cli/report/index.js';
import { judged } from './fixtures/judged.js';

/** A valid results file of a toy preset, with `placement` when given. */
function resultsFile(placement?: TaskPlacement[]): ResultsFile {
  return {
    format: RESULTS_FORMAT,
    preset: 'toy',
    paper: 'A paper',
    claim: 'a claim',
    rule: 'a rule',
    size: 'full',
    seeds: [1, 2, 3],
    versions: { gradscope: '0.0.0', node: process.version },
    date: '2025-01-01T00:00:00.000Z',
    durationSeconds: 1,
    complete: true,
    result: {
      ...{ preset: 'toy', size: 'full', verdict: 'INCONCLUSIVE', verdictDetail: 'd', ...judged() },
      ...{ numbers: {}, plots: [], runs: [], checks: {} },
    },
    ...(placement ? { placement } : {}),
  };
}

const at = (task: string, via: TaskPlacement['via'], host: string, pid: number, extra: Partial<TaskPlacement> = {}) =>
  ({ task, key: `${task}-${pid}-${via}`, via, host, pid, ...extra }) as TaskPlacement;

// Shards 2/3 and 1/3 on two hosts (listed out of order), a stage at merge, a resumed task.
const sharded: TaskPlacement[] = [
  at('train', 'shard 2/3', 'node-b', 20, { thread: 0 }),
  at('train', 'shard 1/3', 'node-a', 10, { thread: 0 }),
  at('train', 'shard 1/3', 'node-a', 10, { thread: 0, resumed: true }),
  at('train', 'shard 10/30', 'node-a', 11),
  at('line', 'merge', 'node-a', 12, { thread: 0 }),
];
// Three queue workers, two on one host; one task retried twice.
const queued: TaskPlacement[] = [
  at('train', 'queue', 'w1', 1, { thread: 1, job: 's.toy.train.a', attempts: 1 }),
  at('train', 'queue', 'w1', 2, { thread: 2, job: 's.toy.train.b', attempts: 3 }),
  at('train', 'queue', 'w2', 3, { thread: 1, job: 's.toy.train.c', attempts: 2 }),
];

describe('results.json: placement', () => {
  const base = JSON.parse(stringifyResults(resultsFile()));
  const parse = (placement: unknown) => parseResults(JSON.stringify({ ...base, placement }));

  it('is kept when present, and absent when the file has none', () => {
    expect(parse(sharded).placement).toEqual(sharded);
    expect(parse(queued).placement).toEqual(queued);
    expect('placement' in parseResults(JSON.stringify(base))).toBe(false);
  });

  it('reserves the plot id placement, whose CSV would overwrite placement.csv (any case)', () => {
    const plot = { id: 'Placement', title: 't', xLabel: 'x', yLabel: 'y', series: [] };
    const text = JSON.stringify({ ...base, result: { ...base.result, plots: [plot] } });
    const reserved = /result\.plots\[0\]\.id 'Placement' is reserved: its CSV would overwrite .*'s placement\.csv/;
    expect(() => parseResults(text)).toThrow(reserved);
  });

  it('is refused, by path, when malformed', () => {
    expect(() => parse({})).toThrow(/^results\.json: placement must be an array of task placements$/);
    const bad = (p: object) => () => parse([queued[0], { ...queued[1], ...p }]);
    const second = /^results\.json: placement\[1\] is .*; expected \{task, key, via, host, pid\[, thread, job/;
    expect(bad({ via: 'moon' })).toThrow(second);
    expect(bad({ via: 'shard 1' })).toThrow(second);
    expect(bad({ pid: '2' })).toThrow(second);
    expect(bad({ attempts: 1.5 })).toThrow(second);
    expect(bad({ resumed: false })).toThrow(second);
    expect(() => parseResults(JSON.stringify({ ...base, placement: [null] }), 'x.json')).toThrow(
      /^x\.json: placement\[0\] is null; expected/,
    );
  });
});

describe('report: where the tasks ran', () => {
  const rows = (html: string) =>
    Object.fromEntries(
      [...html.matchAll(/<tr><th scope="row">([^<]*)<\/th><td>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1], m[2]]),
    );

  it('counts shards in order of k within N, then merge; hosts with their processes; resumed tasks', () => {
    const html = placementSummary(sharded, 'toy');
    expect(html).toContain(
      '<h3>Where the tasks ran (5 tasks; one row per task: <a href="toy/placement.csv">placement.csv</a>)</h3>',
    );
    expect(rows(html)).toEqual({
      how: 'shard 1/3: 2; shard 2/3: 1; shard 10/30: 1; merge: 1',
      host: 'node-a: 4 (3 processes); node-b: 1 (1 process)',
      'retried (queue)': 'none',
      'run at merge': '1 task',
      'resumed from an interrupted run': '1 task',
    });
  });

  it('counts queue tasks per host and the retried ones with their most attempts', () => {
    expect(rows(placementSummary(queued, 'toy'))).toEqual({
      how: 'queue: 3',
      host: 'w1: 2 (2 processes); w2: 1 (1 process)',
      'retried (queue)': '2 tasks, up to 3 attempts',
      'run at merge': 'none',
      'resumed from an interrupted run': 'none',
    });
    const local = [at('train', 'local', 'h&<', 7), at('train', 'local', 'h&<', 7)];
    expect(rows(placementSummary(local, 'toy'))).toMatchObject({ how: 'local: 2', host: 'h&amp;&lt;: 2 (1 process)' });
  });

  it('a file without placement says so, and links no placement.csv', () => {
    const page = reportHtml([{ results: resultsFile(), svgs: new Map() }]);
    expect(page).toContain('<h3>Where the tasks ran</h3>\n<p class="placement">Not recorded in this results.json');
    expect(page).not.toContain('placement.csv');
    const placed = reportHtml([{ results: resultsFile(queued), svgs: new Map() }]);
    expect(placed).toContain('<a href="toy/runs.csv">runs.csv</a>, <a href="toy/claims.csv">claims.csv</a>, ' +
      '<a href="toy/placement.csv">placement.csv</a>');
    // The section closes the preset's section, after every run.
    expect(placed.indexOf('<h3>Runs (')).toBeLessThan(placed.indexOf('<h3>Where the tasks ran ('));
    expect(placed.indexOf('<h3>Where the tasks ran (')).toBeLessThan(placed.indexOf('</section>'));
  });

  it('placement.csv lists every task with its columns, empty where not known', () => {
    expect(placementCsv([...sharded.slice(2, 4), queued[1]!]).split('\n')).toEqual([
      'task,key,via,host,pid,thread,job,attempts,resumed',
      'train,train-10-shard 1/3,shard 1/3,node-a,10,0,,,true',
      'train,train-11-shard 10/30,shard 10/30,node-a,11,,,,false',
      'train,train-2-queue,queue,w1,2,2,s.toy.train.b,3,false',
      '',
    ]);
  });
});

describe('writeReport: placement.csv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-placement-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, file: ResultsFile) => {
    mkdirSync(join(dir, name), { recursive: true });
    const named = { ...file, preset: name, result: { ...file.result, preset: name } };
    writeFileSync(join(dir, name, 'results.json'), stringifyResults(named));
  };

  it('is written beside runs.csv where results.json records the placement, and only there', async () => {
    write('placed', resultsFile(queued));
    write('older', resultsFile());
    const summary = await writeReport(dir);
    expect(summary.files).toContain(join(dir, 'placed', 'placement.csv'));
    expect(readFileSync(join(dir, 'placed', 'placement.csv'), 'utf8')).toBe(placementCsv(queued));
    expect(existsSync(join(dir, 'older', 'placement.csv'))).toBe(false);
    const html = readFileSync(summary.html, 'utf8');
    expect(html).toContain('<td>queue: 3</td>');
    expect(html).toContain('<p class="placement">Not recorded in this results.json');
  });
});
