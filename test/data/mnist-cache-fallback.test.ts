/**
 * loadMnist / loadFashionMnist when the cache cannot be written (issue 14, D13): the data
 * converted, so it is returned from memory with one `loadMnist:` warning on stderr; failures
 * that are real (the package files) name the loader and the path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { loadMnist } from '../../src/data/mnist.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-mnist-fallback-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A fake `mnist` package: one flat digit per class, values in [0, 1]. */
const pkg = join(tmp, 'fake-mnist');
mkdirSync(join(pkg, 'src', 'digits'), { recursive: true });
for (let c = 0; c < 10; c++) {
  writeFileSync(join(pkg, 'src', 'digits', `${c}.json`), JSON.stringify({ data: Array.from({ length: 784 }, (_, k) => ((c + k) % 10) / 10) }));
}

function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe('loadMnist: an unwritable cache falls back to memory', () => {
  it('cache folder is a file (ENOTDIR): data returned, warned once', () => {
    const notADir = join(tmp, 'a-file');
    writeFileSync(notADir, 'x');
    const err = captureStderr();
    const ds = loadMnist({ packageDir: pkg, cacheDir: notADir });
    expect(ds.length).toBe(10);
    expect(ds.labels[3]).toBe(3);
    expect(ds.loadInfo?.cached).toBe(false);
    loadMnist({ packageDir: pkg, cacheDir: notADir });
    const warnings = err.filter((l) => l.startsWith('loadMnist:'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain(notADir);
  });

  it('cache path occupied by a non-empty directory (EISDIR): data returned', () => {
    const cacheDir = join(tmp, 'occupied');
    mkdirSync(join(cacheDir, 'mnist-v1.bin', 'child'), { recursive: true });
    const err = captureStderr();
    const ds = loadMnist({ packageDir: pkg, cacheDir });
    expect(ds.length).toBe(10);
    expect(ds.loadInfo?.cached).toBe(false);
    expect(err.some((l) => l.startsWith('loadMnist:') && l.includes('mnist-v1.bin'))).toBe(true);
  });

  it('a missing package file is a real error naming the loader and the path', () => {
    const missing = join(tmp, 'no-such-package');
    expect(() => loadMnist({ packageDir: missing, cacheDir: join(tmp, 'c1') })).toThrow(/^loadMnist: cannot read .*no-such-package.*0\.json': no such file/);
    expect(() => loadFashionMnist({ packageDir: missing, cacheDir: join(tmp, 'c2') })).toThrow(/^loadFashionMnist: cannot read .*no-such-package/);
  });
});
