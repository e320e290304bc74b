/**
 * Where the dataset cache goes (issue 16, item 5): the user's cache folder, never the package's
 * own folder — $GRADSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/gradscope or ~/.cache/gradscope
 * (%LOCALAPPDATA%\gradscope on Windows), else a per-user temp folder, else memory; and a typed
 * error naming the variable when $GRADSCOPE_CACHE_DIR cannot be used.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CacheDirError, loadMnist, resolveCacheDir } from '../../src/data/index.js';
import { ValueError } from '../../src/tensor/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-cache-dir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

let n = 0;
/** A fresh empty folder under the test's temp folder. */
const fresh = (): string => {
  const dir = join(tmp, `d${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
/** A path occupied by a file, so nothing can be created below it (works as root too). */
const aFile = (): string => {
  const file = join(fresh(), 'a-file');
  writeFileSync(file, 'x');
  return file;
};
const posix = process.platform !== 'win32';
const uid = posix ? process.getuid!() : 'user';

describe('resolveCacheDir: the rules in order', () => {
  it('$GRADSCOPE_CACHE_DIR wins over everything, is created, and relative values resolve against the working directory', () => {
    const dir = join(fresh(), 'mine', 'nested');
    const got = resolveCacheDir({ env: { GRADSCOPE_CACHE_DIR: dir, XDG_CACHE_HOME: fresh() }, homedir: fresh(), tmpdir: fresh() });
    expect(got).toEqual({ dir, source: 'GRADSCOPE_CACHE_DIR', usable: true, passedOver: [] });
    expect(statSync(dir).isDirectory()).toBe(true);
    const rel = join('node_modules', '.cache', `gradscope-rel-test-${process.pid}`);
    try {
      expect(resolveCacheDir({ env: { GRADSCOPE_CACHE_DIR: rel } }).dir).toBe(resolve(rel));
    } finally {
      rmSync(resolve(rel), { recursive: true, force: true });
    }
  });

  it('$GRADSCOPE_CACHE_DIR that cannot be used is a CacheDirError naming the variable, not a silent fallback', () => {
    const file = aFile();
    for (const value of [file, join(file, 'below')]) {
      let err: unknown;
      try {
        resolveCacheDir({ env: { GRADSCOPE_CACHE_DIR: value }, homedir: fresh(), tmpdir: fresh(), op: 'loadMnist' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheDirError);
      expect(err).toBeInstanceOf(ValueError);
      const e = err as CacheDirError;
      expect(e.name).toBe('CacheDirError');
      expect(e.variable).toBe('GRADSCOPE_CACHE_DIR');
      expect(e.path).toBe(value);
      expect(e.message).toMatch(/^loadMnist: GRADSCOPE_CACHE_DIR='.*a-file.*' cannot hold the dataset cache: .*not a directory.*unset it/);
    }
  });

  it('$XDG_CACHE_HOME/gradscope when it is absolute; a relative one is ignored (XDG spec) for ~/.cache/gradscope', () => {
    const xdg = fresh();
    const home = fresh();
    expect(resolveCacheDir({ env: { XDG_CACHE_HOME: xdg }, platform: 'linux', homedir: home, tmpdir: fresh() })).toMatchObject({
      dir: join(xdg, 'gradscope'),
      source: 'XDG_CACHE_HOME',
      usable: true,
    });
    const got = resolveCacheDir({ env: { XDG_CACHE_HOME: 'relative/cache' }, platform: 'linux', homedir: home, tmpdir: fresh() });
    expect(got).toMatchObject({ dir: join(home, '.cache', 'gradscope'), source: 'home', usable: true });
    expect(got.passedOver.join()).toMatch(/XDG_CACHE_HOME='relative\/cache' is not an absolute path/);
  });

  it('~/.cache/gradscope without $XDG_CACHE_HOME (macOS too)', () => {
    for (const platform of ['linux', 'darwin'] as const) {
      const home = fresh();
      expect(resolveCacheDir({ env: {}, platform, homedir: home, tmpdir: fresh() })).toMatchObject({ dir: join(home, '.cache', 'gradscope'), source: 'home', usable: true });
      expect(existsSync(join(home, '.cache', 'gradscope'))).toBe(true);
    }
  });

  it('on Windows %LOCALAPPDATA%\\gradscope (XDG_CACHE_HOME is not a Windows convention)', () => {
    const local = fresh();
    expect(resolveCacheDir({ env: { LOCALAPPDATA: local, XDG_CACHE_HOME: fresh() }, platform: 'win32', homedir: fresh(), tmpdir: fresh() })).toMatchObject({
      dir: join(local, 'gradscope'),
      source: 'LOCALAPPDATA',
      usable: true,
    });
  });

  it('falls back to <tmpdir>/gradscope-cache-<uid> (private) when the user cache folder is not writable', () => {
    const t = fresh();
    const got = resolveCacheDir({ env: { XDG_CACHE_HOME: aFile() }, platform: process.platform, homedir: fresh(), tmpdir: t });
    expect(got).toMatchObject({ dir: join(t, `gradscope-cache-${uid}`), source: 'tmp', usable: true });
    expect(got.passedOver.join()).toMatch(/a-file.*gradscope': a file is in the way/);
    if (posix) expect(statSync(got.dir).mode & 0o777).toBe(0o700);
    // Reused on the next call.
    expect(resolveCacheDir({ env: {}, homedir: aFile(), tmpdir: t })).toMatchObject({ dir: got.dir, source: 'tmp', usable: true });
  });

  it.runIf(posix)('refuses a temp folder another user could have planted: wrong owner, group/other-writable, a symlink', () => {
    const noHome = aFile();
    // A folder named for uid 4242 that we (another uid) created stands for one planted by someone else.
    const t1 = fresh();
    const other = resolveCacheDir({ env: {}, homedir: noHome, tmpdir: t1, uid: uid === 4242 ? 4243 : 4242 });
    expect(other.usable).toBe(false);
    expect(other.passedOver.at(-1)).toMatch(/owned by uid \d+, not 424\d/);

    const t2 = fresh();
    mkdirSync(join(t2, `gradscope-cache-${uid}`));
    chmodSync(join(t2, `gradscope-cache-${uid}`), 0o777);
    const open = resolveCacheDir({ env: {}, homedir: noHome, tmpdir: t2 });
    expect(open.usable).toBe(false);
    expect(open.passedOver.at(-1)).toMatch(/writable by other users \(mode 777\)/);

    const t3 = fresh();
    symlinkSync(fresh(), join(t3, `gradscope-cache-${uid}`));
    const link = resolveCacheDir({ env: {}, homedir: noHome, tmpdir: t3 });
    expect(link.usable).toBe(false);
    expect(link.passedOver.at(-1)).toMatch(/symbolic link/);
  });
});

describe('loadMnist uses the user cache folder', () => {
  const pkg = join(tmp, 'fake-mnist');
  mkdirSync(join(pkg, 'src', 'digits'), { recursive: true });
  for (let c = 0; c < 10; c++) {
    writeFileSync(join(pkg, 'src', 'digits', `${c}.json`), JSON.stringify({ data: Array.from({ length: 784 }, (_, k) => ((c * 7 + k) % 10) / 10) }));
  }
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

  it.runIf(posix)('writes to $XDG_CACHE_HOME/gradscope, not below the package, and reads it back', () => {
    const xdg = fresh();
    vi.stubEnv('GRADSCOPE_CACHE_DIR', '');
    vi.stubEnv('XDG_CACHE_HOME', xdg);
    const first = loadMnist({ packageDir: pkg });
    expect(first.loadInfo).toMatchObject({ source: 'converted', cached: true, cachePath: join(xdg, 'gradscope', 'mnist-v1.bin'), cacheDirSource: 'XDG_CACHE_HOME' });
    expect(first.loadInfo!.cachePath.startsWith(repoRoot)).toBe(false);
    const second = loadMnist({ packageDir: pkg });
    expect(second.loadInfo?.source).toBe('cache');
    expect(Array.from(second.labels)).toEqual(Array.from(first.labels));
  });

  it('an unusable $GRADSCOPE_CACHE_DIR fails the load with the typed error', () => {
    vi.stubEnv('GRADSCOPE_CACHE_DIR', aFile());
    expect(() => loadMnist({ packageDir: pkg })).toThrow(CacheDirError);
    expect(() => loadMnist({ packageDir: pkg })).toThrow(/^loadMnist: GRADSCOPE_CACHE_DIR=/);
  });

  it.runIf(posix)('no writable folder at all: the data comes from memory with one warning', () => {
    vi.stubEnv('GRADSCOPE_CACHE_DIR', '');
    vi.stubEnv('XDG_CACHE_HOME', aFile());
    vi.stubEnv('TMPDIR', aFile());
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
      lines.push(String(chunk));
      return true;
    });
    const ds = loadMnist({ packageDir: pkg });
    expect(ds.length).toBe(10);
    expect(ds.loadInfo).toMatchObject({ source: 'converted', cached: false, cacheDirSource: 'tmp' });
    loadMnist({ packageDir: pkg });
    const warnings = lines.filter((l) => l.startsWith('loadMnist: no writable cache folder'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain('GRADSCOPE_CACHE_DIR');
  });

  it.runIf(posix)('the temp fallback is used, and said once, when the user folder is not writable', () => {
    const t = fresh();
    vi.stubEnv('GRADSCOPE_CACHE_DIR', '');
    vi.stubEnv('XDG_CACHE_HOME', aFile());
    vi.stubEnv('TMPDIR', t);
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
      lines.push(String(chunk));
      return true;
    });
    const ds = loadMnist({ packageDir: pkg });
    expect(ds.loadInfo).toMatchObject({ cached: true, cacheDirSource: 'tmp', cachePath: join(t, `gradscope-cache-${uid}`, 'mnist-v1.bin') });
    expect(loadMnist({ packageDir: pkg }).loadInfo?.source).toBe('cache');
    expect(lines.filter((l) => l.includes(`caching datasets in '${join(t, `gradscope-cache-${uid}`)}'`)).length).toBe(1);
  });
});
