/**
 * Where the dataset cache lives: the user's cache directory, never the package's own folder
 * (which is read-only in many installs and is wiped by every `npm install`).
 *
 * In order:
 *   1. `$GRADSCOPE_CACHE_DIR` when set (relative values resolve against the working directory).
 *      An explicit request, so a folder that cannot be used is a CacheDirError naming the
 *      variable, not a silent fallback.
 *   2. On Windows `%LOCALAPPDATA%\gradscope`; elsewhere `$XDG_CACHE_HOME/gradscope` when that
 *      variable is an absolute path (the XDG spec says to ignore relative ones), else
 *      `~/.cache/gradscope` (macOS included, as most command-line tools do).
 *   3. When that folder cannot be created or written: `<os.tmpdir()>/gradscope-cache-<uid>`,
 *      created with mode 0700 and used only if it is a real directory owned by this user that
 *      no one else can write (a shared /tmp must not let another user plant cache files:
 *      the SHA-256 in each file detects corruption, not forgery).
 *   4. When even that is unusable, `usable` is false and the loaders keep the data in memory.
 *
 * A folder is "usable" when it exists or can be created (mkdir -p), is a directory, and
 * access(W_OK | X_OK) allows writing into it. The resolution is done at each load (the
 * environment may change between loads); it costs a few system calls.
 */
import { accessSync, constants, lstatSync, mkdirSync, statSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { CacheDirError } from './errors.js';

/** Which rule chose the folder. */
export type CacheDirSource = 'GRADSCOPE_CACHE_DIR' | 'XDG_CACHE_HOME' | 'LOCALAPPDATA' | 'home' | 'tmp';

/** The folder {@link resolveCacheDir} chose for the dataset cache, and why. */
export interface CacheLocation {
  /** The folder (absolute). */
  dir: string;
  /** Which rule chose `dir`: the variable or default it came from, or 'tmp' for the per-user temp fallback. */
  source: CacheDirSource;
  /** False when no folder could be used: nothing is read from or written to `dir`. */
  usable: boolean;
  /** Why the folders before `dir` were passed over (and why `dir` is unusable, when it is). */
  passedOver: string[];
}

/** What resolveCacheDir looks at; every field defaults to the running process. For tests. */
export interface CacheDirEnvironment {
  /** Environment variables read (GRADSCOPE_CACHE_DIR, XDG_CACHE_HOME, LOCALAPPDATA); default process.env. */
  env?: Record<string, string | undefined>;
  /** Platform whose rules apply ('win32' uses LOCALAPPDATA and skips the POSIX ownership checks); default process.platform. */
  platform?: string;
  /** Home directory for `~/.cache/gradscope`; default os.homedir(). */
  homedir?: string;
  /** Parent of the per-user fallback folder `gradscope-cache-<uid>`; default os.tmpdir(). */
  tmpdir?: string;
  /** The user id in the temp folder's name (default: process.getuid(), else the user name). */
  uid?: number | string;
  /** Prefix of error messages (the loader's name). */
  op?: string;
}

/** Why `dir` cannot hold the cache, or null when it can (creating it if needed). */
function unusable(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) return 'not a directory';
    accessSync(dir, constants.W_OK | constants.X_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') return 'a file is in the way (not a directory)';
    if (code === 'EACCES' || code === 'EPERM') return `no permission to write (${code})`;
    if (code === 'EROFS') return 'read-only file system (EROFS)';
    return code ?? (e as Error).message;
  }
}

function currentUid(): number | string {
  if (typeof process.getuid === 'function') return process.getuid();
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_') || 'user';
  } catch {
    return 'user';
  }
}

/**
 * Why the per-user temp folder is unsafe or unusable, or null when it is fine. On POSIX it must
 * be a directory (not a symlink) owned by `uid` with no group/other write permission.
 */
function unsafeTemp(dir: string, uid: number | string, posix: boolean): string | null {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
  try {
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) return 'a symbolic link (refused in a shared temp folder)';
    if (!st.isDirectory()) return 'a file is in the way (not a directory)';
    if (posix && typeof uid === 'number') {
      if (st.uid !== uid) return `owned by uid ${st.uid}, not ${uid} (refused in a shared temp folder)`;
      if ((st.mode & 0o022) !== 0) return `writable by other users (mode ${(st.mode & 0o777).toString(8)})`;
    }
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
  return unusable(dir);
}

/** The dataset cache folder by the rules above; throws CacheDirError when $GRADSCOPE_CACHE_DIR is unusable. */
export function resolveCacheDir(environment: CacheDirEnvironment = {}): CacheLocation {
  const env = environment.env ?? process.env;
  const platform = environment.platform ?? process.platform;
  const prefix = environment.op ? `${environment.op}: ` : '';

  const override = env['GRADSCOPE_CACHE_DIR'];
  if (override) {
    const dir = resolve(override);
    const why = unusable(dir);
    if (why !== null) {
      throw new CacheDirError(
        `${prefix}GRADSCOPE_CACHE_DIR='${override}' cannot hold the dataset cache: '${dir}': ${why}; ` +
          'point it at a writable folder or unset it to use the default cache folder',
        'GRADSCOPE_CACHE_DIR',
        dir,
      );
    }
    return { dir, source: 'GRADSCOPE_CACHE_DIR', usable: true, passedOver: [] };
  }

  const home = environment.homedir ?? safeHomedir();
  let preferred: { dir: string; source: CacheDirSource } | null = null;
  const passedOver: string[] = [];
  if (platform === 'win32') {
    const local = env['LOCALAPPDATA'];
    if (local) preferred = { dir: join(local, 'gradscope'), source: 'LOCALAPPDATA' };
    else if (home) preferred = { dir: join(home, 'AppData', 'Local', 'gradscope'), source: 'home' };
  } else {
    const xdg = env['XDG_CACHE_HOME'];
    if (xdg && isAbsolute(xdg)) preferred = { dir: join(xdg, 'gradscope'), source: 'XDG_CACHE_HOME' };
    else {
      if (xdg) passedOver.push(`XDG_CACHE_HOME='${xdg}' is not an absolute path (ignored, as the XDG spec says)`);
      if (home) preferred = { dir: join(home, '.cache', 'gradscope'), source: 'home' };
    }
  }
  if (preferred) {
    const why = unusable(preferred.dir);
    if (why === null) return { ...preferred, usable: true, passedOver };
    passedOver.push(`'${preferred.dir}': ${why}`);
  } else {
    passedOver.push('no home directory');
  }

  const uid = environment.uid ?? currentUid();
  const dir = join(environment.tmpdir ?? tmpdir(), `gradscope-cache-${uid}`);
  const why = unsafeTemp(dir, uid, platform !== 'win32');
  if (why !== null) passedOver.push(`'${dir}': ${why}`);
  return { dir, source: 'tmp', usable: why === null, passedOver };
}

function safeHomedir(): string | null {
  try {
    return homedir() || null;
  } catch {
    return null;
  }
}
