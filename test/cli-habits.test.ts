/**
 * The command's habits a user expects from any npm CLI: --version, <command> --help, unknown
 * flags answered with that command's usage; and the report's: a banner saying what a smoke
 * verdict means.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SMOKE_NOTE, reportHtml } from '../packages/lab/src/cli/report/html.js';
import { COMMANDS } from '../packages/lab/src/cli/commands/usage.js';
import { RESULTS_FORMAT, type ResultsFile } from '../packages/lab/src/experiments/runner.js';
import { judged } from './experiments/fixtures/judged.js';
import type { Size } from '../packages/lab/src/experiments/preset.js';

const root = fileURLToPath(new URL('..', import.meta.url));
interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}
// Asynchronous, so the concurrent tests below spawn their commands side by side.
const run = (...args: string[]) =>
  new Promise<Ran>((resolve) => {
    execFile(process.execPath, ['packages/lab/bin/gradscope.js', ...args], { cwd: root, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ status: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

describe.concurrent('gradscope --version', () => {
  it.each(['--version', '-v'])('%s prints the package version alone, exit 0', async (flag) => {
    const r = await run(flag);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('--help mentions --version and <command> --help', async () => {
    const r = await run('--help');
    expect(r.stdout).toMatch(/gradscope --version, -v/);
    expect(r.stdout).toMatch(/gradscope <command> --help, -h/);
  });
});

describe.concurrent('gradscope <command> --help', () => {
  it.each(COMMANDS)('%s --help and -h print that command\'s usage alone, exit 0', async (command) => {
    for (const flag of ['--help', '-h']) {
      const r = await run(command, flag);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.startsWith(`Usage:\n  gradscope ${command}`)).toBe(true);
      // Only this command's section: no other command's usage line.
      for (const other of COMMANDS.filter((c) => c !== command)) expect(r.stdout).not.toContain(`gradscope ${other} `);
      expect(r.stderr).toBe('');
    }
  });

  it('help wins over the other arguments and nothing runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-help-'));
    try {
      const out = join(dir, 'never');
      const r = await run('run', 'demo-sgd', '--out', out, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage:\n {2}gradscope run <preset\|tour>/);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gradscope help <command> is the same page; an unknown topic exits 2', async () => {
    expect((await run('help', 'oracle')).stdout).toBe((await run('oracle', '--help')).stdout);
    const bad = await run('help', 'frobnicate');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^gradscope help: unknown command 'frobnicate'/);
  });
});

describe.concurrent('unknown flags are answered with the command\'s usage', () => {
  it.each(COMMANDS)('%s --frobnicate: the flag named first, then the usage, exit 2', async (command) => {
    const r = await run(command, ...(command === 'oracle' || command === 'report' ? ['packages/lab/oracle'] : command === 'run' ? ['demo-sgd'] : []), '--frobnicate');
    expect(r.status).toBe(2);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`gradscope ${command}: unknown option '--frobnicate'`);
    expect(r.stderr).toContain(`Usage:\n  gradscope ${command}`);
    expect(r.stdout).toBe(''); // nothing ran (demo would print its loss curve)
  });

  it('a short unknown flag, a missing value, a value for a switch and a stray positional are named too', async () => {
    const first = async (...args: string[]) => {
      const r = await run(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/\nUsage:\n {2}gradscope /);
      return r.stderr.split('\n')[0];
    };
    expect(await first('list', '-x')).toBe("gradscope list: unknown option '-x'");
    expect(await first('run', 'demo-sgd', '--out')).toBe("gradscope run: option '--out' needs a value");
    expect(await first('run', 'demo-sgd', '--out', '--force')).toMatch(/^gradscope run: option '--out' needs a value; write --out=VALUE/);
    expect(await first('bench', '--quick=yes')).toBe("gradscope bench: option '--quick' takes no value");
    expect(await first('list', 'extra')).toBe("gradscope list: unexpected argument 'extra' (this command takes none)");
    expect(await first('report')).toMatch(/^gradscope report: expected exactly one directory, e\.g\. gradscope report results; got none/);
  });

  it('an unknown flag in place of a command is called an option, not a command', async () => {
    const r = await run('--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^gradscope: unknown option '--frobnicate'\n/);
  });
});

function results(preset: string, size: Size): ResultsFile {
  return {
    format: RESULTS_FORMAT,
    preset,
    paper: 'A paper',
    claim: 'a claim',
    rule: 'a rule',
    size,
    seeds: [1],
    versions: { gradscope: version, node: process.version },
    date: '2025-01-01T00:00:00.000Z',
    durationSeconds: 1,
    complete: true,
    result: { preset, size, verdict: 'REPRODUCED', verdictDetail: 'd', ...judged('REPRODUCED'), numbers: {}, plots: [], runs: [], checks: {} },
  };
}
const page = (...files: ResultsFile[]) => reportHtml(files.map((r) => ({ results: r, svgs: new Map() })));
const banner = (html: string) => /<p class="banner smoke"[^>]*>(.*?)<\/p>/.exec(html)?.[1];

describe('report: smoke-size banner', () => {
  it('a smoke-size run says at the top that smoke verdicts check mechanics, not the science', () => {
    const html = page(results('toy', 'smoke'));
    expect(SMOKE_NOTE).toMatch(/^Smoke verdicts check mechanics, not the science/);
    expect(banner(html)).toContain('This preset ran at smoke size.');
    expect(banner(html)).toContain('Smoke verdicts check mechanics, not the science');
    // Before the first section, and again inside the smoke section.
    expect(html.indexOf('class="banner smoke"')).toBeLessThan(html.indexOf('<section'));
    expect(html.slice(html.indexOf('<section'))).toContain('<p class="smoke-note">');
  });

  it('a page of full-size runs has no banner; a mixed page names its smoke presets', () => {
    const full = page(results('toy', 'full'));
    expect(full).not.toMatch(/<p class="(banner smoke|smoke-note)"/);
    expect(full).not.toContain('Smoke verdicts');
    const mixed = page(results('big', 'full'), results('small', 'smoke'), results('tiny', 'smoke'));
    expect(banner(mixed)).toContain('small, tiny ran at smoke size.');
    expect(mixed.match(/class="smoke-note"/g)).toHaveLength(2);
    expect(banner(page(results('a', 'smoke'), results('b', 'smoke')))).toContain('Every preset here ran at smoke size.');
  });
});
