/**
 * The `gradscope` command as a user runs it (the compiled bin; `npm test` builds first).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['packages/lab/bin/gradscope.js', ...args], { cwd: root, encoding: 'utf8' });

describe('gradscope CLI', () => {
  it('--help lists the commands', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/gradscope oracle \[dir\]/);
    expect(r.stdout).toMatch(/gradscope demo/);
  });

  it('rejects an unknown command with exit code 2', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('oracle ends with the exact summary line and exit code 0', () => {
    const r = run('oracle', 'packages/lab/oracle', '--family', 'ops');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('149 passed, 0 failed, 0 skipped');
  });

  it('oracle runs the conv/pool cases on the GPU.js backend in float32', () => {
    const r = run('oracle', 'packages/lab/oracle', '--family', 'conv_pool', '--dtype', 'float32', '--backend', 'gpu');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('24 passed, 0 failed, 0 skipped');
  });

  it('oracle rejects a bad dtype and a missing directory clearly', () => {
    expect(run('oracle', 'packages/lab/oracle', '--dtype', 'float16').stderr).toMatch(/--dtype must be float64 or float32/);
    expect(run('oracle', 'no/such/dir').stderr).toMatch(/does not exist/);
  });

  it('demo trains and reports a falling loss', () => {
    const r = run('demo');
    expect(r.status).toBe(0);
    const m = r.stdout.match(/loss ([\d.]+) → ([\d.]+), training accuracy ([\d.]+) %/);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeLessThan(Number(m![1]) / 2);
    expect(Number(m![3])).toBeGreaterThan(80);
  });
});
